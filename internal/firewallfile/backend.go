// Package firewallfile is the firewall adapter for running on one machine:
// the rule collection groups the firewall service would write to Azure
// Firewall go to a JSON file instead, which enforces nothing but shows
// exactly what Azure would get.
package firewallfile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/tre"
)

// Backend is the firewall port (tre.Firewall) on a JSON file, for running
// without Azure: an operator can read the rules the firewall would have,
// with the owner of each collection. Writes replace the file atomically (temporary file,
// fsync, rename), so a reader never sees half a file. Writers within one
// process are serialised; across processes the firewall service's lease
// does it.
type Backend struct {
	Path string

	mu sync.Mutex
}

var _ tre.Firewall = (*Backend)(nil)

type fileContent struct {
	Groups []tre.RuleCollectionGroup `json:"groups"`
}

// Groups implements tre.Firewall: a missing file is an empty policy.
func (b *Backend) Groups(ctx context.Context) ([]tre.RuleCollectionGroup, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.read()
	if err != nil {
		return nil, err
	}
	return c.Groups, nil
}

// Put implements tre.Firewall.
func (b *Backend) Put(ctx context.Context, g tre.RuleCollectionGroup) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.Check(); err != nil {
		return fmt.Errorf("firewallfile: put %s: %w", g.Name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.read()
	if err != nil {
		return err
	}
	c.Groups = slices.DeleteFunc(c.Groups, func(x tre.RuleCollectionGroup) bool { return strings.EqualFold(x.Name, g.Name) })
	g = g.Clone()
	g.ProvisioningState = ""
	c.Groups = append(c.Groups, g)
	return b.write(c)
}

// Delete implements tre.Firewall.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.read()
	if err != nil {
		return err
	}
	n := len(c.Groups)
	c.Groups = slices.DeleteFunc(c.Groups, func(x tre.RuleCollectionGroup) bool { return strings.EqualFold(x.Name, name) })
	if len(c.Groups) == n {
		return nil
	}
	return b.write(c)
}

func (b *Backend) read() (fileContent, error) {
	var c fileContent
	data, err := os.ReadFile(b.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, tre.WrapError(tre.CodeUnavailable, err, "firewallfile: read %s", b.Path)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, tre.WrapError(tre.CodeUnavailable, err, "firewallfile: %s is not a rules file", b.Path)
	}
	return c, nil
}

func (b *Backend) write(c fileContent) error {
	slices.SortFunc(c.Groups, func(x, y tre.RuleCollectionGroup) int {
		return cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	if c.Groups == nil {
		c.Groups = []tre.RuleCollectionGroup{}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("firewallfile: encode %s: %w", b.Path, err)
	}
	if err := writeFileAtomic(b.Path, append(data, '\n')); err != nil {
		return tre.WrapError(tre.CodeUnavailable, err, "firewallfile: write %s", b.Path)
	}
	return nil
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file: write a temporary file in the same directory, fsync
// it, rename it over path, then fsync the directory so that the rename
// itself survives a crash.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	// Readable by the operator's other tools, like any config file.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
