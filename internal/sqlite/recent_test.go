package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func openRecent(t *testing.T) (*Store, *Queue) {
	t.Helper()
	db, err := Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	q := NewQueue(db, QueueOptions{})
	t.Cleanup(func() {
		q.Close()
		db.Close()
	})
	return NewStore(db), q
}

func vDoc(id string, v int) tre.Document {
	return tre.Document{ID: id, Data: []byte(fmt.Sprintf(`{"id":%q,"v":%d}`, id, v))}
}

func vOf(t *testing.T, d tre.Document) int {
	t.Helper()
	var v struct{ V int }
	require.NoError(t, json.Unmarshal(d.Data, &v))
	return v.V
}

// writeBehind writes a document as another process would: straight to the
// file, past the writes the recent documents hear of.
func writeBehind(t *testing.T, d *DB, id string, v int) {
	t.Helper()
	err := d.write(context.Background(), true, func(ctx context.Context, x runner) error {
		doc := vDoc(id, v)
		res, err := x.exec(ctx, `UPDATE documents SET etag = ?, data = ? WHERE collection = ? AND id = ?`, newETag(), string(doc.Data), string(tre.Resources), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			first := rangeOf(tre.Resources)
			_, err = x.exec(ctx, insertDocument, first, first+rangeSize, string(tre.Resources), id, newETag(), string(doc.Data))
		}
		return err
	})
	require.NoError(t, err)
}

// cached is the recent documents' copy of a resource, as "etag v".
func cached(t *testing.T, d *DB, id string) string {
	t.Helper()
	d.recent.mu.Lock()
	doc, ok := d.recent.m[docKey{tre.Resources, id}]
	d.recent.mu.Unlock()
	if !ok {
		return "absent"
	}
	return fmt.Sprint(doc.ETag, " ", vOf(t, doc))
}

// stored is the file's resource, as cached shows it.
func stored(t *testing.T, s *Store, id string) string {
	t.Helper()
	doc, err := s.Get(context.Background(), tre.Resources, id)
	if tre.IsCode(err, tre.CodeNotFound) {
		return "absent"
	}
	require.NoError(t, err)
	return fmt.Sprint(doc.ETag, " ", vOf(t, doc))
}

