// Package blobtest holds the conformance suite of the airlock's storage
// port (tre.Blobs), run against every adapter, and Fake, an in-memory
// adapter for unit tests, with fault injection. It is imported by tests
// only.
package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Fake is tre.Blobs in memory.
type Fake struct {
	mu         sync.Mutex
	containers map[tre.BlobContainer]map[string][]byte
	// Fail, if set, is called before every operation with its name
	// (create, delete, list, copy, open, sign) and its container (the
	// destination of a copy) and blob; the error it returns is the
	// operation's. Tests inject faults with it.
	Fail func(op string, c tre.BlobContainer, name string) error
	// Calls counts the operations by name.
	Calls map[string]int
}

var _ tre.Blobs = (*Fake)(nil)

// NewFake returns an empty store.
func NewFake() *Fake {
	return &Fake{containers: map[tre.BlobContainer]map[string][]byte{}, Calls: map[string]int{}}
}

func (f *Fake) fail(op string, c tre.BlobContainer, name string) error {
	f.Calls[op]++
	if f.Fail != nil {
		return f.Fail(op, c, name)
	}
	return nil
}

// CreateContainer implements tre.Blobs.
func (f *Fake) CreateContainer(ctx context.Context, c tre.BlobContainer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("create", c, ""); err != nil {
		return err
	}
	if f.containers[c] == nil {
		f.containers[c] = map[string][]byte{}
	}
	return nil
}

// DeleteContainer implements tre.Blobs.
func (f *Fake) DeleteContainer(ctx context.Context, c tre.BlobContainer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("delete", c, ""); err != nil {
		return err
	}
	delete(f.containers, c)
	return nil
}

// List implements tre.Blobs.
func (f *Fake) List(ctx context.Context, c tre.BlobContainer) ([]tre.BlobInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("list", c, ""); err != nil {
		return nil, err
	}
	blobs, ok := f.containers[c]
	if !ok {
		return nil, tre.Errorf(tre.CodeNotFound, "container %s does not exist", c)
	}
	out := make([]tre.BlobInfo, 0, len(blobs))
	for name, data := range blobs {
		out = append(out, tre.BlobInfo{Name: name, Size: int64(len(data))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Copy implements tre.Blobs.
func (f *Fake) Copy(ctx context.Context, from, to tre.BlobContainer, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("copy", to, name); err != nil {
		return err
	}
	data, ok := f.containers[from][name]
	if !ok {
		return tre.Errorf(tre.CodeNotFound, "blob %s/%s does not exist", from, name)
	}
	if f.containers[to] == nil {
		return tre.Errorf(tre.CodeNotFound, "container %s does not exist", to)
	}
	f.containers[to][name] = bytes.Clone(data)
	return nil
}

// Open implements tre.Blobs.
func (f *Fake) Open(ctx context.Context, c tre.BlobContainer, name string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("open", c, name); err != nil {
		return nil, err
	}
	data, ok := f.containers[c][name]
	if !ok {
		return nil, tre.Errorf(tre.CodeNotFound, "blob %s/%s does not exist", c, name)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data))), nil
}

// SignedURL implements tre.Blobs: a URL of the fake host that names the
// permissions and the expiry (nothing serves it).
func (f *Fake) SignedURL(ctx context.Context, c tre.BlobContainer, perm tre.BlobPermissions, expiry time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("sign", c, ""); err != nil {
		return "", err
	}
	q := url.Values{"sp": {Permissions(perm)}, "se": {expiry.UTC().Format(time.RFC3339)}, "sig": {"fake"}}
	return fmt.Sprintf("https://%s.blob.fake.test/%s?%s", c.Account, c.Name, q.Encode()), nil
}

// Ping implements tre.Blobs.
func (f *Fake) Ping(ctx context.Context) error { return nil }

// Permissions spells permissions as a signature's sp field does (in its
// order: read, write, delete, list).
func Permissions(p tre.BlobPermissions) string {
	var b strings.Builder
	if p.Read {
		b.WriteString("r")
	}
	if p.Write {
		b.WriteString("w")
	}
	if p.Delete {
		b.WriteString("d")
	}
	if p.List {
		b.WriteString("l")
	}
	return b.String()
}

// Put stores a blob, creating its container: what a user's upload does.
func (f *Fake) Put(c tre.BlobContainer, name string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers[c] == nil {
		f.containers[c] = map[string][]byte{}
	}
	f.containers[c][name] = bytes.Clone(data)
}

// Get returns a blob's content.
func (f *Fake) Get(c tre.BlobContainer, name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.containers[c][name]
	return bytes.Clone(data), ok
}

// Exists reports whether a container exists.
func (f *Fake) Exists(c tre.BlobContainer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.containers[c]
	return ok
}

// Count returns how many times an operation was called.
func (f *Fake) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Calls[op]
}
