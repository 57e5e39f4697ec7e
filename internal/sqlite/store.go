package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// Store is the configuration store on SQLite: one table of JSON documents
// keyed by (collection, id), with a random etag replaced on every write.
type Store struct {
	db    *DB
	owned bool // Close closes db
}

var _ tre.Store = (*Store)(nil)

// NewStore returns the store on db; closing the store leaves db open.
func NewStore(db *DB) *Store { return &Store{db: db} }

// OpenStore opens the database in dir and returns a store that owns it.
func OpenStore(ctx context.Context, dir string) (*Store, error) {
	db, err := Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, owned: true}, nil
}

func newETag() string { return uuid.NewString() }

// Create implements tre.Store.
func (s *Store) Create(ctx context.Context, c tre.Collection, doc tre.Document) (out tre.Document, err error) {
	err = s.write(ctx, "create "+string(c), func(x runner) error {
		out, err = docs{x}.create(ctx, c, doc)
		return err
	})
	return out, err
}

// Get implements tre.Store.
func (s *Store) Get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	return docs{runner{d: s.db}}.get(ctx, c, id)
}

// Replace implements tre.Store.
func (s *Store) Replace(ctx context.Context, c tre.Collection, doc tre.Document) (out tre.Document, err error) {
	err = s.write(ctx, "replace in "+string(c), func(x runner) error {
		out, err = docs{x}.replace(ctx, c, doc)
		return err
	})
	return out, err
}

// Delete implements tre.Store.
func (s *Store) Delete(ctx context.Context, c tre.Collection, id, etag string) error {
	return s.write(ctx, "delete from "+string(c), func(x runner) error {
		return docs{x}.delete(ctx, c, id, etag)
	})
}

// write runs one write in its own durable transaction. fn's errors are
// returned as they are; the transaction's own are unavailable.
func (s *Store) write(ctx context.Context, what string, fn func(x runner) error) error {
	var fnErr error
	err := s.db.write(ctx, true, func(_ context.Context, x runner) error {
		fnErr = fn(x)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	var te *tre.Error
	if err != nil && !errors.As(err, &te) {
		return unavailable(fmt.Errorf("sqlite: %s: %w", what, err))
	}
	return err
}

// Query implements tre.Store.
func (s *Store) Query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	return docs{runner{d: s.db}}.query(ctx, c, q)
}

// QueryPage implements tre.Store. Pages follow the rowid, the order of
// creation; the token is the last rowid of the page.
func (s *Store) QueryPage(ctx context.Context, c tre.Collection, q tre.Query, size int, token string) (tre.Page, error) {
	return docs{runner{d: s.db}}.queryPage(ctx, c, q, size, token)
}

// docs implements the store's methods on a runner: the pools, or one
// transaction (txStore).
type docs struct{ x runner }

func (s docs) create(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	etag, text := newETag(), padded(c, data)
	first := rangeOf(c)
	_, err = s.x.exec(ctx, insertDocument, first, first+rangeSize, string(c), doc.ID, etag, text)
	if err != nil {
		if isUniqueViolation(err) {
			return tre.Document{}, tre.Errorf(tre.CodeConflict, "%s %s already exists", c, doc.ID)
		}
		return tre.Document{}, unavailable(fmt.Errorf("sqlite: create %s/%s: %w", c, doc.ID, err))
	}
	s.x.wrote(docKey{c, doc.ID}, tre.Document{ID: doc.ID, ETag: etag, Data: readOnly(text)}, false)
	return tre.Document{ID: doc.ID, ETag: etag, Data: data}, nil
}

func (s docs) get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	return s.lookup(ctx, c, id)
}

