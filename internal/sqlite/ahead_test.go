package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func valueOf(t *testing.T, d tre.Document) float64 {
	t.Helper()
	var v struct{ V float64 }
	require.NoError(t, json.Unmarshal(d.Data, &v))
	return v.V
}

// TestAheadAppliesItsPlan: run ahead, a transaction's reads, writes and
// sends are applied in the writer without running fn again; the etag fn
// was given is the one stored, and the message is delivered.
func TestAheadAppliesItsPlan(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	_, err := store.Create(ctx, tre.Resources, jsonDoc(t, "a", map[string]any{"v": 1}))
	require.NoError(t, err)

	calls := 0
	var etag string
	err = q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, snd tre.Sender) error {
		calls++
		a, err := st.Get(ctx, tre.Resources, "a")
		if err != nil {
			return err
		}
		out, err := st.Replace(ctx, tre.Resources, withETag(jsonDoc(t, "a", map[string]any{"v": valueOf(t, a) + 1}), a.ETag))
		if err != nil {
			return err
		}
		etag = out.ETag
		if _, err := st.Create(ctx, tre.ResourceHistory, jsonDoc(t, "h1", map[string]any{"resourceId": "a"})); err != nil {
			return err
		}
		return snd.Send(ctx, tre.QueueRequests, tre.Message{SessionID: "s", MessageID: "m1", Body: []byte(`{}`)})
	})
	require.NoError(t, err)
	require.Equal(t, 1, calls)
	require.Equal(t, sqlite.AheadStats{Applied: 1}, q.AheadStats())

	a, err := store.Get(ctx, tre.Resources, "a")
	require.NoError(t, err)
	require.Equal(t, 2.0, valueOf(t, a))
	require.Equal(t, etag, a.ETag)
	hist, err := store.Query(ctx, tre.ResourceHistory, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", "a")}})
	require.NoError(t, err)
	require.Len(t, hist, 1)

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := q.AcceptNextSession(rctx, tre.QueueRequests)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close(ctx)) }()
	msgs, err := s.Receive(rctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "m1", msgs[0].MessageID)
}

// TestAheadRunsAgainWhenAReadChanged: a document written by someone else
// after fn read it ahead makes the writer run fn again, on the new
// document; nothing of the stale plan is written.
func TestAheadRunsAgainWhenAReadChanged(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	_, err := store.Create(ctx, tre.Resources, jsonDoc(t, "a", map[string]any{"v": 1}))
	require.NoError(t, err)

	calls := 0
	err = q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		calls++
		a, err := st.Get(ctx, tre.Resources, "a")
		if err != nil {
			return err
		}
		if calls == 1 {
			// Someone else's write, after the read ahead.
			cur, err := store.Get(context.Background(), tre.Resources, "a")
			if err != nil {
				return err
			}
			if _, err := store.Replace(context.Background(), tre.Resources, withETag(jsonDoc(t, "a", map[string]any{"v": 10}), cur.ETag)); err != nil {
				return err
			}
		}
		_, err = st.Replace(ctx, tre.Resources, withETag(jsonDoc(t, "a", map[string]any{"v": valueOf(t, a) + 1}), a.ETag))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, sqlite.AheadStats{Reran: 1}, q.AheadStats())
	a, err := store.Get(ctx, tre.Resources, "a")
	require.NoError(t, err)
	require.Equal(t, 11.0, valueOf(t, a), "fn ran again on the new document")
}

