// Package sqlite implements the embedded adapters on one SQLite file (pure
// Go, no cgo: modernc.org/sqlite): the configuration store and the queue.
// They are the default when no Azure settings are given.
//
// The file uses WAL. Writes go through one connection, so the etag checks
// are trivially serializable; reads go through a small pool of others and
// never wait for a write (WAL readers see the last committed state).
// Statements are prepared once per connection and kept.
//
// Two durabilities of commit:
//
//   - Durable (synchronous=FULL, fsynced): every store write, every send,
//     and the transactions of Queue.Atomically. A durable commit survives
//     a crash of the process and of the machine.
//   - Lock bookkeeping (synchronous=NORMAL, not fsynced): accepting and
//     closing a session, receiving (locking) a message, renewing a lock,
//     and settling a message (complete, abandon, dead-letter). These
//     survive a crash of the process, as every commit does; a crash of the
//     machine may undo the last of them (those after the last durable
//     commit, whose fsync covers every earlier write of the file). Undone,
//     a lock is simply gone (as if it had expired; the machine's receivers
//     died with it) and a settled message comes back: delivered at least
//     once, as after a crash between handling and settling, which the
//     control plane already tolerates (ingestion is idempotent, bundle
//     actions are).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/tre-go/tre/internal/tre"
)

// FileName is the database file's name inside the data directory.
const FileName = "tre.db"

// readers is the size of the read pool: reads of API requests, of the
// queue's pollers and of the sweeps run beside the one writer.
const readers = 2

// DB is an open SQLite database file shared by the adapters.
type DB struct {
	w      *writer
	r      *sql.DB // the readers
	rstmts stmtCache
	path   string

	closing  sync.Once
	closed   chan struct{}
	closeErr error
	warm     sync.WaitGroup // the first reader's opening
	ahead    aheadStats     // Queue.AtomicallyAhead's outcomes
	recent   *recentDocs    // what the writer committed lately, for plans
}

