package armfirewall

import "testing"

// FakeARM lends the in-package ARM fake to the external tests, which run
// the whole control plane on it.
type FakeARM struct{ f *fakeARM }

func NewFakeARM(t *testing.T) FakeARM { return FakeARM{newFakeARM(t)} }

func (x FakeARM) Backend(t *testing.T) *Backend { return x.f.backend(t) }

func (x FakeARM) SetGroup(t *testing.T, name, properties string) { x.f.setGroup(t, name, properties) }

func (x FakeARM) GroupJSON(t *testing.T, name string) string { return x.f.groupJSON(t, name) }

// Writes returns the writes ARM accepted, the most that were in flight at
// once, and the writes that started while another was in flight.
func (x FakeARM) Writes() (writes []string, maxInFlight int, overlaps []string) {
	x.f.do(func(f *fakeARM) {
		writes, maxInFlight, overlaps = append([]string(nil), f.writes...), f.maxInFlight, append([]string(nil), f.overlaps...)
	})
	return writes, maxInFlight, overlaps
}