// lookup is get in any collection: a create checks that its id is free
// in a collection partitioned by another field too.
func (s docs) lookup(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	var etag, data string
	err := s.x.scan(ctx, `SELECT etag, data FROM documents WHERE collection = ? AND id = ?`, []any{string(c), id}, &etag, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return tre.Document{}, tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	if err != nil {
		return tre.Document{}, unavailable(fmt.Errorf("sqlite: get %s/%s: %w", c, id, err))
	}
	return tre.Document{ID: id, ETag: etag, Data: readOnly(data)}, nil
}

// readOnly is the bytes of data without a copy. The driver hands a TEXT
// column over as a new string, and database/sql would copy it again into
// a []byte: half of what reading a document allocated. tre.Document says
// its Data is read-only, which makes sharing the string's bytes safe.
// Stored text is read without the spaces padded() added.
func readOnly(data string) []byte {
	data = strings.TrimRight(data, " ")
	return unsafe.Slice(unsafe.StringData(data), len(data))
}

// padTo is the size class of a stored document's text (padded).
const padTo = 128

// padded is data as stored: followed by spaces up to the next multiple of
// padTo bytes, which JSON ignores and readOnly drops. A replace that keeps
// the size class (most status updates change a document by a few bytes)
// then rewrites the row in place: SQLite overwrites a cell whose payload
// keeps its size, and otherwise removes it, inserts the new one and
// rebalances the page with its siblings (a tenth of the CPU of status
// ingestion, and two more pages to the WAL). Audit records are never
// replaced: they are stored as they are.
func padded(c tre.Collection, data []byte) string {
	n := (len(data) + padTo - 1) / padTo * padTo
	if c == tre.AuditRecords || n == len(data) {
		return string(data)
	}
	var b strings.Builder
	b.Grow(n)
	b.Write(data)
	for range n - len(data) {
		b.WriteByte(' ')
	}
	return b.String()
}

func (s docs) replace(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	etag, text := newETag(), padded(c, data)
	err = s.conditional(ctx, c, doc.ID, doc.ETag, "replace",
		`UPDATE documents SET etag = ?, data = ? WHERE collection = ? AND id = ? AND (? = '' OR etag = ?)`,
		etag, text, string(c), doc.ID, doc.ETag, doc.ETag)
	if err != nil {
		return tre.Document{}, err
	}
	s.x.wrote(docKey{c, doc.ID}, tre.Document{ID: doc.ID, ETag: etag, Data: readOnly(text)}, false)
	return tre.Document{ID: doc.ID, ETag: etag, Data: data}, nil
}

func (s docs) delete(ctx context.Context, c tre.Collection, id, etag string) error {
	if err := tre.CheckCollection(c, true); err != nil {
		return err
	}
	err := s.conditional(ctx, c, id, etag, "delete",
		`DELETE FROM documents WHERE collection = ? AND id = ? AND (? = '' OR etag = ?)`,
		string(c), id, etag, etag)
	if err == nil {
		s.x.wrote(docKey{c, id}, tre.Document{}, true)
	}
	return err
}

// conditional runs a write guarded by an etag, and tells a missing
// document from a stale etag when nothing was written.
func (s docs) conditional(ctx context.Context, c tre.Collection, id, etag, verb, stmt string, args ...any) error {
	res, err := s.x.exec(ctx, stmt, args...)
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: %s %s/%s: %w", verb, c, id, err))
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var one int
	err = s.x.scan(ctx, `SELECT 1 FROM documents WHERE collection = ? AND id = ?`, []any{string(c), id}, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: %s %s/%s: %w", verb, c, id, err))
	}
	return tre.Errorf(tre.CodePreconditionFailed, "%s %s has changed since etag %s was read", c, id, etag)
}

// where builds the statement of a query: the conditions, then the page
// position.
func where(c tre.Collection, q tre.Query, after int64) (string, []any, error) {
	if err := tre.CheckCollection(c, false); err != nil {
		return "", nil, err
	}
	var sb strings.Builder
	var args []any
	// The collection is a literal: SQLite uses a partial index only for a
	// query whose terms imply the index's WHERE (inTerm), and a bound
	// parameter implies nothing.
	typed := hasTypeCond(q.Where)
	sb.WriteString(`SELECT rowid, id, etag, data FROM documents `)
	if index := indexFor(c, q.Where, typed); index != "" {
		sb.WriteString(`INDEXED BY ` + index + ` `)
	}
	sb.WriteString(`WHERE collection = '`)
	sb.WriteString(strings.ReplaceAll(string(c), "'", "''"))
	sb.WriteString(`'`)
	for _, cond := range q.Where {
		if err := cond.Validate(); err != nil {
			return "", nil, err
		}
		clause, cargs := condSQL(cond)
		if typed && isLive(cond) {
			// documents_live holds exactly the resources this
			// term passes: with it the term costs nothing per row.
			clause, cargs = liveTerm, nil
		}
		sb.WriteString(" AND ")
		sb.WriteString(clause)
		args = append(args, cargs...)
	}
	if after > 0 {
		sb.WriteString(` AND rowid > ?`)
		args = append(args, after)
	}
	sb.WriteString(` ORDER BY rowid`)
	return sb.String(), args, nil
}

func (s docs) query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	stmt, args, err := where(c, q, 0)
	if err != nil {
		return nil, err
	}
	if q.Limit > 0 {
		stmt += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	out, _, err := s.rows(ctx, c, stmt, args, q.Limit)
	return out, err
}

func (s docs) queryPage(ctx context.Context, c tre.Collection, q tre.Query, size int, token string) (tre.Page, error) {
	if size <= 0 {
		return tre.Page{}, tre.Errorf(tre.CodeInvalid, "page size must be positive, not %d", size)
	}
	var after int64
	if token != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(token, "r"), 10, 64)
		if err != nil || n <= 0 || !strings.HasPrefix(token, "r") {
			return tre.Page{}, tre.FieldErrorf(tre.CodeInvalid, "continuation", "%q is not a continuation token of this list", token)
		}
		after = n
	}
	stmt, args, err := where(c, q, after)
	if err != nil {
		return tre.Page{}, err
	}
	// One more than asked says whether another page follows.
	stmt += ` LIMIT ?`
	args = append(args, size+1)
	out, last, err := s.rows(ctx, c, stmt, args, size+1)
	if err != nil {
		return tre.Page{}, err
	}
	page := tre.Page{Documents: out}
	if len(out) > size {
		page.Documents = out[:size]
		page.Next = "r" + strconv.FormatInt(last[size-1], 10)
	}
	return page, nil
}

