package blobtest_test

import (
	"testing"

	"github.com/tre-go/tre/internal/blobtest"
	"github.com/tre-go/tre/internal/tre"
)

func TestFakeConforms(t *testing.T) {
	blobtest.Run(t, blobtest.Backend{
		New: func(t *testing.T) tre.Blobs { return blobtest.NewFake() },
		Upload: func(t *testing.T, b tre.Blobs, c tre.BlobContainer, name string, data []byte) {
			b.(*blobtest.Fake).Put(c, name, data)
		},
	})
}
