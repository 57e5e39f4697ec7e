package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func TestEveryCollectionHasItsOwnRange(t *testing.T) {
	seen := map[int64]tre.Collection{}
	for c := range tre.Collections {
		n, ok := collectionRanges[c]
		require.True(t, ok, "collection %s has no rowid range (ranges.go)", c)
		require.Positive(t, n)
		require.NotContains(t, seen, n, "%s and %s share range %d", c, seen[n], n)
		seen[n] = c
	}
}

func rowids(t *testing.T, db *DB, c tre.Collection) []int64 {
	t.Helper()
	rows, err := db.r.Query(`SELECT rowid FROM documents WHERE collection = ? ORDER BY rowid`, string(c))
	require.NoError(t, err)
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	return out
}

// Documents created alternately in two collections get rowids in their
// collection's range, in creation order, so a list of one reads its pages
// only; pages of a query still follow creation order.
func TestDocumentsAreNumberedWithinTheirCollection(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	for i := range 3 {
		for _, c := range []tre.Collection{tre.Resources, tre.Operations} {
			_, err := s.Create(ctx, c, tre.Document{ID: fmt.Sprintf("%s-%d", c, i), Data: []byte(fmt.Sprintf(`{"id":"%s-%d","n":%d}`, c, i, i))})
			require.NoError(t, err)
		}
	}
	first := rangeOf(tre.Resources)
	require.Equal(t, []int64{first + 1, first + 2, first + 3}, rowids(t, s.db, tre.Resources))
	first = rangeOf(tre.Operations)
	require.Equal(t, []int64{first + 1, first + 2, first + 3}, rowids(t, s.db, tre.Operations))

	// Deleting the last reuses nothing out of order: the next follows the
	// one before it.
	require.NoError(t, s.Delete(ctx, tre.Operations, "Operations-2", ""))
	_, err = s.Create(ctx, tre.Operations, tre.Document{ID: "Operations-3", Data: []byte(`{"id":"Operations-3"}`)})
	require.NoError(t, err)
	require.Equal(t, []int64{first + 1, first + 2, first + 3}, rowids(t, s.db, tre.Operations))

	page, err := s.QueryPage(ctx, tre.Resources, tre.Query{}, 2, "")
	require.NoError(t, err)
	require.Equal(t, "Resources-0", page.Documents[0].ID)
	page, err = s.QueryPage(ctx, tre.Resources, tre.Query{}, 2, page.Next)
	require.NoError(t, err)
	require.Len(t, page.Documents, 1)
	require.Equal(t, "Resources-2", page.Documents[0].ID)
}

// A file written before the ranges has its documents moved into them when
// opened, in their order, once.
func TestOldFileIsRenumbered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	require.NoError(t, err)
	_, err = raw.Exec(`CREATE TABLE documents (collection TEXT NOT NULL, id TEXT NOT NULL, etag TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (collection, id))`)
	require.NoError(t, err)
	for i, c := range []tre.Collection{tre.Resources, tre.AuditRecords, tre.Resources, tre.AuditRecords, tre.Resources} {
		_, err = raw.Exec(`INSERT INTO documents (collection, id, etag, data) VALUES (?, ?, 'e', ?)`, string(c), fmt.Sprint(i), fmt.Sprintf(`{"id":"%d"}`, i))
		require.NoError(t, err)
	}
	require.NoError(t, raw.Close())

	for range 2 { // the second open finds it done
		db, err := Open(ctx, dir)
		require.NoError(t, err)
		r := rangeOf(tre.Resources)
		require.Equal(t, []int64{r + 1, r + 3, r + 5}, rowids(t, db, tre.Resources))
		a := rangeOf(tre.AuditRecords)
		require.Equal(t, []int64{a + 2, a + 4}, rowids(t, db, tre.AuditRecords))
		require.NoError(t, db.Close())
	}
}