// rows runs a query of documents and returns them with their rowids;
// capacity is how many are expected (the page size), 0 when unknown.
func (s docs) rows(ctx context.Context, c tre.Collection, stmt string, args []any, capacity int) ([]tre.Document, []int64, error) {
	rows, err := s.x.query(ctx, stmt, args...)
	if err != nil {
		return nil, nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
	}
	defer rows.Close()
	capacity = min(capacity, 1024)
	out := make([]tre.Document, 0, capacity)
	rowids := make([]int64, 0, capacity)
	for rows.Next() {
		var rowid int64
		var id, etag, data string
		if err := rows.Scan(&rowid, &id, &etag, &data); err != nil {
			return nil, nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
		}
		out = append(out, tre.Document{ID: id, ETag: etag, Data: readOnly(data)})
		rowids = append(rowids, rowid)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
	}
	return out, rowids, nil
}

// isLive tells the condition of every list of active resources, and
// liveTerm its SQL when the query also names a resourceType: the WHERE of
// the partial index documents_live, spelt as in the index (SQLite
// uses a partial index only for a query with that very term, literal
// included). It means what condSQL's form means: the field is missing or
// is not the string "deleted".
func isLive(c tre.Cond) bool {
	v, ok := c.Value.(string)
	return c.Path == "deploymentStatus" && c.Op == tre.OpNe && ok && v == string(tre.StatusDeleted)
}

const liveTerm = `json_extract(data, '$.deploymentStatus') IS NOT 'deleted'`

// The indexes of queried fields hold the collections the code queries by
// that field, and no other: a replace of a document updates every index
// whose WHERE it meets (SQLite cannot tell that the indexed value did not
// change), and an operation, replaced with each status report, met all
// three when every collection but the audit records was in each. A query
// by that field in another collection scans the collection's rowid range
// (correct, slower): TestQueriedFieldsUseTheirIndexes lists the queries
// the code makes. The audit records are in none: they are read by id
// ranges (their ids are times).
var (
	typeIndexed      = []tre.Collection{tre.ResourceTemplates, tre.Resources, tre.TemplateNames}
	resourceIndexed  = []tre.Collection{tre.Operations, tre.ResourceHistory}
	workspaceIndexed = []tre.Collection{tre.AirlockRequests, tre.Resources, tre.WorkspaceUsers}
)

