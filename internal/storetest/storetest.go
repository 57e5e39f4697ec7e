// Package storetest is the conformance suite of the tre.Store port. Every
// adapter runs it (SQLite in its package tests, Cosmos DB against a local
// Cosmos-protocol server), so they keep one behaviour.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// Backend makes fresh, empty backing data for one test and returns a
// function that opens a store on it. Each call of the returned function
// opens a new handle on the same data, so a test can close a store and open
// it again.
type Backend func(t *testing.T) (open func() tre.Store)

// Run runs the whole suite against the adapter that backend opens.
func Run(t *testing.T, backend Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() tre.Store)
	}{
		{"CreateGet", testCreateGet},
		{"Invalid", testInvalid},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"Query", testQuery},
		{"QueryTypedEquality", testQueryTypedEquality},
		{"QueryPage", testQueryPage},
		{"QueryPageEmpty", testQueryPageEmpty},
		{"QueryEach", testQueryEach},
		{"SoftDelete", testSoftDelete},
		{"PartitionedCollection", testPartitioned},
		{"ConcurrentSameETag", testConcurrentSameETag},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"ReopenPersists", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := backend(t)
			tc.fn(t, open)
		})
	}
}

func openStore(t *testing.T, open func() tre.Store) tre.Store {
	t.Helper()
	s := open()
	t.Cleanup(func() { s.Close() })
	return s
}

func doc(t *testing.T, id string, fields map[string]any) tre.Document {
	t.Helper()
	m := map[string]any{"id": id}
	for k, v := range fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	require.NoError(t, err)
	return tre.Document{ID: id, Data: data}
}

func fields(t *testing.T, d tre.Document) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(d.Data, &m))
	return m
}

func requireCode(t *testing.T, err error, code tre.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, tre.ErrorCode(err), "error: %v", err)
}

func testCreateGet(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)

	created, err := s.Create(ctx, tre.Resources, doc(t, "r1", map[string]any{
		"resourceType": "workspace", "properties": map[string]any{"n": 1.5, "s": "x"}, "_etag": "client-supplied",
	}))
	require.NoError(t, err)
	require.Equal(t, "r1", created.ID)
	require.NotEmpty(t, created.ETag)

	got, err := s.Get(ctx, tre.Resources, "r1")
	require.NoError(t, err)
	require.Equal(t, created.ETag, got.ETag)
	m := fields(t, got)
	require.Equal(t, "workspace", m["resourceType"])
	require.Equal(t, map[string]any{"n": 1.5, "s": "x"}, m["properties"])
	require.NotContains(t, m, "_etag", "system fields must not leak into Data")
	require.NotContains(t, m, "_ts")

	_, err = s.Create(ctx, tre.Resources, doc(t, "r1", nil))
	requireCode(t, err, tre.CodeConflict)

	// The same id in another collection is another document.
	_, err = s.Create(ctx, tre.Operations, doc(t, "r1", nil))
	require.NoError(t, err)

	_, err = s.Get(ctx, tre.Resources, "missing")
	requireCode(t, err, tre.CodeNotFound)
}

func testInvalid(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	for name, d := range map[string]tre.Document{
		"slash in id":   doc(t, "a/b", nil),
		"hash in id":    doc(t, "a#b", nil),
		"empty id":      {ID: "", Data: []byte(`{"id":""}`)},
		"id mismatch":   {ID: "a", Data: []byte(`{"id":"b"}`)},
		"not an object": {ID: "a", Data: []byte(`[1,2]`)},
		"not json":      {ID: "a", Data: []byte(`{`)},
	} {
		_, err := s.Create(ctx, tre.Resources, d)
		requireCode(t, err, tre.CodeInvalid)
		_ = name
	}
	_, err := s.Create(ctx, tre.Collection("Nope"), doc(t, "a", nil))
	requireCode(t, err, tre.CodeInvalid)
	_, err = s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{tre.Eq("a'); DROP TABLE x; --", "x")}})
	requireCode(t, err, tre.CodeInvalid)
	_, err = s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{tre.Eq("a", []string{"x"})}})
	requireCode(t, err, tre.CodeInvalid)

	// Nothing was written by the rejected calls.
	all, err := s.Query(ctx, tre.Resources, tre.Query{})
	require.NoError(t, err)
	require.Empty(t, all)
}

