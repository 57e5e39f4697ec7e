package tre

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionRange(t *testing.T) {
	cases := []struct {
		rng  string
		in   []string
		out  []string
		fail bool
	}{
		{rng: "1.2.3", in: []string{"1.2.3"}, out: []string{"1.2.4", "1.2.3-rc.1", "junk"}},
		{rng: ">=1.0.0 <2.0.0", in: []string{"1.0.0", "1.9.9", "2.0.0-rc.1"}, out: []string{"2.0.0", "0.9.0"}},
		{rng: "<1.0.0 || =3.0.0", in: []string{"0.1.0", "3.0.0"}, out: []string{"1.0.0", "3.0.1"}},
		{rng: ">0.1.0 <=0.2.0", in: []string{"0.2.0", "0.1.1"}, out: []string{"0.1.0", "0.2.1"}},
		{rng: "", fail: true},
		{rng: "~1.2", fail: true},
		{rng: "1.0.0 ||", fail: true},
	}
	for _, c := range cases {
		t.Run(c.rng, func(t *testing.T) {
			r, err := ParseVersionRange(c.rng)
			if c.fail {
				require.Error(t, err)
				require.True(t, IsCode(err, CodeInvalid))
				return
			}
			require.NoError(t, err)
			for _, v := range c.in {
				require.True(t, r.Contains(v), v)
			}
			for _, v := range c.out {
				require.False(t, r.Contains(v), v)
			}
		})
	}
}