// TestRecentDocumentsFollowCommits: the recent documents get a write once
// its transaction has committed, and never a write rolled back (a failed
// transaction, or a failed member of a group commit, whose neighbours'
// writes do count).
func TestRecentDocumentsFollowCommits(t *testing.T) {
	ctx := context.Background()
	s, _ := openRecent(t)
	d := s.db
	for _, id := range []string{"a", "b", "c"} {
		_, err := s.Create(ctx, tre.Resources, vDoc(id, 1))
		require.NoError(t, err)
		require.Equal(t, stored(t, s, id), cached(t, d, id), "a create is recent")
	}

	err := d.write(ctx, true, func(ctx context.Context, x runner) error {
		a, err := docs{x}.get(ctx, tre.Resources, "a")
		if err != nil {
			return err
		}
		if _, err := (docs{x}).replace(ctx, tre.Resources, withETagOf(vDoc("a", 99), a)); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	require.EqualError(t, err, "rolled back")
	require.NotEqual(t, "absent", cached(t, d, "a"))
	require.Equal(t, stored(t, s, "a"), cached(t, d, "a"), "a rolled-back write is not recent; the committed one still is")

	<-d.w.turn // busy: the three writes below make one group
	results := make(chan error, 3)
	members := []func(ctx context.Context, x runner) error{
		func(ctx context.Context, x runner) error {
			_, err := docs{x}.replace(ctx, tre.Resources, vDoc("b", 2))
			return err
		},
		func(ctx context.Context, x runner) error {
			if _, err := (docs{x}).replace(ctx, tre.Resources, vDoc("b", 3)); err != nil {
				return err
			}
			return errors.New("the second member fails")
		},
		func(ctx context.Context, x runner) error {
			return docs{x}.delete(ctx, tre.Resources, "c", "")
		},
	}
	for i, fn := range members {
		go func() { results <- d.write(ctx, true, fn) }()
		waitPending(d, i+1)
	}
	d.commitPending()
	d.w.turn <- struct{}{}
	var errs []error
	for range members {
		errs = append(errs, <-results)
	}
	require.ElementsMatch(t, []string{"the second member fails"}, nonNil(errs))
	require.Contains(t, stored(t, s, "b"), " 2")
	require.Equal(t, stored(t, s, "b"), cached(t, d, "b"), "the first member's b, not the failed member's")
	require.Equal(t, "absent", cached(t, d, "c"), "a delete is recent")
	require.Equal(t, "absent", stored(t, s, "c"))
}

func withETagOf(doc, of tre.Document) tre.Document {
	doc.ETag = of.ETag
	return doc
}

// bump is a transaction that adds one to v of each of ids, read first.
func bump(calls *int, ids ...string) func(ctx context.Context, st tre.Store, _ tre.Sender) error {
	return func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		*calls++
		for _, id := range ids {
			doc, err := st.Get(ctx, tre.Resources, id)
			if err != nil {
				return err
			}
			var v struct{ V int }
			if err := json.Unmarshal(doc.Data, &v); err != nil {
				return err
			}
			if _, err := st.Replace(ctx, tre.Resources, withETagOf(vDoc(id, v.V+1), doc)); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestAheadReadsRecentDocuments: a plan reads what the writer committed
// last without a reader; one made stale by a write the recent documents
// did not see (another process) is caught by the writer, fn runs again on
// the file's document, and the next plan holds.
func TestAheadReadsRecentDocuments(t *testing.T) {
	ctx := context.Background()
	s, q := openRecent(t)
	d := s.db
	_, err := s.Create(ctx, tre.Resources, vDoc("a", 1))
	require.NoError(t, err)

	calls := 0
	hits := d.recent.hits.Load()
	require.NoError(t, q.AtomicallyAhead(ctx, bump(&calls, "a")))
	require.Equal(t, AheadStats{Applied: 1}, q.AheadStats())
	require.Equal(t, hits+1, d.recent.hits.Load(), "a was read from the recent documents")

	writeBehind(t, d, "a", 10)
	require.NoError(t, q.AtomicallyAhead(ctx, bump(&calls, "a")))
	require.Equal(t, AheadStats{Applied: 1, Reran: 1}, q.AheadStats(), "the stale copy was caught")
	require.Equal(t, 3, calls)
	require.Contains(t, stored(t, s, "a"), " 11", "fn ran again on the file's document")
	require.Equal(t, stored(t, s, "a"), cached(t, d, "a"), "the rerun's write is recent")

	require.NoError(t, q.AtomicallyAhead(ctx, bump(&calls, "a")))
	require.Equal(t, AheadStats{Applied: 2, Reran: 1}, q.AheadStats())
	require.Contains(t, stored(t, s, "a"), " 12")

	// A stale document the plan only read is dropped when caught.
	_, err = s.Create(ctx, tre.Resources, vDoc("r", 1))
	require.NoError(t, err)
	writeBehind(t, d, "r", 2)
	readR := func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		if _, err := st.Get(ctx, tre.Resources, "r"); err != nil {
			return err
		}
		return bump(&calls, "a")(ctx, st, snd)
	}
	require.NoError(t, q.AtomicallyAhead(ctx, readR))
	require.Equal(t, AheadStats{Applied: 2, Reran: 2}, q.AheadStats())
	require.Equal(t, "absent", cached(t, d, "r"))
	require.NoError(t, q.AtomicallyAhead(ctx, readR))
	require.Equal(t, AheadStats{Applied: 3, Reran: 2}, q.AheadStats(), "r was read from the file")
}

// TestAheadUndoesAPartWrittenPlan: a plan whose second write finds its
// document changed has its first write undone before fn runs again, alone
// (its transaction starts over) or in a group (its savepoint), where the
// other members' writes stand.
func TestAheadUndoesAPartWrittenPlan(t *testing.T) {
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprint("grouped=", grouped), func(t *testing.T) {
			ctx := context.Background()
			s, q := openRecent(t)
			d := s.db
			for _, id := range []string{"a", "b"} {
				_, err := s.Create(ctx, tre.Resources, vDoc(id, 1))
				require.NoError(t, err)
			}
			writeBehind(t, d, "b", 10) // the recent b is stale

			calls := 0
			if !grouped {
				require.NoError(t, q.AtomicallyAhead(ctx, bump(&calls, "a", "b")))
			} else {
				<-d.w.turn
				results := make(chan error, 2)
				go func() { results <- q.AtomicallyAhead(ctx, bump(&calls, "a", "b")) }()
				waitPending(d, 1)
				go func() {
					results <- d.write(ctx, true, func(ctx context.Context, x runner) error {
						_, err := docs{x}.create(ctx, tre.Resources, vDoc("z", 1))
						return err
					})
				}()
				waitPending(d, 2)
				d.commitPending()
				d.w.turn <- struct{}{}
				require.NoError(t, <-results)
				require.NoError(t, <-results)
				require.Contains(t, stored(t, s, "z"), " 1")
			}
			require.Equal(t, 2, calls)
			require.Equal(t, AheadStats{Reran: 1}, q.AheadStats())
			require.Contains(t, stored(t, s, "a"), " 2", "a bumped once: the plan's write was undone")
			require.Contains(t, stored(t, s, "b"), " 11")
			require.Equal(t, stored(t, s, "a"), cached(t, d, "a"))
			require.Equal(t, stored(t, s, "b"), cached(t, d, "b"))
		})
	}
}

// TestAheadCreateAssumesItsIDFree: a create ahead does not look its id up
// (new ids, in practice); an id taken where the recent documents did not
// see it makes fn run again in the writer, which answers the conflict.
func TestAheadCreateAssumesItsIDFree(t *testing.T) {
	ctx := context.Background()
	s, q := openRecent(t)
	d := s.db
	misses := d.recent.misses.Load()
	var answers []string
	fn := func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		return createNoting(ctx, st, vDoc("x", 5), &answers)
	}
	require.NoError(t, q.AtomicallyAhead(ctx, fn))
	require.Equal(t, AheadStats{Applied: 1}, q.AheadStats())
	require.Equal(t, misses+1, d.recent.misses.Load(), "the id was looked for among the recent documents only")

	writeBehind(t, d, "y", 7)
	answers = nil
	fn2 := func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		if _, err := st.Replace(ctx, tre.Resources, vDoc("x", 6)); err != nil {
			return err
		}
		return createNoting(ctx, st, vDoc("y", 8), &answers)
	}
	require.NoError(t, q.AtomicallyAhead(ctx, fn2))
	require.Equal(t, []string{"", string(tre.CodeConflict)}, answers, "ahead the id looked free; the writer found it taken")
	require.Equal(t, AheadStats{Applied: 1, Reran: 1}, q.AheadStats())
	require.Contains(t, stored(t, s, "y"), " 7")
	require.Contains(t, stored(t, s, "x"), " 6", "the rerun's own writes stand, once")
}