func testReplace(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	v1, err := s.Create(ctx, tre.Resources, doc(t, "r", map[string]any{"v": 1}))
	require.NoError(t, err)

	d := doc(t, "r", map[string]any{"v": 2})
	d.ETag = v1.ETag
	v2, err := s.Replace(ctx, tre.Resources, d)
	require.NoError(t, err)
	require.NotEqual(t, v1.ETag, v2.ETag, "every write changes the etag")

	// A stale etag is its own error, distinct from conflict and not found.
	d = doc(t, "r", map[string]any{"v": 3})
	d.ETag = v1.ETag
	_, err = s.Replace(ctx, tre.Resources, d)
	requireCode(t, err, tre.CodePreconditionFailed)
	got, err := s.Get(ctx, tre.Resources, "r")
	require.NoError(t, err)
	require.Equal(t, float64(2), fields(t, got)["v"], "a rejected replace writes nothing")
	require.Equal(t, v2.ETag, got.ETag)

	// No etag: unconditional.
	v3, err := s.Replace(ctx, tre.Resources, doc(t, "r", map[string]any{"v": 4}))
	require.NoError(t, err)
	got, err = s.Get(ctx, tre.Resources, "r")
	require.NoError(t, err)
	require.Equal(t, float64(4), fields(t, got)["v"])
	require.Equal(t, v3.ETag, got.ETag)

	d = doc(t, "missing", nil)
	d.ETag = v3.ETag
	_, err = s.Replace(ctx, tre.Resources, d)
	requireCode(t, err, tre.CodeNotFound)
	_, err = s.Replace(ctx, tre.Resources, doc(t, "missing", nil))
	requireCode(t, err, tre.CodeNotFound)
}

func testDelete(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	v1, err := s.Create(ctx, tre.Resources, doc(t, "r", nil))
	require.NoError(t, err)
	v2, err := s.Replace(ctx, tre.Resources, doc(t, "r", map[string]any{"x": true}))
	require.NoError(t, err)

	requireCode(t, s.Delete(ctx, tre.Resources, "r", v1.ETag), tre.CodePreconditionFailed)
	_, err = s.Get(ctx, tre.Resources, "r")
	require.NoError(t, err, "a rejected delete deletes nothing")

	require.NoError(t, s.Delete(ctx, tre.Resources, "r", v2.ETag))
	_, err = s.Get(ctx, tre.Resources, "r")
	requireCode(t, err, tre.CodeNotFound)
	requireCode(t, s.Delete(ctx, tre.Resources, "r", ""), tre.CodeNotFound)

	// An id can be created again after a delete.
	_, err = s.Create(ctx, tre.Resources, doc(t, "r", nil))
	require.NoError(t, err)
}

// seed stores documents for the query tests and returns nothing: the tests
// compare ids.
func seed(t *testing.T, s tre.Store, c tre.Collection, docs ...tre.Document) {
	t.Helper()
	for _, d := range docs {
		_, err := s.Create(context.Background(), c, d)
		require.NoError(t, err)
	}
}

func ids(t *testing.T, docs []tre.Document, err error) []string {
	t.Helper()
	require.NoError(t, err)
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.ID)
	}
	sort.Strings(out)
	return out
}

