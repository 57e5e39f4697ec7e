package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
func (s *Store) Create(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	etag := newETag()
	_, err = s.db.sql.ExecContext(ctx,
		`INSERT INTO documents (collection, id, etag, data) VALUES (?, ?, ?, ?)`,
		string(c), doc.ID, etag, string(data))
	if err != nil {
		if isUniqueViolation(err) {
			return tre.Document{}, tre.Errorf(tre.CodeConflict, "%s %s already exists", c, doc.ID)
		}
		return tre.Document{}, unavailable(fmt.Errorf("sqlite: create %s/%s: %w", c, doc.ID, err))
	}
	return tre.Document{ID: doc.ID, ETag: etag, Data: data}, nil
}

// Get implements tre.Store.
func (s *Store) Get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	var etag, data string
	err := s.db.sql.QueryRowContext(ctx,
		`SELECT etag, data FROM documents WHERE collection = ? AND id = ?`, string(c), id).Scan(&etag, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return tre.Document{}, tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	if err != nil {
		return tre.Document{}, unavailable(fmt.Errorf("sqlite: get %s/%s: %w", c, id, err))
	}
	return tre.Document{ID: id, ETag: etag, Data: []byte(data)}, nil
}

// Replace implements tre.Store.
func (s *Store) Replace(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	if err := tre.CheckCollection(c, true); err != nil {
		return tre.Document{}, err
	}
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	etag := newETag()
	err = s.conditional(ctx, c, doc.ID, doc.ETag, "replace",
		`UPDATE documents SET etag = ?, data = ? WHERE collection = ? AND id = ? AND (? = '' OR etag = ?)`,
		etag, string(data), string(c), doc.ID, doc.ETag, doc.ETag)
	if err != nil {
		return tre.Document{}, err
	}
	return tre.Document{ID: doc.ID, ETag: etag, Data: data}, nil
}

// Delete implements tre.Store.
func (s *Store) Delete(ctx context.Context, c tre.Collection, id, etag string) error {
	if err := tre.CheckCollection(c, true); err != nil {
		return err
	}
	return s.conditional(ctx, c, id, etag, "delete",
		`DELETE FROM documents WHERE collection = ? AND id = ? AND (? = '' OR etag = ?)`,
		string(c), id, etag, etag)
}

// conditional runs a write guarded by an etag in one transaction, and tells
// a missing document from a stale etag when nothing was written.
func (s *Store) conditional(ctx context.Context, c tre.Collection, id, etag, verb, stmt string, args ...any) error {
	tx, err := s.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: %s %s/%s: %w", verb, c, id, err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, stmt, args...)
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: %s %s/%s: %w", verb, c, id, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM documents WHERE collection = ? AND id = ?`, string(c), id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
		}
		if err != nil {
			return unavailable(fmt.Errorf("sqlite: %s %s/%s: %w", verb, c, id, err))
		}
		return tre.Errorf(tre.CodePreconditionFailed, "%s %s has changed since etag %s was read", c, id, etag)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(fmt.Errorf("sqlite: %s %s/%s: commit: %w", verb, c, id, err))
	}
	return nil
}

// Query implements tre.Store.
func (s *Store) Query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	if err := tre.CheckCollection(c, false); err != nil {
		return nil, err
	}
	var sb strings.Builder
	args := []any{string(c)}
	sb.WriteString(`SELECT id, etag, data FROM documents WHERE collection = ?`)
	for _, cond := range q.Where {
		if err := cond.Validate(); err != nil {
			return nil, err
		}
		clause, cargs := condSQL(cond)
		sb.WriteString(" AND ")
		sb.WriteString(clause)
		args = append(args, cargs...)
	}
	sb.WriteString(` ORDER BY rowid`)
	if q.Limit > 0 {
		sb.WriteString(` LIMIT ?`)
		args = append(args, q.Limit)
	}
	rows, err := s.db.sql.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
	}
	defer rows.Close()
	var out []tre.Document
	for rows.Next() {
		var id, etag, data string
		if err := rows.Scan(&id, &etag, &data); err != nil {
			return nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
		}
		out = append(out, tre.Document{ID: id, ETag: etag, Data: []byte(data)})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(fmt.Errorf("sqlite: query %s: %w", c, err))
	}
	return out, nil
}

// condSQL turns a validated condition into a WHERE clause. Equality is typed
// as in Cosmos DB: the string "1", the number 1 and true are all different.
func condSQL(c tre.Cond) (string, []any) {
	path := "$." + c.Path
	eq := func(v any) (string, []any) {
		switch v := v.(type) {
		case bool:
			want := "false"
			if v {
				want = "true"
			}
			return `json_type(data, ?) = ?`, []any{path, want}
		case string:
			return `(json_type(data, ?) = 'text' AND json_extract(data, ?) = ?)`, []any{path, path, v}
		default: // numbers
			return `(json_type(data, ?) IN ('integer', 'real') AND json_extract(data, ?) = ?)`, []any{path, path, v}
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
			return `(json_type(data, ?) = 'text' AND json_extract(data, ?) ` + cmp + ` ?)`, []any{path, path, c.Value}
		}
		return `(json_type(data, ?) IN ('integer', 'real') AND json_extract(data, ?) ` + cmp + ` ?)`, []any{path, path, c.Value}
	default: // OpPrefix
		return `(json_type(data, ?) = 'text' AND instr(json_extract(data, ?), ?) = 1)`, []any{path, path, c.Value}
	}
}

// Ping implements tre.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.sql.PingContext(ctx); err != nil {
		return unavailable(fmt.Errorf("sqlite: ping: %w", err))
	}
	var n int
	if err := s.db.sql.QueryRowContext(ctx, `SELECT count(*) FROM documents WHERE 0`).Scan(&n); err != nil {
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
