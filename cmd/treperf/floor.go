package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the driver the embedded store uses
)

// commitFloor is the SQLite driver's own rate of fsynced commits on this
// file system: one-row inserts, each its own transaction, on a fresh file
// with the embedded store's settings (WAL, synchronous=FULL), one
// connection.
func commitFloor(tmp string) (float64, error) {
	dir, err := os.MkdirTemp(tmp, "floor-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "floor.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("commit floor: %w", err)
	}
	ins, err := db.Prepare(`INSERT INTO t (v) VALUES (?)`)
	if err != nil {
		return 0, fmt.Errorf("commit floor: %w", err)
	}
	defer ins.Close()
	const n = 1000
	t0 := time.Now()
	for range n {
		if _, err := ins.Exec("a row of the commit floor"); err != nil {
			return 0, fmt.Errorf("commit floor: %w", err)
		}
	}
	return n / time.Since(t0).Seconds(), nil
}