// writer is the one writing connection, held by one transaction at a
// time. Transactions are run by hand (BEGIN IMMEDIATE ... COMMIT) on the
// pinned connection, so that its prepared statements serve every
// transaction (database/sql re-prepares a pool's statement in each of its
// transactions).
type writer struct {
	db    *sql.DB
	conn  *sql.Conn
	turn  chan struct{} // one token: the connection's holder has it
	stmts map[string]*sql.Stmt
	// durable is the connection's synchronous setting: FULL (true) or
	// NORMAL.
	durable bool
	// pending are the writes waiting for the connection.
	mu      sync.Mutex
	pending []*writeReq
	commits atomic.Int64 // transactions committed
	// recent are the document writes of the transaction under way, for
	// DB.recent once it is over.
	recent []recentOp
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
	wdb, err := sql.Open("sqlite", dsn(path, writerPragmas...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	conn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	d := &DB{path: path, closed: make(chan struct{}), w: &writer{db: wdb, conn: conn, turn: make(chan struct{}, 1), stmts: map[string]*sql.Stmt{}, durable: true}, recent: newRecentDocs(recentLimit)}
	d.w.turn <- struct{}{}
	if err := d.migrate(ctx); err != nil {
		d.w.close()
		return nil, err
	}
	// The readers open after the writer made the file WAL.
	// A reader's page cache is 256 KiB (SQLite's default is 2 MB): each is
	// resident memory, and the OS caches the file anyway.
	r, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)", "query_only(1)", "cache_size(-256)"))
	if err != nil {
		d.w.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	d.r = r
	// A reader's first query opens its connection and reads the schema
	// (a few ms): the first is opened now, while the caller goes on
	// starting up, rather than in the first request's path.
	d.warm.Add(1)
	go func() {
		defer d.warm.Done()
		var n int
		_ = r.QueryRowContext(context.WithoutCancel(ctx), `SELECT count(*) FROM sqlite_master WHERE 0`).Scan(&n)
	}()
	return d, nil
}

// writerPragmas configure the writer's connection. temp_store(MEMORY)
// keeps the statement journal in memory: each member of a group commit runs
// in a savepoint, and SQLite copies every page a savepoint changes into that
// journal first, which past 64 KiB is a temporary file, two write(2)s per
// page. It is the transaction's alone and lost with it on a crash either
// way; the WAL is what makes a commit durable.
var writerPragmas = []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "temp_store(MEMORY)"}

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

func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

// Close closes the database, after the transaction in progress if any.
// Writes after it fail; closing again does nothing.
func (d *DB) Close() error {
	d.closing.Do(func() {
		d.warm.Wait()
		<-d.w.turn
		close(d.closed)
		d.rstmts.close()
		if d.r != nil {
			d.closeErr = d.r.Close()
		}
		d.closeErr = errors.Join(d.closeErr, d.w.close())
	})
	return d.closeErr
}

func (w *writer) close() error {
	for _, s := range w.stmts {
		s.Close()
	}
	w.stmts = nil
	return errors.Join(w.conn.Close(), w.db.Close())
}

var errClosed = errors.New("sqlite: the database is closed")

// txKey marks a context inside a write transaction of a DB: a write
// through another path of the same DB would wait for the one writing
// connection forever, so it fails instead (a bug, named).
type txKey struct{}

func (d *DB) checkNotInTx(ctx context.Context) error {
	if ctx.Value(txKey{}) == d {
		return tre.Errorf(tre.CodeInternal, "sqlite: a write outside the open transaction of the same database would deadlock")
	}
	return nil
}

// write runs fn in one write transaction and commits it, durably
// (fsynced) or not (see the package doc). fn's statements run on the
// writing connection through the runner it gets, whatever their context
// says: a transaction is never cut in the middle. ctx bounds the wait for
// the connection, and fn gets it marked as inside the transaction.
//
// Writes that wait while another commits are committed together (group
// commit): the next writer to get the connection runs every waiting
// write, each inside a savepoint of one transaction, and commits once. A
// write whose fn fails is rolled back to its savepoint alone; each caller
// gets its own fn's error, or the commit's. Callers see what they would
// see of a commit of their own: fn ran in a transaction, and when write
// returns nil its changes are committed (durably if any write of the
// group asked for it). With one writer at a time nothing changes; with
// many, one fsync serves them all.
func (d *DB) write(ctx context.Context, durable bool, fn func(ctx context.Context, x runner) error) error {
	if err := d.checkNotInTx(ctx); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, durable: durable, fn: fn, done: make(chan error, 1)}
	w := d.w
	w.mu.Lock()
	w.pending = append(w.pending, req)
	w.mu.Unlock()
	for {
		select {
		case err := <-req.done:
			return err
		case <-w.turn:
			d.commitPending()
			w.turn <- struct{}{}
		case <-d.closed:
			if w.withdraw(req) {
				return errClosed
			}
			return <-req.done
		case <-ctx.Done():
			if w.withdraw(req) {
				return ctx.Err()
			}
			return <-req.done // already running: its outcome, not a guess
		}
	}
}

// writeReq is a write waiting for the writing connection.
type writeReq struct {
	ctx     context.Context
	durable bool
	fn      func(ctx context.Context, x runner) error
	done    chan error // gets the outcome, once
}

// maxGroup bounds the writes one commit serves.
const maxGroup = 64

// withdraw takes req out of the waiting writes; false if a commit has
// taken it already.
func (w *writer) withdraw(req *writeReq) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, r := range w.pending {
		if r == req {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			return true
		}
	}
	return false
}

// commitPending runs the waiting writes (up to maxGroup, oldest first) in
// one transaction; the caller holds the connection.
func (d *DB) commitPending() {
	w := d.w
	w.mu.Lock()
	n := min(len(w.pending), maxGroup)
	group := append([]*writeReq(nil), w.pending[:n]...)
	w.pending = append(w.pending[:0], w.pending[n:]...)
	w.mu.Unlock()
	if len(group) == 0 {
		return
	}
	errs := d.commitGroup(group)
	for i, r := range group {
		r.done <- errs[i]
	}
}