func testQuery(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	seed(t, s, tre.Resources,
		doc(t, "ws1", map[string]any{"resourceType": "workspace", "deploymentStatus": "deployed", "isEnabled": true,
			"resourcePath": "/workspaces/ws1", "properties": map[string]any{"size": "small", "n": 3}}),
		doc(t, "ws2", map[string]any{"resourceType": "workspace", "deploymentStatus": "deleted", "isEnabled": false,
			"resourcePath": "/workspaces/ws2", "properties": map[string]any{"size": "large"}}),
		doc(t, "svc1", map[string]any{"resourceType": "workspace-service", "workspaceId": "ws1", "deploymentStatus": "deploying",
			"isEnabled": true, "resourcePath": "/workspaces/ws1/workspace-services/svc1"}),
		doc(t, "ur1", map[string]any{"resourceType": "user-resource", "workspaceId": "ws1", "deploymentStatus": "deployed",
			"isEnabled": true, "resourcePath": "/workspaces/ws1/workspace-services/svc1/user-resources/ur1"}),
		doc(t, "ss1", map[string]any{"resourceType": "shared-service", "resourcePath": "/shared-services/ss1"}),
	)
	seed(t, s, tre.Operations, doc(t, "op1", map[string]any{"resourceType": "workspace"}))

	q := func(conds ...tre.Cond) []string {
		docs, err := s.Query(ctx, tre.Resources, tre.Query{Where: conds})
		return ids(t, docs, err)
	}
	require.Equal(t, []string{"ss1", "svc1", "ur1", "ws1", "ws2"}, q())
	require.Equal(t, []string{"ws1", "ws2"}, q(tre.Eq("resourceType", "workspace")))
	require.Equal(t, []string{"ws1"}, q(tre.Eq("resourceType", "workspace"), tre.Ne("deploymentStatus", "deleted")))
	// Ne counts a missing field as different.
	require.Equal(t, []string{"ss1", "svc1", "ur1", "ws1"}, q(tre.Ne("deploymentStatus", "deleted")))
	require.Equal(t, []string{"svc1", "ur1", "ws1"}, q(tre.Eq("isEnabled", true)))
	require.Equal(t, []string{"ws2"}, q(tre.Eq("isEnabled", false)))
	require.Equal(t, []string{"ws1"}, q(tre.Eq("properties.size", "small")))
	require.Equal(t, []string{"ws1"}, q(tre.Eq("properties.n", 3)))
	require.Equal(t, []string{"svc1", "ws2"}, q(tre.In("deploymentStatus", "deleted", "deploying")))
	require.Equal(t, []string{"ss1", "ur1", "ws1"}, q(tre.NotIn("deploymentStatus", "deleted", "deploying")))
	require.Equal(t, []string{"svc1", "ur1", "ws1"}, q(tre.Prefix("resourcePath", "/workspaces/ws1")))
	require.Equal(t, []string{"svc1", "ur1"}, q(tre.Prefix("resourcePath", "/workspaces/ws1/")))
	require.Equal(t, []string{"svc1", "ur1"}, q(tre.Eq("workspaceId", "ws1")))
	require.Empty(t, q(tre.Eq("workspaceId", "nope")))
	// Ranges: strings byte-wise, numbers by value; other types never match.
	require.Equal(t, []string{"ur1", "ws2"}, q(tre.Ge("resourcePath", "/workspaces/ws1/workspace-services/svc1/")))
	require.Equal(t, []string{"ss1", "svc1", "ur1"}, q(tre.Lt("resourcePath", "/workspaces/ws1/x"), tre.Ne("resourceType", "workspace")))
	require.Equal(t, []string{"svc1", "ur1"}, q(tre.Ge("resourcePath", "/workspaces/ws1/"), tre.Lt("resourcePath", "/workspaces/ws10")))
	require.Equal(t, []string{"ws1"}, q(tre.Ge("properties.n", 3)))
	require.Empty(t, q(tre.Lt("properties.n", 3)))
	require.Empty(t, q(tre.Ge("properties.n", "0")))
	require.Equal(t, []string{"ws1"}, q(tre.Ge("properties.n", 2.5), tre.Lt("properties.n", 3.5)))

	limited, err := s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace")}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, limited, 1)

	// Results carry their etag, equal to a point read's.
	all, err := s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "shared-service")}})
	require.NoError(t, err)
	require.Len(t, all, 1)
	got, err := s.Get(ctx, tre.Resources, "ss1")
	require.NoError(t, err)
	require.Equal(t, got.ETag, all[0].ETag)
	require.NotContains(t, fields(t, all[0]), "_etag")
}