// inTerm is the WHERE of an index holding the collections cs: one equality
// per collection, which the literal collection of a query implies.
func inTerm(cs []tre.Collection) string {
	terms := make([]string, len(cs))
	for i, c := range cs {
		terms[i] = "collection = '" + string(c) + "'"
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// indexFor names the index a query of resources must use, where SQLite
// (which has no statistics of the file) sees a tie: documents_by_type,
// documents_by_workspace and documents_live all match two equalities, and
// it took the one created last. A list of the services of one workspace
// reads that workspace's entries; a list of active resources of a type
// reads the partial index, which holds no deleted resource. Other queries
// are left to SQLite.
func indexFor(c tre.Collection, where []tre.Cond, typed bool) string {
	if c != tre.Resources {
		return ""
	}
	live := false
	for _, cond := range where {
		if cond.Path == "workspaceId" && cond.Op == tre.OpEq {
			return "documents_by_workspace"
		}
		live = live || isLive(cond)
	}
	if typed && live {
		return "documents_live"
	}
	return ""
}

// hasTypeCond reports whether a query names one resourceType.
func hasTypeCond(where []tre.Cond) bool {
	for _, c := range where {
		if c.Path == "resourceType" && c.Op == tre.OpEq {
			return true
		}
	}
	return false
}

// condSQL turns a validated condition into a WHERE clause. Equality is typed
// as in Cosmos DB: the string "1", the number 1 and true are all different.
// The path is spliced into the statement (Validate allows identifiers
// only): an index on json_extract(data, '$.field') serves a condition only
// when its expression is the index's, literal path included.
func condSQL(c tre.Cond) (string, []any) {
	path := "'$." + c.Path + "'"
	extract, typ := "json_extract(data, "+path+")", "json_type(data, "+path+")"
	eq := func(v any) (string, []any) {
		switch v := v.(type) {
		case bool:
			want := "false"
			if v {
				want = "true"
			}
			return typ + ` = ?`, []any{want}
		case string:
			if t := strings.TrimLeft(v, " \t\r\n"); !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
				// json_extract gives a string's text, numbers and
				// booleans as numbers, objects and arrays as their JSON
				// text: only the latter could equal a string, and this
				// one is not such a text. So no json_type, and an index
				// on the expression serves the condition.
				return extract + ` = ?`, []any{v}
			}
			return `(` + typ + ` = 'text' AND ` + extract + ` = ?)`, []any{v}
		default: // numbers
			return `(` + typ + ` IN ('integer', 'real') AND ` + extract + ` = ?)`, []any{v}
		}
	}
	anyOf := func(vs []any) (string, []any) {
		var parts []string
		var args []any
		for _, v := range vs {
			p, a := eq(v)
			parts = append(parts, p)
			args = append(args, a...)
		}
		return "(" + strings.Join(parts, " OR ") + ")", args
	}
	switch c.Op {
	case tre.OpEq:
		return eq(c.Value)
	case tre.OpNe:
		p, a := eq(c.Value)
		if v, ok := c.Value.(string); ok && v != "" && !strings.ContainsAny(v, `"\`) && !hasControl(v) {
			// A document whose text has neither v nor a backslash
			// cannot hold the string v anywhere (JSON can only spell
			// it otherwise with an escape): it passes without being
			// parsed. A list of active resources (deploymentStatus
			// not "deleted") parsed every document for this.
			return "((instr(data, ?) = 0 AND instr(data, '\\') = 0) OR NOT COALESCE(" + p + ", 0))", append([]any{v}, a...)
		}
		return "NOT COALESCE(" + p + ", 0)", a
	case tre.OpIn:
		return anyOf(c.Values)
	case tre.OpNotIn:
		p, a := anyOf(c.Values)
		return "NOT COALESCE(" + p + ", 0)", a
	case tre.OpGe, tre.OpLt:
		cmp := ">="
		if c.Op == tre.OpLt {
			cmp = "<"
		}
		if _, ok := c.Value.(string); ok {
			return `(` + typ + ` = 'text' AND ` + extract + ` ` + cmp + ` ?)`, []any{c.Value}
		}
		return `(` + typ + ` IN ('integer', 'real') AND ` + extract + ` ` + cmp + ` ?)`, []any{c.Value}
	default: // OpPrefix
		return `(` + typ + ` = 'text' AND instr(` + extract + `, ?) = 1)`, []any{c.Value}
	}
}

// hasControl reports whether s has a character JSON must escape.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 })
}

// Ping implements tre.Store.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := (runner{d: s.db}).scan(ctx, `SELECT count(*) FROM documents WHERE 0`, nil, &n); err != nil {
		return unavailable(fmt.Errorf("sqlite: ping: %w", err))
	}
	return nil
}

// Close implements tre.Store. It closes the database only if the store
// opened it (OpenStore).
func (s *Store) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func unavailable(err error) error {
	return tre.WrapError(tre.CodeUnavailable, err, "The configuration store is not responding")
}

// txStore is the store inside one transaction of Queue.Atomically.
type txStore struct{ docs }

var _ tre.Store = txStore{}

func (s txStore) Create(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	return s.create(ctx, c, doc)
}

func (s txStore) Get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	return s.get(ctx, c, id)
}

func (s txStore) Replace(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	return s.replace(ctx, c, doc)
}

func (s txStore) Delete(ctx context.Context, c tre.Collection, id, etag string) error {
	return s.delete(ctx, c, id, etag)
}

func (s txStore) Query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	return s.query(ctx, c, q)
}

func (s txStore) QueryPage(ctx context.Context, c tre.Collection, q tre.Query, size int, token string) (tre.Page, error) {
	return s.queryPage(ctx, c, q, size, token)
}

func (s txStore) Ping(context.Context) error { return nil }

// Close does nothing: the transaction ends with Atomically.
func (s txStore) Close() error { return nil }