// commitGroup runs each write of group in its own savepoint (none for a
// group of one) of one transaction, then commits; it returns each
// write's outcome.
func (d *DB) commitGroup(group []*writeReq) []error {
	w := d.w
	errs := make([]error, len(group))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	bg := context.WithoutCancel(group[0].ctx)
	durable := false
	for _, r := range group {
		durable = durable || r.durable
	}
	if err := w.setDurable(bg, durable); err != nil {
		return fail(err)
	}
	if _, err := w.exec(bg, "BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	saved := len(group) > 1
	committed, done := 0, false
	defer func() { d.flushRecent(done) }()
	for i, r := range group {
		var fatal error
		if errs[i], fatal = d.member(bg, r, saved); fatal != nil {
			_, _ = w.exec(bg, "ROLLBACK")
			return fail(fatal)
		}
		if errs[i] == nil {
			committed++
		}
	}
	if committed == 0 {
		_, _ = w.exec(bg, "ROLLBACK")
		return errs
	}
	if _, err := w.exec(bg, "COMMIT"); err != nil {
		_, _ = w.exec(bg, "ROLLBACK")
		return fail(err)
	}
	done = true
	w.commits.Add(1)
	return errs
}

// member runs one write of a group: in its own savepoint if saved, rolled
// back to it if fn fails. fatal is an error of the savepoint's
// statements: the transaction is lost.
func (d *DB) member(bg context.Context, r *writeReq, saved bool) (err, fatal error) {
	w := d.w
	if saved {
		if _, fatal = w.exec(bg, "SAVEPOINT w"); fatal != nil {
			return nil, fatal
		}
	}
	mark := len(w.recent)
	if err, fatal = d.run(bg, r, saved, mark); fatal != nil {
		return nil, fatal
	}
	if err != nil {
		w.undo(mark)
	}
	switch {
	case !saved:
	case err == nil:
		_, fatal = w.exec(bg, "RELEASE w")
	default:
		_, err1 := w.exec(bg, "ROLLBACK TO w")
		_, err2 := w.exec(bg, "RELEASE w")
		fatal = errors.Join(err1, err2)
	}
	return err, fatal
}

// errAgain is what a write's fn returns to have its statements undone and
// to be called once more: a plan run ahead (AtomicallyAhead) that found,
// part-way through its writes, a document changed since it was read.
var errAgain = errors.New("sqlite: undo and run again")

// run calls r's fn in the transaction under way (inside its savepoint if
// saved); if fn answers errAgain, its statements are undone (and its
// document writes noted since mark forgotten) and it is called again.
// fatal is an error of the undoing: the transaction is lost.
func (d *DB) run(bg context.Context, r *writeReq, saved bool, mark int) (err, fatal error) {
	ctx, w := context.WithValue(r.ctx, txKey{}, d), d.w
	if err = r.fn(ctx, runner{d: d, tx: true}); !errors.Is(err, errAgain) {
		return err, nil
	}
	if saved {
		_, fatal = w.exec(bg, "ROLLBACK TO w")
	} else if _, fatal = w.exec(bg, "ROLLBACK"); fatal == nil {
		// A group of one has no savepoint: the transaction starts over.
		_, fatal = w.exec(bg, "BEGIN IMMEDIATE")
	}
	if fatal != nil {
		return nil, fatal
	}
	w.undo(mark)
	if err = r.fn(ctx, runner{d: d, tx: true}); errors.Is(err, errAgain) {
		err = tre.Errorf(tre.CodeInternal, "sqlite: a write asked to run again twice")
	}
	return err, nil
}

// setDurable sets the connection's synchronous level for the next commit.
func (w *writer) setDurable(ctx context.Context, durable bool) error {
	if w.durable == durable {
		return nil
	}
	level := "NORMAL"
	if durable {
		level = "FULL"
	}
	if _, err := w.conn.ExecContext(ctx, "PRAGMA synchronous="+level); err != nil {
		return err
	}
	w.durable = durable
	return nil
}

// stmt is the writing connection's prepared statement of query (the
// caller holds the connection).
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := w.stmts[query]; s != nil {
		return s, nil
	}
	if len(w.stmts) >= maxStatements {
		return nil, nil
	}
	s, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = s
	return s, nil
}