// TestAheadChecksAbsence: a document fn found missing ahead, created
// meanwhile, makes fn run again.
func TestAheadChecksAbsence(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	calls := 0
	err := q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		calls++
		_, err := st.Get(ctx, tre.Resources, "x")
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			if calls == 1 {
				if _, err := store.Create(context.Background(), tre.Resources, jsonDoc(t, "x", map[string]any{})); err != nil {
					return err
				}
			}
			_, err = st.Create(ctx, tre.Resources, jsonDoc(t, "y", map[string]any{"saw": "no x"}))
			return err
		case err != nil:
			return err
		}
		_, err = st.Create(ctx, tre.Resources, jsonDoc(t, "y", map[string]any{"saw": "x"}))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, int64(1), q.AheadStats().Reran)
	y, err := store.Get(ctx, tre.Resources, "y")
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"y","saw":"x"}`, string(y.Data))
}

// TestAheadQueryOrFailureRunsInTheWriter: fn that queries, or fails, ahead
// has no plan and runs again in the writer, where its outcome is the one
// returned.
func TestAheadQueryOrFailureRunsInTheWriter(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	_, err := store.Create(ctx, tre.Operations, jsonDoc(t, "op1", map[string]any{"resourceId": "r"}))
	require.NoError(t, err)

	var found []int
	err = q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		docs, err := st.Query(ctx, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", "r")}})
		found = append(found, len(docs))
		if err != nil {
			return err
		}
		_, err = st.Create(ctx, tre.Operations, jsonDoc(t, "op2", map[string]any{"resourceId": "r"}))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, found, "ahead the query answered nothing; in the writer it found op1")
	require.Equal(t, sqlite.AheadStats{Unplanned: 1}, q.AheadStats())
	_, err = store.Get(ctx, tre.Operations, "op2")
	require.NoError(t, err)

	boom := errors.New("boom")
	calls := 0
	err = q.AtomicallyAhead(ctx, func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		calls++
		if _, err := st.Create(ctx, tre.Operations, jsonDoc(t, "op3", map[string]any{})); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 2, calls)
	_, err = store.Get(ctx, tre.Operations, "op3")
	require.True(t, tre.IsCode(err, tre.CodeNotFound), "nothing of a failed transaction is written")
}

// TestAheadAnswersAsTheWriter: the store fn gets ahead answers every call
// as the transaction's store does (its own writes seen, conflicts, missing
// documents, stale etags, a collection partitioned by another field), and
// the applied plan leaves the same documents.
func TestAheadAnswersAsTheWriter(t *testing.T) {
	ctx := context.Background()
	script := func(ctx context.Context, st tre.Store) []string {
		var seen []string
		note := func(what string, err error) {
			code := "ok"
			if err != nil {
				code = string(tre.ErrorCode(err))
			}
			seen = append(seen, what+":"+code)
		}
		doc := func(id string, v int) tre.Document {
			return tre.Document{ID: id, Data: []byte(fmt.Sprintf(`{"id":%q,"v":%d,"resourceId":"r"}`, id, v))}
		}
		_, err := st.Create(ctx, tre.Resources, doc("a", 2))
		note("create existing", err)
		a, err := st.Get(ctx, tre.Resources, "a")
		note("get", err)
		_, err = st.Replace(ctx, tre.Resources, withETag(doc("a", 3), "stale"))
		note("replace stale", err)
		a2, err := st.Replace(ctx, tre.Resources, withETag(doc("a", 4), a.ETag))
		note("replace", err)
		_, err = st.Replace(ctx, tre.Resources, withETag(doc("a", 5), a.ETag))
		note("replace with the etag it replaced", err)
		got, err := st.Get(ctx, tre.Resources, "a")
		note("get own write", err)
		seen = append(seen, "same etag:"+fmt.Sprint(got.ETag == a2.ETag), "data:"+string(got.Data))
		note("delete missing", st.Delete(ctx, tre.Resources, "nope", ""))
		note("delete", st.Delete(ctx, tre.Resources, "b", ""))
		_, err = st.Get(ctx, tre.Resources, "b")
		note("get deleted", err)
		_, err = st.Create(ctx, tre.Resources, doc("b", 6))
		note("create deleted", err)
		_, err = st.Create(ctx, tre.Resources, doc("c", 7))
		note("create", err)
		note("delete created", st.Delete(ctx, tre.Resources, "c", ""))
		_, err = st.Replace(ctx, tre.Resources, doc("gone", 8))
		note("replace missing", err)
		_, err = st.Create(ctx, tre.ResourceHistory, doc("h1", 9))
		note("create in a partitioned collection", err)
		_, err = st.Create(ctx, tre.ResourceHistory, doc("h0", 9))
		note("create existing in a partitioned collection", err)
		_, err = st.Get(ctx, tre.ResourceHistory, "h1")
		note("point read of a partitioned collection", err)
		note("delete the first", st.Delete(ctx, tre.Resources, "a", ""))
		_, err = st.Create(ctx, tre.Resources, doc("a", 10))
		note("create the first again", err)
		_, err = st.Create(ctx, tre.Resources, tre.Document{ID: "bad", Data: []byte(`[1]`)})
		note("create malformed", err)
		_, err = st.Create(ctx, tre.Collection("Nope"), doc("d", 1))
		note("unknown collection", err)
		return seen
	}
	run := func(ahead bool) ([]string, map[string]string) {
		store, q := openBoth(t)
		for _, d := range []struct {
			c  tre.Collection
			id string
		}{{tre.Resources, "a"}, {tre.Resources, "b"}, {tre.ResourceHistory, "h0"}} {
			_, err := store.Create(ctx, d.c, jsonDoc(t, d.id, map[string]any{"v": 1, "resourceId": "r"}))
			require.NoError(t, err)
		}
		var seen []string
		fn := func(ctx context.Context, st tre.Store, _ tre.Sender) error {
			seen = script(ctx, st)
			return nil
		}
		if ahead {
			require.NoError(t, q.AtomicallyAhead(ctx, fn))
			require.Equal(t, sqlite.AheadStats{Applied: 1}, q.AheadStats())
		} else {
			require.NoError(t, q.Atomically(ctx, fn))
		}
		state := map[string]string{}
		for _, c := range []tre.Collection{tre.Resources, tre.ResourceHistory} {
			docs, err := store.Query(ctx, c, tre.Query{})
			require.NoError(t, err)
			var order []string // a collection's order: creation, a recreated document last
			for _, d := range docs {
				state[string(c)+"/"+d.ID] = string(d.Data)
				order = append(order, d.ID)
			}
			state[string(c)+" order"] = fmt.Sprint(order)
		}
		return seen, state
	}
	wantSeen, wantState := run(false)
	gotSeen, gotState := run(true)
	require.Equal(t, wantSeen, gotSeen)
	require.Equal(t, wantState, gotState)
	keys := make([]string, 0, len(gotState))
	for k := range gotState {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, []string{"ResourceHistory order", "ResourceHistory/h0", "ResourceHistory/h1", "Resources order", "Resources/a", "Resources/b"}, keys)
	require.Equal(t, "[b a]", gotState["Resources order"], "a, deleted and created again, is last")
}

// TestAheadWriteOutsideFails: fn run ahead that writes through another
// handle of the database fails as it would in the writer (where such a
// write would wait for itself).
func TestAheadWriteOutsideFails(t *testing.T) {
	ctx := context.Background()
	store, q := openBoth(t)
	var errs []error
	err := q.AtomicallyAhead(ctx, func(ctx context.Context, _ tre.Store, _ tre.Sender) error {
		_, err := store.Create(ctx, tre.Resources, jsonDoc(t, "a", map[string]any{}))
		errs = append(errs, err)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, errs, 1, "the plan held: fn ran once")
	require.True(t, tre.IsCode(errs[0], tre.CodeInternal), "%v", errs[0])
}
