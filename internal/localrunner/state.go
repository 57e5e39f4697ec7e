package localrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/tre-go/tre/internal/tre"
)

// record is what the runner keeps about an installation, like Porter's
// installation record: which bundle it runs, whether an install succeeded,
// and the last value of each output.
type record struct {
	Name    string `json:"name"`
	Bundle  string `json:"bundle"`
	Version string `json:"version"`
	// Installed is set by a successful install and kept until uninstall.
	Installed  bool         `json:"installed"`
	LastAction string       `json:"lastAction"`
	LastResult string       `json:"lastResult"` // running, succeeded, failed
	Outputs    []tre.Output `json:"outputs,omitempty"`
}

// Layout of one installation under the state directory:
//
//	installations/<name>/installation.json   the record
//	installations/<name>/home/               HOME of its bundle processes
//	installations/<name>/state/              TRE_LOCAL_STATE_DIR
func (r *Runner) installationDir(name string) string {
	return filepath.Join(r.cfg.StateDir, "installations", name)
}

func (r *Runner) recordPath(name string) string {
	return filepath.Join(r.installationDir(name), "installation.json")
}

// loadRecord returns the installation's record, nil if it has none.
func (r *Runner) loadRecord(name string) (*record, error) {
	b, err := os.ReadFile(r.recordPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("localrunner: installation %s: %w", name, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("localrunner: installation %s: read %s: %w", name, r.recordPath(name), err)
	}
	return &rec, nil
}

// saveRecord writes the record atomically, so that a crash leaves the old
// or the new one.
func (r *Runner) saveRecord(rec *record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("localrunner: installation %s: %w", rec.Name, err)
	}
	path := r.recordPath(rec.Name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("localrunner: installation %s: %w", rec.Name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("localrunner: installation %s: %w", rec.Name, err)
	}
	return nil
}

// locks serialises runs of one installation within this process (the
// processor already serialises them per resource; this keeps a developer's
// direct calls safe too). Entries are never removed: one small channel per
// installation ever run.
type locks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// lock waits for the installation's turn, or for ctx.
func (l *locks) lock(ctx context.Context, name string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]chan struct{}{}
	}
	ch, ok := l.m[name]
	if !ok {
		ch = make(chan struct{}, 1)
		l.m[name] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("localrunner: installation %s: waiting for another run of it: %w", name, ctx.Err())
	}
}

// mergeOutputs returns the outputs of the last runs updated by this run's,
// in the order the bundle declares them (order), as Porter lists an
// installation's outputs.
func mergeOutputs(order []string, old, fresh []tre.Output) []tre.Output {
	byName := map[string]tre.Output{}
	for _, o := range old {
		byName[o.Name] = o
	}
	for _, o := range fresh {
		byName[o.Name] = o
	}
	var out []tre.Output
	for _, name := range order {
		if o, ok := byName[name]; ok {
			out = append(out, o)
			delete(byName, name)
		}
	}
	// Outputs an older version of the bundle declared.
	for _, o := range old {
		if _, ok := byName[o.Name]; ok {
			out = append(out, o)
		}
	}
	return out
}