func (w *writer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return w.conn.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

// stmtCache keeps the reading statements prepared on the readers' pool:
// database/sql prepares each on a connection when it first runs there and
// keeps it. Statements built from query conditions are many but of few
// shapes; past maxStatements shapes the others run unprepared.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxStatements = 512

// stmt returns the prepared statement of query on db, or nil when the
// cache is full.
func (c *stmtCache) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	s, full := c.m[query], len(c.m) >= maxStatements
	c.mu.Unlock()
	if s != nil || full {
		return s, nil
	}
	s, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[query]; prev != nil || len(c.m) >= maxStatements {
		s.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// runner runs statements, prepared once: inside a write transaction
// (tx), everything on the writing connection; outside, reads on the
// readers (writes need a transaction).
type runner struct {
	d  *DB
	tx bool
}

// prepared returns the statement of query, or nil and the connection to
// run it on unprepared.
func (x runner) prepared(ctx context.Context, query string) (*sql.Stmt, conn, error) {
	if x.tx {
		s, err := x.d.w.stmt(ctx, query)
		return s, x.d.w.conn, err
	}
	s, err := x.d.rstmts.stmt(ctx, x.d.r, query)
	return s, x.d.r, err
}

// conn is what an unprepared statement runs on.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ctx is the context of a statement: inside a transaction, never
// cancelled (an interrupted statement would roll back the whole
// transaction under its caller).
func (x runner) ctx(ctx context.Context) context.Context {
	if x.tx {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (x runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !x.tx {
		return nil, tre.Errorf(tre.CodeInternal, "sqlite: a write outside a transaction")
	}
	return x.d.w.exec(x.ctx(ctx), query, args...)
}

func (x runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = x.ctx(ctx)
	s, c, err := x.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

// scan runs a query of one row and scans it; sql.ErrNoRows when there is
// none. It is not cancelled with ctx: a point read takes microseconds, and
// database/sql watches a cancellable context with a goroutine per query.
func (x runner) scan(ctx context.Context, query string, args []any, dest ...any) error {
	ctx = context.WithoutCancel(ctx)
	s, c, err := x.prepared(ctx, query)
	if err != nil {
		return err
	}
	if s == nil {
		return c.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	return s.QueryRowContext(ctx, args...).Scan(dest...)
}

var migrations = []string{
	`CREATE TABLE IF NOT EXISTS documents (
		collection TEXT NOT NULL,
		id         TEXT NOT NULL,
		etag       TEXT NOT NULL,
		data       TEXT NOT NULL,
		PRIMARY KEY (collection, id)
	)`,
	// The indexes of fields queries select on hold the collections queried
	// by that field only (store.go, typeIndexed...): an audit record,
	// written with every request and every operation's end, costs no index
	// entry, nor an operation's replace one it is never queried by. The
	// first indexes held every collection, the second every one but the
	// audit records; a file that has them loses them here.
	`DROP INDEX IF EXISTS documents_resource_type`,
	`DROP INDEX IF EXISTS documents_resource_id`,
	`DROP INDEX IF EXISTS documents_workspace_id`,
	`DROP INDEX IF EXISTS documents_live_type`,
	`DROP INDEX IF EXISTS documents_type`,
	`DROP INDEX IF EXISTS documents_resource`,
	`DROP INDEX IF EXISTS documents_workspace`,
	`CREATE INDEX IF NOT EXISTS documents_by_type ON documents(collection, json_extract(data, '$.resourceType')) WHERE ` + inTerm(typeIndexed),
	`CREATE INDEX IF NOT EXISTS documents_by_resource ON documents(collection, json_extract(data, '$.resourceId')) WHERE ` + inTerm(resourceIndexed),
	`CREATE INDEX IF NOT EXISTS documents_by_workspace ON documents(collection, json_extract(data, '$.workspaceId')) WHERE ` + inTerm(workspaceIndexed),
	// Lists of active resources of a type (store.go, liveTerm).
	`CREATE INDEX IF NOT EXISTS documents_live ON documents(collection, json_extract(data, '$.resourceType')) WHERE collection = 'Resources' AND ` + liveTerm,
	// Each collection's rowids in a range of their own (ranges.go).
	renumberDocuments(),
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

// migrate brings the schema up to date in one transaction, and records
// how many migrations the file has had (user_version): an up-to-date file
// costs one read at open, a fresh one one commit.
func (d *DB) migrate(ctx context.Context) error {
	var version int
	if err := d.w.conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if version >= len(migrations) {
		return nil
	}
	err := d.write(ctx, true, func(ctx context.Context, x runner) error {
		for _, m := range migrations {
			if _, err := d.w.conn.ExecContext(ctx, m); err != nil {
				return err
			}
		}
		_, err := d.w.conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// row is a query of one row, run when scanned (sql.Row's shape).
type row struct {
	ctx   context.Context
	x     runner
	query string
	args  []any
}

func (r row) Scan(dest ...any) error { return r.x.scan(r.ctx, r.query, r.args, dest...) }

func (x runner) queryRow(ctx context.Context, query string, args ...any) row {
	return row{ctx: ctx, x: x, query: query, args: args}
}
