package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/tre-go/tre/internal/tre"
)

// AtomicallyAhead implements tre.Ahead: fn runs first on the readers,
// beside the writer, against a store that records what it reads and
// writes (a plan); the writer's turn then checks the plan's reads and
// applies its writes and sends, running fn again only if a read changed.
//
// The writer is the one thing every write waits for. Run inside it, a
// status update decodes the operation and the resource, recomputes them
// and encodes them again; applied from a plan, the turn is a few lookups
// by primary key and the writes themselves.
func (q *Queue) AtomicallyAhead(ctx context.Context, fn func(ctx context.Context, store tre.Store, sender tre.Sender) error) error {
	if err := q.checkOpen(); err != nil {
		return err
	}
	if err := q.db.checkNotInTx(ctx); err != nil {
		return err
	}
	p := q.plan(ctx, fn)
	if p == nil {
		q.db.ahead.unplanned.Add(1)
	}
	return q.atomically(ctx, p, fn)
}

var _ tre.Ahead = (*Queue)(nil)

// aheadStats counts how transactions run ahead ended.
type aheadStats struct {
	applied   atomic.Int64 // the plan held and was applied (and committed)
	reran     atomic.Int64 // a read had changed: fn ran again in the writer
	unplanned atomic.Int64 // no plan (fn queried or failed): fn ran in the writer
}

// AheadStats counts how the transactions of AtomicallyAhead ended since
// the database opened.
type AheadStats struct {
	// Applied is how many were applied from their plan, fn run once.
	Applied int64
	// Reran is how many found a document they read changed and ran fn
	// again in the writer.
	Reran int64
	// Unplanned is how many had no plan (fn queried or failed) and ran fn
	// again in the writer.
	Unplanned int64
}

// AheadStats returns the counts of AtomicallyAhead's outcomes.
func (q *Queue) AheadStats() AheadStats {
	a := &q.db.ahead
	return AheadStats{Applied: a.applied.Load(), Reran: a.reran.Load(), Unplanned: a.unplanned.Load()}
}

// plan runs fn on committed data and returns what it did, or nil if that
// cannot be applied without running fn again (it queried, failed, or a
// read failed). fn's context is marked as inside a transaction of this
// database, as in the writer: a write through another handle fails the
// same way in both runs.
func (q *Queue) plan(ctx context.Context, fn func(ctx context.Context, store tre.Store, sender tre.Sender) error) *plan {
	p := &plan{reads: map[docKey]*tre.Document{}, writes: map[docKey]*planned{}}
	err := fn(context.WithValue(ctx, txKey{}, q.db), planStore{p: p, base: docs{runner{d: q.db}}}, planSender{q: q, p: p})
	if err != nil || p.unusable {
		return nil
	}
	return p
}

// plan is a transaction run ahead: the documents it read as they were
// (nil: absent), and its writes and sends in order.
type plan struct {
	reads    map[docKey]*tre.Document
	writes   map[docKey]*planned
	order    []docKey // the written keys, in the order planStore.set keeps
	sends    []plannedSend
	unusable bool // fn did something a plan cannot check (a query), or a read failed
}

type docKey struct {
	c  tre.Collection
	id string
}

// planned is a document's state after the plan's writes: gone, or data
// with its new etag; recreated if the plan deleted it and created it
// again (a new rowid, as in the writer: it moves to its collection's end).
type planned struct {
	gone      bool
	recreated bool
	doc       tre.Document
}

type plannedSend struct {
	queue string
	msgs  []tre.Message
	props []string
	now   int64
}

// apply checks, in the writer's transaction, that every document the plan
// read is as it was, and writes and sends what it planned. A written
// document's check is its write's condition (the etag it was read with,
// or, for one read as absent, the unique key the insert would break); the
// others are looked up first. It returns false, having written nothing,
// if one changed, or errAgain if one changed after some writes (the
// caller undoes them).
func (p *plan) apply(ctx context.Context, q *Queue, x runner) (bool, error) {
	for k, was := range p.reads {
		if p.checkedByWrite(k) {
			continue
		}
		var etag string
		err := x.scan(ctx, `SELECT etag FROM documents WHERE collection = ? AND id = ?`, []any{string(k.c), k.id}, &etag)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		if (was == nil) != errors.Is(err, sql.ErrNoRows) || (was != nil && was.ETag != etag) {
			return false, nil
		}
	}
	for i, k := range p.order {
		held, err := p.write(ctx, x, k)
		switch {
		case err != nil:
			return false, err
		case !held && i == 0:
			return false, nil
		case !held:
			return false, errAgain
		}
	}
	for _, s := range p.sends {
		if err := q.send(ctx, x, s.queue, s.msgs, s.props, s.now); err != nil {
			return false, queueUnavailable(fmt.Errorf("sqlite: send to %s: %w", s.queue, err))
		}
	}
	return true, nil
}