func testQueryTypedEquality(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	seed(t, s, tre.Resources,
		doc(t, "str", map[string]any{"v": "1"}),
		doc(t, "num", map[string]any{"v": 1}),
		doc(t, "bool", map[string]any{"v": true}),
		doc(t, "null", map[string]any{"v": nil}),
	)
	q := func(c tre.Cond) []string {
		docs, err := s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{c}})
		return ids(t, docs, err)
	}
	require.Equal(t, []string{"str"}, q(tre.Eq("v", "1")))
	require.Equal(t, []string{"num"}, q(tre.Eq("v", 1)))
	require.Equal(t, []string{"bool"}, q(tre.Eq("v", true)))
	require.Equal(t, []string{"bool", "null", "num"}, q(tre.Ne("v", "1")))

	// A string that reads as JSON is not the object or array it spells.
	seed(t, s, tre.Resources,
		doc(t, "obj", map[string]any{"w": map[string]any{"a": 1}}),
		doc(t, "objtext", map[string]any{"w": `{"a":1}`}),
		doc(t, "arr", map[string]any{"w": []any{1}}),
		doc(t, "arrtext", map[string]any{"w": `[1]`}),
	)
	require.Equal(t, []string{"objtext"}, q(tre.Eq("w", `{"a":1}`)))
	require.Equal(t, []string{"arrtext"}, q(tre.Eq("w", `[1]`)))
	require.Equal(t, []string{"arrtext"}, q(tre.In("w", `[1]`, "x")))
	require.NotContains(t, q(tre.Ne("w", `{"a":1}`)), "objtext")
	require.Contains(t, q(tre.Ne("w", `{"a":1}`)), "obj")

	// A value spelled with escapes is the value: Ne leaves it out.
	seed(t, s, tre.Resources,
		tre.Document{ID: "escaped", Data: []byte(`{"id":"escaped","x":"d\u0065leted"}`)},
		tre.Document{ID: "plain", Data: []byte(`{"id":"plain","x":"deleted"}`)},
		tre.Document{ID: "other", Data: []byte(`{"id":"other","x":"kept","note":"deleted elsewhere"}`)},
	)
	require.Equal(t, []string{"escaped", "plain"}, q(tre.Eq("x", "deleted")))
	ne := q(tre.Ne("x", "deleted"))
	require.Contains(t, ne, "other")
	require.NotContains(t, ne, "escaped")
	require.NotContains(t, ne, "plain")
}

// testQueryPage: paging returns every matching document exactly once, in
// pages of at most the size asked, whatever is written between pages to
// the documents already seen; tokens are checked.
func testQueryPage(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	var want []string
	for i := range 23 {
		kind := "b"
		if i%2 == 0 {
			kind = "a"
		}
		id := fmt.Sprintf("doc-%02d", i)
		seed(t, s, tre.Resources, doc(t, id, map[string]any{"kind": kind, "n": i}))
		if kind == "a" {
			want = append(want, id)
		}
	}
	q := tre.Query{Where: []tre.Cond{tre.Eq("kind", "a")}}
	var got, order []string
	token, pages := "", 0
	for {
		page, err := s.QueryPage(ctx, tre.Resources, q, 5, token)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Documents), 5)
		for _, d := range page.Documents {
			require.Equal(t, "a", fields(t, d)["kind"])
			require.NotEmpty(t, d.ETag)
			got = append(got, d.ID)
			// A write to a document already returned does not bring it
			// back on a later page.
			_, err := s.Replace(ctx, tre.Resources, doc(t, d.ID, map[string]any{"kind": "a", "n": 100}))
			require.NoError(t, err)
		}
		pages++
		require.Less(t, pages, 20, "paging does not end")
		if page.Next == "" {
			break
		}
		token = page.Next
	}
	order = append(order, got...)
	sort.Strings(got)
	require.Equal(t, want, got, "every matching document exactly once")
	require.GreaterOrEqual(t, pages, 3, "12 documents in pages of 5")

	// The order is kept: paging again gives the same sequence.
	var again []string
	require.NoError(t, tre.QueryEach(ctx, s, tre.Resources, q, 4, func(m *map[string]any) (bool, error) {
		again = append(again, (*m)["id"].(string))
		return true, nil
	}))
	require.Equal(t, order, again)

	_, err := s.QueryPage(ctx, tre.Resources, q, 0, "")
	requireCode(t, err, tre.CodeInvalid)
	_, err = s.QueryPage(ctx, tre.Resources, q, 5, "not a token")
	requireCode(t, err, tre.CodeInvalid)
	_, err = s.QueryPage(ctx, tre.Resources, tre.Query{Where: []tre.Cond{{Path: "bad path!", Op: tre.OpEq, Value: "x"}}}, 5, "")
	requireCode(t, err, tre.CodeInvalid)

	// A collection partitioned otherwise than by id pages too.
	for i := range 7 {
		seed(t, s, tre.ResourceHistory, doc(t, fmt.Sprintf("h-%d", i), map[string]any{"resourceId": fmt.Sprintf("r-%d", i%3)}))
	}
	var hist []string
	require.NoError(t, tre.QueryEach(ctx, s, tre.ResourceHistory, tre.Query{}, 2, func(m *map[string]any) (bool, error) {
		hist = append(hist, (*m)["id"].(string))
		return true, nil
	}))
	sort.Strings(hist)
	require.Equal(t, []string{"h-0", "h-1", "h-2", "h-3", "h-4", "h-5", "h-6"}, hist)
}

