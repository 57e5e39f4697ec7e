package secretfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "r-1-a", "hunter2"))
	got, err := s.Get(ctx, "r-1-a")
	require.NoError(t, err)
	require.Equal(t, "hunter2", got)

	raw, err := os.ReadFile(filepath.Join(dir, SecretsFile))
	require.NoError(t, err)
	require.NotContains(t, string(raw), "hunter2", "values are never in clear on disk")
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// Another handle on the same directory reads it: survives restarts.
	s2, err := Open(dir)
	require.NoError(t, err)
	got, err = s2.Get(ctx, "r-1-a")
	require.NoError(t, err)
	require.Equal(t, "hunter2", got)

	require.NoError(t, s.Put(ctx, "r-1-a", "new"))
	got, _ = s.Get(ctx, "r-1-a")
	require.Equal(t, "new", got)
	require.NoError(t, s.Delete(ctx, "r-1-a"))
	require.NoError(t, s.Delete(ctx, "r-1-a"))
	_, err = s.Get(ctx, "r-1-a")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(s.Put(ctx, "bad/name", "x")))

	// Another data directory's key cannot read these values.
	require.NoError(t, s.Put(ctx, "moved", "v"))
	other := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(dir, SecretsFile))
	require.NoError(t, os.WriteFile(filepath.Join(other, SecretsFile), data, 0o600))
	s3, err := Open(other)
	require.NoError(t, err)
	_, err = s3.Get(ctx, "moved")
	require.Error(t, err)
}