// checkedByWrite tells whether writing k checks the plan's read of k: it
// does unless the plan created k and deleted it again (nothing to write).
func (p *plan) checkedByWrite(k docKey) bool {
	w := p.writes[k]
	return w != nil && !(w.gone && p.reads[k] == nil)
}

// write makes a document what the plan left it, on the condition that it
// is as the plan read it (every written key was read first, or assumed
// absent); false if it is not, having written nothing.
func (p *plan) write(ctx context.Context, x runner, k docKey) (bool, error) {
	w, was := p.writes[k], p.reads[k]
	text := padded(k.c, w.doc.Data)
	var res sql.Result
	var err error
	switch {
	case w.gone && was == nil:
		return true, nil // created and deleted by the plan
	case w.gone || w.recreated && was != nil:
		res, err = x.exec(ctx, `DELETE FROM documents WHERE collection = ? AND id = ? AND etag = ?`, string(k.c), k.id, was.ETag)
		if err == nil && !w.gone {
			if n, _ := res.RowsAffected(); n == 1 {
				return p.insert(ctx, x, k, text)
			}
		}
	case was != nil:
		res, err = x.exec(ctx, `UPDATE documents SET etag = ?, data = ? WHERE collection = ? AND id = ? AND etag = ?`,
			w.doc.ETag, text, string(k.c), k.id, was.ETag)
	default:
		return p.insert(ctx, x, k, text)
	}
	if err != nil {
		return false, unavailable(fmt.Errorf("sqlite: apply %s/%s: %w", k.c, k.id, err))
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		x.wrote(k, tre.Document{ID: k.id, ETag: w.doc.ETag, Data: readOnly(text)}, w.gone)
	}
	return n == 1, nil
}

// insert creates k as the plan left it; false if its id is taken (the
// plan read or assumed it absent).
func (p *plan) insert(ctx context.Context, x runner, k docKey, text string) (bool, error) {
	w, first := p.writes[k], rangeOf(k.c)
	_, err := x.exec(ctx, insertDocument, first, first+rangeSize, string(k.c), k.id, w.doc.ETag, text)
	switch {
	case isUniqueViolation(err):
		return false, nil
	case err != nil:
		return false, unavailable(fmt.Errorf("sqlite: apply %s/%s: %w", k.c, k.id, err))
	}
	x.wrote(k, tre.Document{ID: k.id, ETag: w.doc.ETag, Data: readOnly(text)}, false)
	return true, nil
}

// forget drops the plan's reads from the recent documents: one of them
// was stale.
func (p *plan) forget(r *recentDocs) {
	for k := range p.reads {
		r.drop(k)
	}
}

// planStore is the store fn gets ahead of the writer: reads come from the
// plan's writes, then from the plan's earlier reads, then from the
// database (and are recorded); writes go to the plan, checked as the
// writer would check them against what the plan has read.
type planStore struct {
	p    *plan
	base docs
}

var _ tre.Store = planStore{}

// current is the document as fn sees it now: nil if absent.
func (s planStore) current(ctx context.Context, k docKey) (*tre.Document, error) {
	if w, ok := s.p.writes[k]; ok {
		if w.gone {
			return nil, nil
		}
		return &w.doc, nil
	}
	if d, ok := s.p.reads[k]; ok {
		return d, nil
	}
	if d, ok := s.base.x.d.recent.get(k); ok {
		s.p.reads[k] = &d
		return &d, nil
	}
	d, err := s.base.lookup(ctx, k.c, k.id)
	switch {
	case tre.IsCode(err, tre.CodeNotFound):
		s.p.reads[k] = nil
		return nil, nil
	case err != nil:
		s.p.unusable = true
		return nil, err
	}
	s.p.reads[k] = &d
	return &d, nil
}

