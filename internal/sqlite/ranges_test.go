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
	// The indexes of the other fields created after documents_live, as in
	// a file migrated to them: SQLite would take the last created.
	for _, stmt := range []string{`DROP INDEX documents_by_type`, `DROP INDEX documents_by_workspace`,
		`CREATE INDEX documents_by_type ON documents(collection, json_extract(data, '$.resourceType')) WHERE ` + inTerm(typeIndexed),
		`CREATE INDEX documents_by_workspace ON documents(collection, json_extract(data, '$.workspaceId')) WHERE ` + inTerm(workspaceIndexed)} {
		_, err := db.w.conn.ExecContext(context.Background(), stmt)
		require.NoError(t, err)
	}
	require.Contains(t, plan(tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace"), live}}), "USING INDEX documents_live")
	require.NotContains(t, plan(tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace")}}), "documents_live")
	services := tre.Query{Where: []tre.Cond{tre.Eq("resourceType", "workspace-service"), live, tre.Eq("workspaceId", "w")}}
	require.Contains(t, plan(services), "USING INDEX documents_by_workspace (collection=? AND <expr>=?", "the services of one workspace")
	stmt, _, err := where(tre.Resources, tre.Query{Where: []tre.Cond{live}}, 0)
	require.NoError(t, err)
	require.NotContains(t, stmt, liveTerm)
}

// Every query the code makes by an indexed field is served by its index
// (the collections each index holds: store.go, typeIndexed...); a
// collection the code never queries by that field is not in it, nor are
// the audit records.
func TestQueriedFieldsUseTheirIndexes(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	plan := func(c tre.Collection, cond tre.Cond) string {
		return queryPlan(t, db, c, tre.Query{Where: []tre.Cond{cond}}, 0)
	}
	for _, q := range []struct {
		c     tre.Collection
		field string
		index string
	}{
		{tre.Operations, "resourceId", "documents_by_resource"},        // lifecycle views and patch, upgrade
		{tre.ResourceHistory, "resourceId", "documents_by_resource"},   // lifecycle views
		{tre.Resources, "workspaceId", "documents_by_workspace"},       // lists of services and user resources
		{tre.WorkspaceUsers, "workspaceId", "documents_by_workspace"},  // assignment
		{tre.AirlockRequests, "workspaceId", "documents_by_workspace"}, // airlock
		{tre.Resources, "resourceType", "documents_by_type"},           // assignment, shared services, unregister
		{tre.ResourceTemplates, "resourceType", "documents_by_type"},   // registry
		{tre.TemplateNames, "resourceType", "documents_by_type"},       // registry
	} {
		require.Contains(t, plan(q.c, tre.Eq(q.field, "x")), "USING INDEX "+q.index+" ", "%s by %s", q.c, q.field)
	}
	for _, q := range []struct {
		c     tre.Collection
		field string
	}{{tre.AuditRecords, "resourceId"}, {tre.AuditRecords, "workspaceId"}, {tre.Operations, "resourceType"}, {tre.Operations, "workspaceId"}, {tre.Resources, "resourceId"}} {
		require.NotContains(t, plan(q.c, tre.Eq(q.field, "x")), "<expr>=?", "%s by %s: no index of the field", q.c, q.field)
	}
}

// The audit records are in no index of queried fields.
func TestIndexesLeaveOutTheAuditRecords(t *testing.T) {
	for _, cs := range [][]tre.Collection{typeIndexed, resourceIndexed, workspaceIndexed} {
		require.NotContains(t, cs, tre.AuditRecords)
		for _, c := range cs {
			require.Contains(t, tre.Collections, c)
		}
	}
}

// A file made with earlier indexes (the first held every collection, the
// second every one but the audit records) gets the new ones when it
// opens, and its queries still find its documents.
func TestFileWithTheFirstIndexesGetsTheNewOnes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	require.NoError(t, err)
	st := NewStore(db)
	_, err = st.Create(ctx, tre.Operations, tre.Document{ID: "op1", Data: []byte(`{"id":"op1","resourceId":"r1"}`)})
	require.NoError(t, err)
	for _, stmt := range []string{
		`DROP INDEX documents_by_resource`, `DROP INDEX documents_by_type`,
		`CREATE INDEX documents_resource_id ON documents(collection, json_extract(data, '$.resourceId'))`,
		`CREATE INDEX documents_type ON documents(collection, json_extract(data, '$.resourceType')) WHERE collection <> 'AuditRecords'`,
		`PRAGMA user_version = 1`,
	} {
		_, err = db.w.conn.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
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
	require.Equal(t, []string{"documents_by_resource", "documents_by_type", "documents_by_workspace", "documents_live"}, names)
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

// The writer keeps a savepoint's statement journal in memory (temp_store
// 2): every member of a group commit runs in one, and a spilled journal is
// a temporary file written twice per changed page.
func TestWriterJournalsStatementsInMemory(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	var store int
	require.NoError(t, db.w.conn.QueryRowContext(context.Background(), `PRAGMA temp_store`).Scan(&store))
	require.Equal(t, 2, store, "temp_store=MEMORY")
}