// TestStoredTextIsPadded: a document's text is stored padded with spaces
// to a multiple of padTo bytes (an audit record as it is), and read back
// as it was given.
func TestStoredTextIsPadded(t *testing.T) {
	ctx := context.Background()
	s, q := openRecent(t)
	doc := vDoc("a", 1)
	_, err := s.Create(ctx, tre.Resources, doc)
	require.NoError(t, err)
	audit := tre.Document{ID: "rec", Data: []byte(`{"id":"rec","resourceId":"a"}`)}
	_, err = s.Create(ctx, tre.AuditRecords, audit)
	require.NoError(t, err)
	require.NoError(t, q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		_, err := st.Create(ctx, tre.Operations, tre.Document{ID: "op", Data: []byte(`{"id":"op","resourceId":"a"}`)})
		return err
	}))
	for _, c := range []struct {
		c      tre.Collection
		id     string
		padded bool
	}{{tre.Resources, "a", true}, {tre.Operations, "op", true}, {tre.AuditRecords, "rec", false}} {
		var n int
		var raw string
		require.NoError(t, s.db.r.QueryRowContext(ctx, `SELECT length(data), data FROM documents WHERE collection = ? AND id = ?`, string(c.c), c.id).Scan(&n, &raw))
		require.Equal(t, c.padded, n%padTo == 0 && strings.HasSuffix(raw, " "), "%s stored as %q", c.c, raw)
		got, err := s.Get(ctx, c.c, c.id)
		require.NoError(t, err)
		require.Equal(t, strings.TrimRight(raw, " "), string(got.Data))
		require.False(t, strings.HasSuffix(string(got.Data), " "))
	}
	all, err := s.Query(ctx, tre.Resources, tre.Query{})
	require.NoError(t, err)
	require.Equal(t, string(doc.Data), string(all[0].Data))
}

// createNoting creates doc among the resources and notes the answer's code
// in answers; a conflict is an answer, not a failure.
func createNoting(ctx context.Context, st tre.Store, doc tre.Document, answers *[]string) error {
	_, err := st.Create(ctx, tre.Resources, doc)
	*answers = append(*answers, string(tre.ErrorCode(err)))
	if tre.IsCode(err, tre.CodeConflict) {
		return nil
	}
	return err
}