// set records a document's new state. The written keys are applied in
// the order of their creation, if created, else of their first write:
// a created document's rowid comes after those created before it.
func (s planStore) set(k docKey, w *planned, created bool) {
	if _, ok := s.p.writes[k]; ok && created {
		s.p.order = slices.DeleteFunc(s.p.order, func(o docKey) bool { return o == k })
	}
	if _, ok := s.p.writes[k]; !ok || created {
		s.p.order = append(s.p.order, k)
	}
	s.p.writes[k] = w
}

// assumeFree is current for a create: a document neither read nor written
// nor among the recent ones is assumed absent, without a lookup (a new id,
// in practice). The plan's insert checks it: a taken id makes fn run again
// in the writer, which answers the conflict.
func (s planStore) assumeFree(ctx context.Context, k docKey) (*tre.Document, error) {
	_, written := s.p.writes[k]
	_, read := s.p.reads[k]
	if written || read {
		return s.current(ctx, k)
	}
	if d, ok := s.base.x.d.recent.get(k); ok {
		s.p.reads[k] = &d
		return &d, nil
	}
	s.p.reads[k] = nil
	return nil, nil
}

func (s planStore) Create(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	k := docKey{c, doc.ID}
	cur, err := s.assumeFree(ctx, k)
	if err != nil {
		return tre.Document{}, err
	}
	if cur != nil {
		return tre.Document{}, tre.Errorf(tre.CodeConflict, "%s %s already exists", c, doc.ID)
	}
	out := tre.Document{ID: doc.ID, ETag: newETag(), Data: data}
	prev := s.p.writes[k]
	s.set(k, &planned{doc: out, recreated: prev != nil && (prev.gone || prev.recreated)}, true)
	return out, nil
}

func (s planStore) Get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	cur, err := s.current(ctx, docKey{c, id})
	if err != nil {
		return tre.Document{}, err
	}
	if cur == nil {
		return tre.Document{}, tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	return *cur, nil
}

// held checks a conditional write's etag against the document as fn sees
// it, with the errors docs.conditional gives.
func (s planStore) held(ctx context.Context, k docKey, etag string) error {
	if err := tre.CheckCollection(k.c, true); err != nil {
		return err
	}
	cur, err := s.current(ctx, k)
	switch {
	case err != nil:
		return err
	case cur == nil:
		return tre.Errorf(tre.CodeNotFound, "%s %s not found", k.c, k.id)
	case etag != "" && etag != cur.ETag:
		return tre.Errorf(tre.CodePreconditionFailed, "%s %s has changed since etag %s was read", k.c, k.id, etag)
	}
	return nil
}

func (s planStore) Replace(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	k := docKey{c, doc.ID}
	if err := s.held(ctx, k, doc.ETag); err != nil {
		return tre.Document{}, err
	}
	out := tre.Document{ID: doc.ID, ETag: newETag(), Data: data}
	prev := s.p.writes[k]
	s.set(k, &planned{doc: out, recreated: prev != nil && prev.recreated}, false)
	return out, nil
}

func (s planStore) Delete(ctx context.Context, c tre.Collection, id, etag string) error {
	k := docKey{c, id}
	if err := s.held(ctx, k, etag); err != nil {
		return err
	}
	s.set(k, &planned{gone: true}, false)
	return nil
}

// errQueried is what a query ahead of the writer answers: its result could
// change without any document it returned changing (one could be added),
// so fn runs again in the writer.
var errQueried = tre.Errorf(tre.CodeUnavailable, "sqlite: a query cannot run ahead of the writer; the transaction runs in it instead")

func (s planStore) Query(context.Context, tre.Collection, tre.Query) ([]tre.Document, error) {
	s.p.unusable = true
	return nil, errQueried
}

func (s planStore) QueryPage(context.Context, tre.Collection, tre.Query, int, string) (tre.Page, error) {
	s.p.unusable = true
	return tre.Page{}, errQueried
}

func (s planStore) Ping(context.Context) error { return nil }

// Close does nothing: the plan ends with AtomicallyAhead.
func (s planStore) Close() error { return nil }

// planSender records sends; they are made in the writer's turn.
type planSender struct {
	q *Queue
	p *plan
}

func (s planSender) Send(_ context.Context, queue string, msgs ...tre.Message) error {
	props, err := s.q.checkSend(queue, msgs)
	if err != nil || len(msgs) == 0 {
		return err
	}
	s.p.sends = append(s.p.sends, plannedSend{queue: queue, msgs: append([]tre.Message(nil), msgs...), props: props, now: s.q.opts.Now().UnixMilli()})
	return nil
}
