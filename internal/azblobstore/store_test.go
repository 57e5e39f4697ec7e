package azblobstore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/azblobstore"
	"github.com/tre-go/tre/internal/azblobstore/azuritetest"
	"github.com/tre-go/tre/internal/blobtest"
	"github.com/tre-go/tre/internal/tre"
)

func open(t *testing.T) *azblobstore.Store {
	t.Helper()
	srv := azuritetest.Start(t)
	s, err := azblobstore.New(azblobstore.Config{Endpoint: srv.Endpoint, AccountName: srv.Account, AccountKey: srv.Key, CopyPoll: 10 * time.Millisecond})
	require.NoError(t, err)
	return s
}

// upload puts a blob as a user does: an HTTP PUT to a URL the store
// signed for writing, as curl --upload-file and AzureTRE's e2e upload do.
func upload(t *testing.T, b tre.Blobs, c tre.BlobContainer, name string, data []byte) {
	t.Helper()
	u, err := b.SignedURL(context.Background(), c, tre.BlobPermissions{Read: true, Write: true, Delete: true, List: true}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	parsed.Path += "/" + name
	req, err := http.NewRequest(http.MethodPut, parsed.String(), bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
}

func TestConformsOnAzurite(t *testing.T) {
	blobtest.Run(t, blobtest.Backend{New: func(t *testing.T) tre.Blobs { return open(t) }, Upload: upload})
}

// A read-only link reads and lists, and cannot write; a link for another
// container reads nothing of this one.
func TestSignedURLsOnAzurite(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	c := tre.BlobContainer{Account: "stalimiptre1", Name: "7d1c4a56-5b5c-4d36-9a33-0e1c2b3a4d5f"}
	require.NoError(t, s.CreateContainer(ctx, c))
	upload(t, s, c, "in.txt", []byte("hello"))
	ro, err := s.SignedURL(ctx, c, tre.BlobPermissions{Read: true, List: true}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ro, azuritetest.Start(t).Endpoint+"/stalimiptre1-"+c.Name+"?"), ro)

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	base, query, _ := strings.Cut(ro, "?")
	status, body := get(base + "/in.txt?" + query)
	require.Equal(t, 200, status)
	require.Equal(t, "hello", body)
	status, body = get(ro + "&restype=container&comp=list")
	require.Equal(t, 200, status)
	require.Contains(t, body, "<Name>in.txt</Name>")

	req, err := http.NewRequest(http.MethodPut, base+"/new.txt?"+query, strings.NewReader("x"))
	require.NoError(t, err)
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a read-only link does not write")

	other := tre.BlobContainer{Account: "stalimiptre1", Name: "00000000-5b5c-4d36-9a33-0e1c2b3a4d5f"}
	otherURL, err := s.SignedURL(ctx, other, tre.BlobPermissions{Read: true, List: true}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	_, otherQuery, _ := strings.Cut(otherURL, "?")
	status, _ = get(base + "/in.txt?" + otherQuery)
	require.Equal(t, http.StatusForbidden, status, "a link is for its own container only")

	expired, err := s.SignedURL(ctx, c, tre.BlobPermissions{Read: true, List: true}, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	_, expiredQuery, _ := strings.Cut(expired, "?")
	status, _ = get(base + "/in.txt?" + expiredQuery)
	require.Equal(t, http.StatusForbidden, status, "an expired link reads nothing")
}

// A copy records where the blob came from, as AzureTRE's processor does.
func TestCopyRecordsItsSources(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	id := "9e2f4b8a-0c1d-4e5f-8a9b-1c2d3e4f5a6b"
	a, b, c := tre.BlobContainer{Account: "stalimextre1", Name: id}, tre.BlobContainer{Account: "stalimiptre1", Name: id}, tre.BlobContainer{Account: "stalimappwsabcd", Name: id}
	for _, x := range []tre.BlobContainer{a, b, c} {
		require.NoError(t, s.CreateContainer(ctx, x))
	}
	upload(t, s, a, "f.txt", []byte("data"))
	require.NoError(t, s.Copy(ctx, a, b, "f.txt"))
	require.NoError(t, s.Copy(ctx, b, c, "f.txt"))
	srv := azuritetest.Start(t)
	cred, err := service.NewSharedKeyCredential(srv.Account, srv.Key)
	require.NoError(t, err)
	bc, err := blob.NewClientWithSharedKeyCredential(srv.Endpoint+"/stalimappwsabcd-"+id+"/f.txt", cred, nil)
	require.NoError(t, err)
	props, err := bc.GetProperties(ctx, nil)
	require.NoError(t, err)
	var from string
	for k, v := range props.Metadata {
		if strings.EqualFold(k, "copied_from") {
			from = *v
		}
	}
	require.Equal(t, `["`+srv.Endpoint+`/stalimextre1-`+id+`/f.txt","`+srv.Endpoint+`/stalimiptre1-`+id+`/f.txt"]`, from)
}

// The Defender scanner reads the verdict Defender writes as a blob index
// tag; no tag is a verdict still pending.
func TestDefenderVerdictsOnAzurite(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	c := tre.BlobContainer{Account: "stalimiptre1", Name: "5b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}
	require.NoError(t, s.CreateContainer(ctx, c))
	upload(t, s, c, "a.txt", []byte("a"))
	d := &azblobstore.DefenderScanner{Store: s}
	require.False(t, d.StandIn())
	res, err := d.Verdict(ctx, c, "a.txt")
	require.NoError(t, err)
	require.Equal(t, tre.VerdictPending, res.Verdict)

	srv := azuritetest.Start(t)
	cred, err := service.NewSharedKeyCredential(srv.Account, srv.Key)
	require.NoError(t, err)
	bc, err := blob.NewClientWithSharedKeyCredential(srv.Endpoint+"/stalimiptre1-"+c.Name+"/a.txt", cred, nil)
	require.NoError(t, err)
	_, err = bc.SetTags(ctx, map[string]string{azblobstore.DefenderTag: "Malicious"}, nil)
	require.NoError(t, err)
	res, err = d.Verdict(ctx, c, "a.txt")
	require.NoError(t, err)
	require.Equal(t, tre.VerdictMalicious, res.Verdict)
	_, err = d.Verdict(ctx, c, "missing.txt")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
}

// A store that cannot reach its storage says so: unavailable, not a bug.
func TestUnreachable(t *testing.T) {
	s, err := azblobstore.New(azblobstore.Config{Endpoint: "http://127.0.0.1:1/devstoreaccount1", AccountName: azuritetest.Account, AccountKey: azuritetest.Key})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.Ping(ctx)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "%v", err)
	_, err = azblobstore.New(azblobstore.Config{AccountEndpoint: "https://x.blob.core.windows.net/"})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
}