// testQueryPageEmpty: nothing matches: one empty last page.
func testQueryPageEmpty(t *testing.T, open func() tre.Store) {
	s := openStore(t, open)
	page, err := s.QueryPage(context.Background(), tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("x", "y")}}, 10, "")
	require.NoError(t, err)
	require.Empty(t, page.Documents)
	require.Empty(t, page.Next)
}

// testQueryEach: the callback can stop the iteration, and its error ends
// it.
func testQueryEach(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	for i := range 9 {
		seed(t, s, tre.Operations, doc(t, fmt.Sprintf("op-%d", i), map[string]any{"n": i}))
	}
	n := 0
	require.NoError(t, tre.QueryEach(ctx, s, tre.Operations, tre.Query{}, 2, func(*map[string]any) (bool, error) {
		n++
		return n < 5, nil
	}))
	require.Equal(t, 5, n)
	boom := tre.Errorf(tre.CodeConflict, "boom")
	err := tre.QueryEach(ctx, s, tre.Operations, tre.Query{}, 2, func(*map[string]any) (bool, error) { return true, boom })
	require.ErrorIs(t, err, boom)
}

// testSoftDelete: resources are never removed, they are marked deleted and
// excluded by the queries the API uses, while a point read still finds them.
func testSoftDelete(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	created, err := s.Create(ctx, tre.Resources, doc(t, "ws", map[string]any{"resourceType": "workspace", "deploymentStatus": "deployed"}))
	require.NoError(t, err)
	active := []tre.Cond{tre.Eq("resourceType", "workspace"), tre.Ne("deploymentStatus", "deleted")}
	docs, err := s.Query(ctx, tre.Resources, tre.Query{Where: active})
	require.Equal(t, []string{"ws"}, ids(t, docs, err))

	d := doc(t, "ws", map[string]any{"resourceType": "workspace", "deploymentStatus": "deleted"})
	d.ETag = created.ETag
	_, err = s.Replace(ctx, tre.Resources, d)
	require.NoError(t, err)

	docs, err = s.Query(ctx, tre.Resources, tre.Query{Where: active})
	require.Empty(t, ids(t, docs, err))
	got, err := s.Get(ctx, tre.Resources, "ws")
	require.NoError(t, err)
	require.Equal(t, "deleted", fields(t, got)["deploymentStatus"])
}

