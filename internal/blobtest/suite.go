package blobtest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// Backend is an adapter under test.
type Backend struct {
	// New returns the adapter over fresh, empty storage (or storage where
	// the suite's container names are unused).
	New func(t *testing.T) tre.Blobs
	// Upload puts a blob into an existing container as a user does: for
	// real storage, through a URL of the adapter's SignedURL with write
	// permission, which tests that too.
	Upload func(t *testing.T, b tre.Blobs, c tre.BlobContainer, name string, data []byte)
}

func requireCode(t *testing.T, err error, code tre.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, tre.ErrorCode(err), "error: %v", err)
}

// Run runs the conformance suite: every adapter of tre.Blobs must pass it.
// Containers are named after the test, in two accounts (stage accounts of
// the airlock).
func Run(t *testing.T, be Backend) {
	ctx := context.Background()
	name := func(_ *testing.T, suffix string) string {
		return suffix + "-" + strings.ToLower(uuid.NewString()[:8])
	}
	acc1, acc2 := "stalimexsuite", "stalimipsuite"

	t.Run("containers", func(t *testing.T) {
		b := be.New(t)
		c := tre.BlobContainer{Account: acc1, Name: name(t, "containers")}
		_, err := b.List(ctx, c)
		requireCode(t, err, tre.CodeNotFound)
		require.NoError(t, b.CreateContainer(ctx, c))
		require.NoError(t, b.CreateContainer(ctx, c), "creating a container that exists is not an error")
		list, err := b.List(ctx, c)
		require.NoError(t, err)
		require.Empty(t, list)
		require.NoError(t, b.DeleteContainer(ctx, c))
		_, err = b.List(ctx, c)
		requireCode(t, err, tre.CodeNotFound)
		require.NoError(t, b.DeleteContainer(ctx, c), "deleting a container that is gone is not an error")
		require.NoError(t, b.Ping(ctx))
	})

	t.Run("list, copy, open", func(t *testing.T) {
		b := be.New(t)
		src := tre.BlobContainer{Account: acc1, Name: name(t, "copy")}
		dst := tre.BlobContainer{Account: acc2, Name: src.Name}
		require.NoError(t, b.CreateContainer(ctx, src))
		big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		be.Upload(t, b, src, "data.csv", []byte("a,b\n1,2\n"))
		be.Upload(t, b, src, "big.bin", big)
		list, err := b.List(ctx, src)
		require.NoError(t, err)
		require.Equal(t, []tre.BlobInfo{{Name: "big.bin", Size: int64(len(big))}, {Name: "data.csv", Size: 8}}, list)

		requireCode(t, b.Copy(ctx, src, dst, "data.csv"), tre.CodeNotFound) // no destination container yet
		require.NoError(t, b.CreateContainer(ctx, dst))
		require.NoError(t, b.Copy(ctx, src, dst, "data.csv"))
		require.NoError(t, b.Copy(ctx, src, dst, "big.bin"))
		require.NoError(t, b.Copy(ctx, src, dst, "big.bin"), "copying again replaces")
		requireCode(t, b.Copy(ctx, src, dst, "missing.txt"), tre.CodeNotFound)
		list, err = b.List(ctx, dst)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, big, read(t, b, dst, "big.bin"), "the copy has the content")
		require.Equal(t, "a,b\n1,2\n", string(read(t, b, dst, "data.csv")))

		_, err = b.Open(ctx, dst, "missing.txt")
		requireCode(t, err, tre.CodeNotFound)
		require.NoError(t, b.DeleteContainer(ctx, src))
		require.Equal(t, big, read(t, b, dst, "big.bin"), "the copy outlives its source")
		require.NoError(t, b.DeleteContainer(ctx, dst))
	})

	t.Run("signed URL", func(t *testing.T) {
		b := be.New(t)
		c := tre.BlobContainer{Account: acc1, Name: name(t, "signed")}
		u, err := b.SignedURL(ctx, c, tre.BlobPermissions{Read: true, List: true}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Contains(t, u, c.Name, "the URL names the container")
		require.Contains(t, u, "sp=rl", "read and list only")
		u, err = b.SignedURL(ctx, c, tre.BlobPermissions{Read: true, Write: true, Delete: true, List: true}, time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Contains(t, u, "sp=rwdl")
	})
}

func read(t *testing.T, b tre.Blobs, c tre.BlobContainer, name string) []byte {
	t.Helper()
	rc, err := b.Open(context.Background(), c, name)
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}
