package sqlite

import (
	"sync"
	"sync/atomic"

	"github.com/tre-go/tre/internal/tre"
)

// recentDocs holds the documents this database's writer committed lately,
// for transactions run ahead of it (AtomicallyAhead) to read instead of
// asking a reader.
//
// Why: SQLite empties a connection's page cache whenever another
// connection has committed, so a read ahead of the writer went to the file
// for pages read a moment before (about 40 µs a document on the
// development VM, two or three documents per status report). A status
// report reads what the previous report, or the create, has just written.
//
// Only the writer fills it, after its commit, in commit order (a
// transaction's writes are kept aside until then, and dropped with a
// rollback). An entry is stale only if something else wrote the file
// (another process, a migration): a plan's reads are checked against the
// file in the writer's turn anyway, so a stale entry costs one rerun in
// the writer, never a wrong write, and the rerun drops it.
type recentDocs struct {
	mu    sync.Mutex
	m     map[docKey]tre.Document
	bytes int // of the documents' Data
	limit int // bytes; past it, entries go (any, Go's map order)

	hits, misses atomic.Int64
}

// recentLimit bounds recentDocs: 4 MiB is about 1,800 workspaces' operation
// and resource documents (1.5 kB and 0.8 kB).
const recentLimit = 4 << 20

func newRecentDocs(limit int) *recentDocs {
	return &recentDocs{m: map[docKey]tre.Document{}, limit: limit}
}

// get returns k's document as the writer last committed it, if held.
func (r *recentDocs) get(k docKey) (tre.Document, bool) {
	r.mu.Lock()
	d, ok := r.m[k]
	r.mu.Unlock()
	if ok {
		r.hits.Add(1)
	} else {
		r.misses.Add(1)
	}
	return d, ok
}

// drop forgets k (a plan found it stale): always safe.
func (r *recentDocs) drop(k docKey) {
	r.mu.Lock()
	r.remove(k)
	r.mu.Unlock()
}

func (r *recentDocs) remove(k docKey) {
	if d, ok := r.m[k]; ok {
		r.bytes -= len(d.Data)
		delete(r.m, k)
	}
}

// apply records committed writes, in their order.
func (r *recentDocs) apply(ops []recentOp) {
	if len(ops) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range ops {
		r.remove(op.k)
		if op.gone || len(op.doc.Data) > r.limit/16 {
			continue
		}
		r.m[op.k] = op.doc
		r.bytes += len(op.doc.Data)
	}
	for k := range r.m {
		if r.bytes <= r.limit {
			break
		}
		r.remove(k)
	}
}

// recentOp is a document write of the transaction under way: its new state
// (gone: deleted).
type recentOp struct {
	k    docKey
	doc  tre.Document
	gone bool
}

// wrote notes a document write made on the writing connection, for
// recentDocs once the transaction has committed.
func (x runner) wrote(k docKey, doc tre.Document, gone bool) {
	if x.tx {
		x.d.w.recent = append(x.d.w.recent, recentOp{k: k, doc: doc, gone: gone})
	}
}

// undo forgets the writes noted since mark: they were rolled back.
func (w *writer) undo(mark int) {
	clear(w.recent[mark:])
	w.recent = w.recent[:mark]
}

// flushRecent hands the transaction's noted writes to recentDocs if it
// committed, and forgets them.
func (d *DB) flushRecent(committed bool) {
	w := d.w
	if committed {
		d.recent.apply(w.recent)
	}
	w.undo(0)
}