// A list of active resources of a type is served by the partial index
// documents_live, which holds no deleted resource: its
// deploymentStatus term is not evaluated per row. Without a type the term
// stays condSQL's.
func TestListOfActiveResourcesUsesThePartialIndex(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	plan := func(q tre.Query) string { return queryPlan(t, db, tre.Resources, q, 7) }
	live := tre.Ne("deploymentStatus", "deleted")
	require.Contains(t, plan(tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace"), live}}), "USING INDEX documents_live")
	require.NotContains(t, plan(tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace")}}), "documents_live")
	stmt, _, err := where(tre.Resources, tre.Query{Where: []tre.Cond{live}}, 0)
	require.NoError(t, err)
	require.NotContains(t, stmt, liveTerm)
}

// The indexes of queried fields serve every collection but the audit
// records: a query's literal collection implies their WHERE.
func TestQueriedFieldsUseTheirIndexes(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	plan := func(c tre.Collection, cond tre.Cond) string {
		return queryPlan(t, db, c, tre.Query{Where: []tre.Cond{cond}}, 0)
	}
	require.Contains(t, plan(tre.Operations, tre.Eq("resourceId", "r")), "USING INDEX documents_resource ")
	require.Contains(t, plan(tre.ResourceHistory, tre.Eq("resourceId", "r")), "USING INDEX documents_resource ")
	require.Contains(t, plan(tre.Resources, tre.Eq("workspaceId", "w")), "USING INDEX documents_workspace ")
	require.Contains(t, plan(tre.ResourceTemplates, tre.Eq("resourceType", "workspace")), "USING INDEX documents_type ")
	require.NotContains(t, plan(tre.AuditRecords, tre.Eq("resourceId", "r")), "documents_resource")
}

// Every collection is either in the indexes of queried fields or left out
// on purpose (the audit records).
func TestEveryCollectionIsIndexedOrNot(t *testing.T) {
	want := map[tre.Collection]bool{}
	for c := range tre.Collections {
		if c != tre.AuditRecords {
			want[c] = true
		}
	}
	got := map[tre.Collection]bool{}
	for _, c := range indexed {
		got[c] = true
	}
	require.Equal(t, want, got)
}

// A file made with the first indexes (every collection in them) gets the
// new ones when it opens, and its queries still find its documents.
func TestFileWithTheFirstIndexesGetsTheNewOnes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	require.NoError(t, err)
	st := NewStore(db)
	_, err = st.Create(ctx, tre.Operations, tre.Document{ID: "op1", Data: []byte(`{"id":"op1","resourceId":"r1"}`)})
	require.NoError(t, err)
	_, err = db.w.conn.ExecContext(ctx, `DROP INDEX documents_resource`)
	require.NoError(t, err)
	_, err = db.w.conn.ExecContext(ctx, `CREATE INDEX documents_resource_id ON documents(collection, json_extract(data, '$.resourceId'))`)
	require.NoError(t, err)
	_, err = db.w.conn.ExecContext(ctx, `PRAGMA user_version = 1`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = Open(ctx, dir)
	require.NoError(t, err)
	defer db.Close()
	var names []string
	rows, err := db.r.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'documents' AND name LIKE 'documents_%' ORDER BY name`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"documents_live", "documents_resource", "documents_type", "documents_workspace"}, names)
	docs, err := NewStore(db).Query(ctx, tre.Operations, tre.Query{Where: []tre.Cond{tre.Eq("resourceId", "r1")}})
	require.NoError(t, err)
	require.Len(t, docs, 1)
}

// queryPlan is SQLite's plan of the query where builds, its steps joined.
func queryPlan(t *testing.T, db *DB, c tre.Collection, q tre.Query, after int64) string {
	t.Helper()
	stmt, args, err := where(c, q, after)
	require.NoError(t, err)
	rows, err := db.r.Query(`EXPLAIN QUERY PLAN `+stmt, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		out = append(out, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(out, "; ")
}
