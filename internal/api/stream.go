package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// stream writes a list answer item by item, {"<key>": [item, ...]}, so a
// long list is never held whole: items go through a buffer to the
// connection as they are encoded. With object set it writes one item,
// {"<key>": item}, as answers of one resource are.
type stream struct {
	w       http.ResponseWriter
	buf     *bufio.Writer
	key     string
	object  bool
	started bool
	n       int
	// scratch is a buffer an item can be built in before raw.
	scratch []byte
	// upgrades remembers, for one answer, the available upgrades of each
	// template version (with its parent service's, for user resources),
	// and their encoding: the resources of a list share a few.
	upgrades map[upgradesKey]knownUpgrades
}

type upgradesKey struct {
	typ                      tre.ResourceType
	name, version, parentSvc string
}

type knownUpgrades struct {
	list    []tre.AvailableUpgrade
	encoded json.RawMessage
}

// availableUpgrades is Resources.AvailableUpgrades of a listed resource
// and its answer's encoding, once per template version of the answer.
func (s *stream) availableUpgrades(ctx context.Context, res Resources, l *lifecycle.Listed) (knownUpgrades, error) {
	key := upgradesKey{l.ResourceType, l.TemplateName, l.TemplateVersion, ""}
	if l.ResourceType == tre.TypeUserResource {
		key.parentSvc = l.ParentWorkspaceServiceID
	}
	if ups, ok := s.upgrades[key]; ok {
		return ups, nil
	}
	list, err := res.AvailableUpgrades(ctx, l.Header())
	if err != nil {
		return knownUpgrades{}, err
	}
	enc, err := json.Marshal(upgradesOf(list))
	if err != nil {
		return knownUpgrades{}, err
	}
	ups := knownUpgrades{list: list, encoded: enc}
	if s.upgrades == nil {
		s.upgrades = map[upgradesKey]knownUpgrades{}
	}
	s.upgrades[key] = ups
	return ups, nil
}

func newStream(w http.ResponseWriter, key string) *stream {
	return &stream{w: w, key: key}
}

func (s *stream) start() {
	if s.started {
		return
	}
	s.started = true
	s.w.Header().Set("Content-Type", "application/json")
	s.w.Header().Set("Cache-Control", "no-store")
	s.w.WriteHeader(http.StatusOK)
	s.buf = bufPool.Get().(*bufio.Writer)
	s.buf.Reset(s.w)
	key, _ := json.Marshal(s.key)
	s.buf.WriteString("{")
	s.buf.Write(key)
	s.buf.WriteString(":")
	if !s.object {
		s.buf.WriteString("[")
	}
}

// item appends one element; a value that does not encode is a bug
// (abort).
func (s *stream) item(v any) {
	s.start()
	b, err := json.Marshal(v)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if s.n > 0 {
		s.buf.WriteByte(',')
	}
	s.buf.Write(b)
	s.n++
}

// raw appends one element already encoded; the stream keeps b as its
// scratch buffer.
func (s *stream) raw(b []byte) {
	s.start()
	if s.n > 0 {
		s.buf.WriteByte(',')
	}
	s.buf.Write(b)
	s.n++
	s.scratch = b
}

// end closes the list, with the continuation token of the next page if
// any, and flushes.
func (s *stream) end(continuation string) {
	s.start()
	if !s.object {
		s.buf.WriteString("]")
	}
	if continuation != "" {
		tok, _ := json.Marshal(continuation)
		s.buf.WriteString(`,"continuation":`)
		s.buf.Write(tok)
	}
	s.buf.WriteString("}\n")
	_ = s.buf.Flush()
	s.release()
}

// bufPool holds the streams' buffers: a 32 KiB buffer allocated per
// answer was most of what answering one resource allocated.
var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// release returns the buffer to the pool.
func (s *stream) release() {
	s.buf.Reset(nil)
	bufPool.Put(s.buf)
	s.buf = nil
}

// fail handles an error in the middle of the answer: before anything was
// written it is returned, to be answered as usual; after, it is logged and
// the connection cut, so that the client sees a truncated answer rather
// than a short list that looks whole.
func (s *stream) fail(r *http.Request, a *API, err error) error {
	if !s.started {
		return err
	}
	a.logError(r, err)
	_ = s.buf.Flush()
	s.release()
	panic(http.ErrAbortHandler)
}