func testPartitioned(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	// History is partitioned by resourceId: it must be present, and there is
	// no point access by id.
	_, err := s.Create(ctx, tre.ResourceHistory, doc(t, "h0", nil))
	requireCode(t, err, tre.CodeInvalid)
	seed(t, s, tre.ResourceHistory,
		doc(t, "h1", map[string]any{"resourceId": "r1", "resourceVersion": 0}),
		doc(t, "h2", map[string]any{"resourceId": "r1", "resourceVersion": 1}),
		doc(t, "h3", map[string]any{"resourceId": "r2", "resourceVersion": 0}),
	)
	docs, err := s.Query(ctx, tre.ResourceHistory, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", "r1")}})
	require.Equal(t, []string{"h1", "h2"}, ids(t, docs, err))
	_, err = s.Get(ctx, tre.ResourceHistory, "h1")
	requireCode(t, err, tre.CodeInvalid)
}

// testConcurrentSameETag: 100 writers race to replace one document, all with
// the etag they read first. Exactly one may win; the rest see a stale etag.
func testConcurrentSameETag(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	v0, err := s.Create(ctx, tre.Resources, doc(t, "hot", map[string]any{"winner": -1}))
	require.NoError(t, err)

	const writers = 100
	var wg sync.WaitGroup
	results := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := doc(t, "hot", map[string]any{"winner": i})
			d.ETag = v0.ETag
			_, results[i] = s.Replace(ctx, tre.Resources, d)
		}()
	}
	wg.Wait()

	winner := -1
	for i, err := range results {
		if err == nil {
			require.Equal(t, -1, winner, "two writers won with the same etag: %d and %d", winner, i)
			winner = i
			continue
		}
		requireCode(t, err, tre.CodePreconditionFailed)
	}
	require.NotEqual(t, -1, winner, "no writer won")
	got, err := s.Get(ctx, tre.Resources, "hot")
	require.NoError(t, err)
	require.Equal(t, float64(winner), fields(t, got)["winner"], "the stored value is the winner's")
}

// testConcurrentReadModifyWrite: 100 writers each add one to a counter with
// read, modify, conditional replace, retrying on a stale etag. No update may
// be lost, and every successful write must have seen the previous one.
func testConcurrentReadModifyWrite(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := openStore(t, open)
	_, err := s.Create(ctx, tre.Resources, doc(t, "counter", map[string]any{"n": 0, "seen": []any{}}))
	require.NoError(t, err)

	const writers = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conflicts int
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ {
				if attempt > 10000 {
					errs <- fmt.Errorf("writer %d: gave up", i)
					return
				}
				cur, err := s.Get(ctx, tre.Resources, "counter")
				if err != nil {
					errs <- err
					return
				}
				var m struct {
					N    int   `json:"n"`
					Seen []int `json:"seen"`
				}
				if err := json.Unmarshal(cur.Data, &m); err != nil {
					errs <- err
					return
				}
				next := doc(t, "counter", map[string]any{"n": m.N + 1, "seen": append(m.Seen, i)})
				next.ETag = cur.ETag
				_, err = s.Replace(ctx, tre.Resources, next)
				if tre.IsCode(err, tre.CodePreconditionFailed) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					errs <- err
				}
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.Get(ctx, tre.Resources, "counter")
	require.NoError(t, err)
	var m struct {
		N    int   `json:"n"`
		Seen []int `json:"seen"`
	}
	require.NoError(t, json.Unmarshal(got.Data, &m))
	require.Equal(t, writers, m.N, "lost updates")
	sort.Ints(m.Seen)
	for i := range writers {
		require.Equal(t, i, m.Seen[i], "every writer's update is in the final document exactly once")
	}
	t.Logf("%d writers, %d stale-etag retries", writers, conflicts)
}

func testReopen(t *testing.T, open func() tre.Store) {
	ctx := context.Background()
	s := open()
	created, err := s.Create(ctx, tre.Resources, doc(t, "keep", map[string]any{"resourceType": "workspace", "n": 42}))
	require.NoError(t, err)
	seed(t, s, tre.ResourceTemplates, doc(t, "tmpl", map[string]any{"name": "base"}))
	require.NoError(t, s.Close())

	s2 := openStore(t, open)
	got, err := s2.Get(ctx, tre.Resources, "keep")
	require.NoError(t, err)
	require.Equal(t, created.ETag, got.ETag)
	require.Equal(t, float64(42), fields(t, got)["n"])
	docs, err := s2.Query(ctx, tre.ResourceTemplates, tre.Query{Where: []tre.Cond{tre.Eq("name", "base")}})
	require.Equal(t, []string{"tmpl"}, ids(t, docs, err))
}
