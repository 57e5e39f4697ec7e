// Package sqlite implements the embedded adapters on one SQLite file (pure
// Go, no cgo: modernc.org/sqlite): the configuration store, and (later) the
// queue. It is the default when no Azure settings are given.
//
// The file uses WAL with synchronous=FULL, so a committed write survives a
// crash of the process and of the machine.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database file's name inside the data directory.
const FileName = "tre.db"

// DB is an open SQLite database file shared by the adapters.
type DB struct {
	sql  *sql.DB
	path string
}

// Open opens (creating if needed) the database file in dir and brings its
// schema up to date.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: every statement is short, and a single writer makes
	// the etag checks trivially serializable.
	db.SetMaxOpenConns(1)
	d := &DB{sql: db, path: path}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// ownerOnly creates the database file readable by its owner only (0600),
// or makes an existing one so, with its WAL and shared-memory files
// (SQLite gives those the database file's mode): it holds every resource's
// properties, and the umask's 0644 would let every local user read them.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("sqlite: make %s private: %w", p, err)
		}
	}
	return nil
}

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

var migrations = []string{
	`CREATE TABLE IF NOT EXISTS documents (
		collection TEXT NOT NULL,
		id         TEXT NOT NULL,
		etag       TEXT NOT NULL,
		data       TEXT NOT NULL,
		PRIMARY KEY (collection, id)
	)`,
	`CREATE INDEX IF NOT EXISTS documents_resource_type ON documents(collection, json_extract(data, '$.resourceType'))`,
	`CREATE INDEX IF NOT EXISTS documents_resource_id ON documents(collection, json_extract(data, '$.resourceId'))`,
	`CREATE INDEX IF NOT EXISTS documents_workspace_id ON documents(collection, json_extract(data, '$.workspaceId'))`,
	// The queue (queue.go). Times are Unix milliseconds. A message is locked
	// while lock_token is set; delivery_count counts deliveries made.
	`CREATE TABLE IF NOT EXISTS queue_messages (
		queue          TEXT    NOT NULL,
		seq            INTEGER NOT NULL,
		session_id     TEXT    NOT NULL,
		message_id     TEXT    NOT NULL,
		correlation_id TEXT    NOT NULL,
		subject        TEXT    NOT NULL,
		body           BLOB,
		properties     TEXT    NOT NULL,
		enqueued_at    INTEGER NOT NULL,
		delivery_count INTEGER NOT NULL DEFAULT 0,
		lock_token     TEXT,
		PRIMARY KEY (queue, seq)
	)`,
	`CREATE INDEX IF NOT EXISTS queue_messages_session ON queue_messages(queue, session_id, seq)`,
	`CREATE TABLE IF NOT EXISTS queue_sessions (
		queue        TEXT    NOT NULL,
		session_id   TEXT    NOT NULL,
		holder       TEXT    NOT NULL,
		locked_until INTEGER NOT NULL,
		PRIMARY KEY (queue, session_id)
	)`,
	`CREATE TABLE IF NOT EXISTS queue_dead_letters (
		queue            TEXT    NOT NULL,
		seq              INTEGER NOT NULL,
		session_id       TEXT    NOT NULL,
		message_id       TEXT    NOT NULL,
		correlation_id   TEXT    NOT NULL,
		subject          TEXT    NOT NULL,
		body             BLOB,
		properties       TEXT    NOT NULL,
		enqueued_at      INTEGER NOT NULL,
		delivery_count   INTEGER NOT NULL,
		reason           TEXT    NOT NULL,
		description      TEXT    NOT NULL,
		dead_lettered_at INTEGER NOT NULL,
		PRIMARY KEY (queue, seq)
	)`,
	`CREATE TABLE IF NOT EXISTS queue_seen_ids (
		queue      TEXT    NOT NULL,
		message_id TEXT    NOT NULL,
		seen_at    INTEGER NOT NULL,
		PRIMARY KEY (queue, message_id)
	)`,
	`CREATE INDEX IF NOT EXISTS queue_seen_ids_time ON queue_seen_ids(queue, seen_at)`,
	`CREATE TABLE IF NOT EXISTS queue_sequences (
		queue TEXT    NOT NULL PRIMARY KEY,
		last  INTEGER NOT NULL
	)`,
}

func (d *DB) migrate(ctx context.Context) error {
	for _, m := range migrations {
		if _, err := d.sql.ExecContext(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
	}
	return nil
}
