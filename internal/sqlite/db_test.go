package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
)

// tre.db holds every resource's properties: only its owner may read it,
// whether Open creates it or finds it created 0644 by an older version.
func TestDatabaseFileIsOwnerOnly(t *testing.T) {
	for name, existing := range map[string]bool{"created": false, "found 0644": true} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, sqlite.FileName)
			if existing {
				require.NoError(t, os.WriteFile(path, nil, 0o644))
				require.NoError(t, os.Chmod(path, 0o644))
			}
			db, err := sqlite.Open(context.Background(), dir)
			require.NoError(t, err)
			defer db.Close()
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if os.IsNotExist(err) {
					continue
				}
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0), fi.Mode().Perm()&0o077, "%s is %v", p, fi.Mode().Perm())
			}
		})
	}
}
