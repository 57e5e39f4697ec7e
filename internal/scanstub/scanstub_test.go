package scanstub_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/blobtest"
	"github.com/tre-go/tre/internal/scanstub"
	"github.com/tre-go/tre/internal/tre"
)

func TestVerdicts(t *testing.T) {
	blobs := blobtest.NewFake()
	c := tre.BlobContainer{Account: "stalimiplocal", Name: "r1"}
	filler := bytes.Repeat([]byte("x"), 64<<10-10) // the string straddles two read chunks
	blobs.Put(c, "clean.txt", []byte("hello"))
	blobs.Put(c, "eicar.com", []byte(scanstub.EICAR))
	blobs.Put(c, "inside.bin", append(append(filler, scanstub.EICAR...), filler...))
	blobs.Put(c, "almost.txt", []byte(scanstub.EICAR[:len(scanstub.EICAR)-1]))
	s := &scanstub.Scanner{Blobs: blobs}
	require.True(t, s.StandIn())
	for name, want := range map[string]tre.ScanVerdict{"clean.txt": tre.VerdictClean, "eicar.com": tre.VerdictMalicious,
		"inside.bin": tre.VerdictMalicious, "almost.txt": tre.VerdictClean} {
		res, err := s.Verdict(context.Background(), c, name)
		require.NoError(t, err)
		require.Equal(t, want, res.Verdict, name)
		require.Contains(t, res.Detail, "stand-in", "every result says it comes from the stand-in")
	}
	_, err := s.Verdict(context.Background(), c, "missing")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
}
