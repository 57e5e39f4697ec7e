package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/cosmos/cosmostest"
	"github.com/tre-go/tre/internal/storetest"
	"github.com/tre-go/tre/internal/tre"
)

// The tests run against the local Cosmos-protocol server of cosmostest,
// one for the test binary, each in a database of its own (newDatabase).
// Without Node.js they skip, unless TRE_REQUIRE_NODE=1 (CI) makes them fail.

func TestStoreConformance(t *testing.T) {
	cosmostest.Start(t) // skip once, not in every case
	storetest.Run(t, func(t *testing.T) func() tre.Store {
		cfg := newDatabase(t)
		return func() tre.Store {
			s, err := Open(context.Background(), cfg)
			require.NoError(t, err)
			return s
		}
	})
}

// TestStoreConformanceMinimalWriteResponses runs the suite with write
// responses stripped of their body, as real Cosmos DB sends them (the local
// server ignores "Prefer: return=minimal"): the store must take what it
// needs from the headers.
func TestStoreConformanceMinimalWriteResponses(t *testing.T) {
	strip := &minimalWrites{next: cosmostest.Start(t).Client}
	storetest.Run(t, func(t *testing.T) func() tre.Store {
		cfg := newDatabase(t)
		cfg.Transport = strip
		return func() tre.Store {
			s, err := Open(context.Background(), cfg)
			require.NoError(t, err)
			return s
		}
	})
	require.Positive(t, strip.stripped.Load())
	require.Zero(t, strip.notMinimal.Load(), "writes that did not ask for a minimal response")
}

// minimalWrites drops the body of document write responses.
type minimalWrites struct {
	next       *http.Client
	stripped   atomic.Int64
	notMinimal atomic.Int64
}

func (m *minimalWrites) Do(req *http.Request) (*http.Response, error) {
	resp, err := m.next.Do(req)
	write := (req.Method == http.MethodPost || req.Method == http.MethodPut) &&
		strings.Contains(req.URL.Path, "/docs") && !isQuery(req)
	if err != nil || !write {
		return resp, err
	}
	if req.Header.Get("Prefer") != "return=minimal" {
		m.notMinimal.Add(1)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp.Body = http.NoBody
	resp.ContentLength = 0
	resp.Header.Del("Content-Length")
	m.stripped.Add(1)
	return resp, nil
}

// newDatabase returns the configuration of a database of its own on the
// shared server (each query scans whole containers there, so tests do not
// share data), deleted at the end of the test.
func newDatabase(t *testing.T) Config {
	t.Helper()
	srv := cosmostest.Start(t)
	cfg := Config{Endpoint: srv.Endpoint, Database: cosmostest.DatabaseName(), Key: srv.Key, Transport: srv.Client}
	t.Cleanup(func() {
		client := rawClient(t, cfg)
		db, err := client.NewDatabase(cfg.Database)
		require.NoError(t, err)
		_, err = db.Delete(context.Background(), nil)
		if statusCode(err) != 404 { // the test never opened it
			require.NoError(t, err)
		}
	})
	return cfg
}

// openStore opens a store on cfg, closed at the end of the test.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is an SDK client on cfg's account, for looking behind the
// store's back.
func rawClient(t *testing.T, cfg Config) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(cfg.Key)
	require.NoError(t, err)
	client, err := azcosmos.NewClientWithKey(cfg.Endpoint, cred, &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: cfg.Transport},
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return client
}

func rawContainer(t *testing.T, cfg Config, c tre.Collection) *azcosmos.ContainerClient {
	t.Helper()
	container, err := rawClient(t, cfg).NewContainer(cfg.Database, string(c))
	require.NoError(t, err)
	return container
}

func TestOpenCreatesContainersWithPartitionKeys(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	require.NoError(t, s.Ping(ctx))

	for c, pk := range tre.Collections {
		resp, err := rawContainer(t, cfg, c).Read(ctx, nil)
		require.NoError(t, err, "container %s", c)
		require.Equal(t, []string{pk}, resp.ContainerProperties.PartitionKeyDefinition.Paths, "container %s", c)
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	first := openStore(t, cfg)
	created, err := first.Create(ctx, tre.Resources, tre.Document{ID: "r1", Data: []byte(`{"id":"r1","v":1}`)})
	require.NoError(t, err)

	// A second Open on the existing database reads what the first wrote.
	second := openStore(t, cfg)
	got, err := second.Get(ctx, tre.Resources, "r1")
	require.NoError(t, err)
	require.Equal(t, created.ETag, got.ETag)
	require.JSONEq(t, `{"id":"r1","v":1}`, string(got.Data))
}

func TestOpenConcurrentCreators(t *testing.T) {
	// Several instances starting at once on a new database all race to
	// create it and its containers: the losers' 409s are not errors.
	cfg := newDatabase(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), cfg)
			if err == nil {
				err = s.Ping(context.Background())
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "instance %d", i)
	}
}

func TestOpenRejectsWrongPartitionKey(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	client := rawClient(t, cfg)
	_, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: cfg.Database}, nil)
	require.NoError(t, err)
	db, err := client.NewDatabase(cfg.Database)
	require.NoError(t, err)
	_, err = db.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     string(tre.Resources),
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/workspaceId"}},
	}, nil)
	require.NoError(t, err)

	_, err = Open(ctx, cfg)
	require.ErrorContains(t, err, "container Resources is partitioned by [/workspaceId], the store needs /id")
}

func TestOpenRejectsBadConfig(t *testing.T) {
	_, err := Open(context.Background(), Config{PageSize: -1})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	// Every problem at once.
	for _, want := range []string{"Endpoint: is required", "Key: set a key or a credential", "PageSize: must be 0 to 2147483647"} {
		require.ErrorContains(t, err, want)
	}

	_, err = Open(context.Background(), Config{Endpoint: "https://127.0.0.1:1/", Key: "not base64!"})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), "error: %v", err)
}

func TestConfigLogValueHidesKey(t *testing.T) {
	var sb strings.Builder
	log := slog.New(slog.NewJSONHandler(&sb, nil))
	log.Info("open", "cosmos", Config{Endpoint: "https://a.documents.azure.com/", Database: "AzureTRE", Key: "c2VjcmV0LWtleQ=="})
	require.Contains(t, sb.String(), `"endpoint":"https://a.documents.azure.com/"`)
	require.Contains(t, sb.String(), `"auth":"key"`)
	require.NotContains(t, sb.String(), "c2VjcmV0LWtleQ==")
}

func TestDataHasNoSystemFields(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	// System fields the caller put in Data are dropped on the way in.
	created, err := s.Create(ctx, tre.Resources, tre.Document{ID: "r1", Data: []byte(`{"id":"r1","v":1,"_rid":"x","_ts":1,"_self":"y"}`)})
	require.NoError(t, err)
	requireNoSystemFields(t, created.Data)

	// The server keeps its own (the raw item proves they are there to strip).
	raw, err := rawContainer(t, cfg, tre.Resources).ReadItem(ctx, azcosmos.NewPartitionKeyString("r1"), "r1", nil)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw.Value, &m))
	for _, f := range []string{"_rid", "_self", "_etag", "_ts"} {
		require.Contains(t, m, f)
	}
	require.NotEqual(t, "x", m["_rid"])

	got, err := s.Get(ctx, tre.Resources, "r1")
	require.NoError(t, err)
	requireNoSystemFields(t, got.Data)
	require.JSONEq(t, `{"id":"r1","v":1}`, string(got.Data))
	require.Equal(t, m["_etag"], got.ETag)

	replaced, err := s.Replace(ctx, tre.Resources, tre.Document{ID: "r1", ETag: got.ETag, Data: []byte(`{"id":"r1","v":2,"_etag":"stale"}`)})
	require.NoError(t, err)
	requireNoSystemFields(t, replaced.Data)

	docs, err := s.Query(ctx, tre.Resources, tre.Query{})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	requireNoSystemFields(t, docs[0].Data)
	require.JSONEq(t, `{"id":"r1","v":2}`, string(docs[0].Data))
	require.Equal(t, replaced.ETag, docs[0].ETag)
}

func requireNoSystemFields(t *testing.T, data json.RawMessage) {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, f := range tre.SystemFields {
		require.NotContains(t, m, f, "data %s", data)
	}
}

func TestQueryPages(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	cfg.PageSize = 3
	queries := &queryCounter{next: cosmostest.Start(t).Client}
	cfg.Transport = queries
	s := openStore(t, cfg)
	const n = 10
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		_, err := s.Create(ctx, tre.Resources, tre.Document{ID: id, Data: fmt.Appendf(nil, `{"id":%q,"even":%t}`, id, i%2 == 0)})
		require.NoError(t, err)
	}

	docs, err := s.Query(ctx, tre.Resources, tre.Query{})
	require.NoError(t, err)
	require.Len(t, docs, n, "every page is read")
	seen := map[string]bool{}
	for _, d := range docs {
		seen[d.ID] = true
	}
	require.Len(t, seen, n)
	require.Equal(t, int64(4), queries.pages.Swap(0), "10 documents, 3 a page")
	require.Equal(t, int64(3), queries.continued.Swap(0), "pages after the first continue the query")

	docs, err = s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{tre.Eq("even", true)}})
	require.NoError(t, err)
	require.Len(t, docs, n/2)

	// Limit stops reading pages: 7 documents are in the first 3.
	queries.pages.Store(0)
	docs, err = s.Query(ctx, tre.Resources, tre.Query{Limit: 7})
	require.NoError(t, err)
	require.Len(t, docs, 7)
	require.Equal(t, int64(3), queries.pages.Load())

	// A Limit under the page size asks for no more than that.
	queries.pages.Store(0)
	docs, err = s.Query(ctx, tre.Resources, tre.Query{Limit: 2})
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, int64(1), queries.pages.Load())
	require.Equal(t, "2", queries.lastMaxItems.Load())
}

func isQuery(req *http.Request) bool {
	return req.Header.Get("x-ms-documentdb-isquery") != "" || req.Header.Get("Content-Type") == "application/query+json"
}

// queryCounter counts the query pages a store asks for.
type queryCounter struct {
	next         *http.Client
	pages        atomic.Int64
	continued    atomic.Int64
	lastMaxItems atomic.Value
}

func (q *queryCounter) Do(req *http.Request) (*http.Response, error) {
	if isQuery(req) {
		q.pages.Add(1)
		if req.Header.Get("x-ms-continuation") != "" {
			q.continued.Add(1)
		}
		q.lastMaxItems.Store(req.Header.Get("x-ms-max-item-count"))
	}
	return q.next.Do(req)
}

func TestErrorCodes(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	v1, err := s.Create(ctx, tre.Resources, tre.Document{ID: "r", Data: []byte(`{"id":"r"}`)})
	require.NoError(t, err)
	v2, err := s.Replace(ctx, tre.Resources, tre.Document{ID: "r", ETag: v1.ETag, Data: []byte(`{"id":"r","n":2}`)})
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		err  func() error
		code tre.Code
		msg  string
	}{
		{"create existing", func() error {
			_, err := s.Create(ctx, tre.Resources, tre.Document{ID: "r", Data: []byte(`{"id":"r"}`)})
			return err
		}, tre.CodeConflict, "Resources r already exists"},
		{"get missing", func() error { _, err := s.Get(ctx, tre.Resources, "nope"); return err }, tre.CodeNotFound, "Resources nope not found"},
		{"get impossible id", func() error { _, err := s.Get(ctx, tre.Resources, "a/b"); return err }, tre.CodeNotFound, "Resources a/b not found"},
		{"replace stale", func() error {
			_, err := s.Replace(ctx, tre.Resources, tre.Document{ID: "r", ETag: v1.ETag, Data: []byte(`{"id":"r"}`)})
			return err
		}, tre.CodePreconditionFailed, "Resources r has changed since etag " + v1.ETag + " was read"},
		{"replace missing", func() error {
			_, err := s.Replace(ctx, tre.Resources, tre.Document{ID: "nope", Data: []byte(`{"id":"nope"}`)})
			return err
		}, tre.CodeNotFound, "Resources nope not found"},
		{"delete stale", func() error { return s.Delete(ctx, tre.Resources, "r", v1.ETag) }, tre.CodePreconditionFailed, "has changed"},
		{"delete missing", func() error { return s.Delete(ctx, tre.Resources, "nope", "") }, tre.CodeNotFound, "Resources nope not found"},
		{"replace partitioned", func() error {
			_, err := s.Replace(ctx, tre.ResourceHistory, tre.Document{ID: "h", Data: []byte(`{"id":"h","resourceId":"r"}`)})
			return err
		}, tre.CodeInvalid, "no point access"},
		{"query unknown collection", func() error { _, err := s.Query(ctx, "Nope", tre.Query{}); return err }, tre.CodeInvalid, "unknown collection"},
		{"query bad op", func() error {
			_, err := s.Query(ctx, tre.Resources, tre.Query{Where: []tre.Cond{{Path: "a", Op: 99, Value: "x"}}})
			return err
		}, tre.CodeInvalid, "unknown operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			require.Equal(t, tc.code, tre.ErrorCode(err), "error: %v", err)
			require.Contains(t, tre.ErrorMessage(err), tc.msg)
		})
	}

	// The failed calls changed nothing.
	got, err := s.Get(ctx, tre.Resources, "r")
	require.NoError(t, err)
	require.Equal(t, v2.ETag, got.ETag)

	// The vendor error stays in the chain for the logs, with the context.
	_, err = s.Get(ctx, tre.Resources, "nope")
	require.ErrorContains(t, err, "cosmos: get Resources/nope: ")
	require.Equal(t, 404, statusCode(err))
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, newDatabase(t))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err = s.Get(ctx, tre.Resources, "r")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(s.Ping(ctx)))
}

func TestUnreachable(t *testing.T) {
	// A port nobody listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "https://" + l.Addr().String() + "/"
	require.NoError(t, l.Close())

	// Without retries: with the default ones this takes about 8 s (see
	// Config.Retry).
	_, err = Open(context.Background(), Config{Endpoint: endpoint, Key: cosmostest.Key, Transport: cosmostest.NewClient(),
		Retry: policy.RetryOptions{MaxRetries: -1}})
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "error: %v", err)
	require.Equal(t, "The configuration store (Cosmos DB) is not responding", tre.ErrorMessage(err))
	require.ErrorContains(t, err, "connection refused")
}

func TestPlainHTTPAndServerGone(t *testing.T) {
	// A server of its own, over plain HTTP (the launcher's --http), that
	// the test stops under the store.
	srv := cosmostest.StartInstance(t, cosmostest.Options{PlainHTTP: true})
	require.True(t, strings.HasPrefix(srv.Endpoint, "http://"), srv.Endpoint)

	ctx := context.Background()
	s := openStore(t, Config{Endpoint: srv.Endpoint, Database: "plain", Key: srv.Key})
	created, err := s.Create(ctx, tre.Resources, tre.Document{ID: "r1", Data: []byte(`{"id":"r1"}`)})
	require.NoError(t, err)
	got, err := s.Get(ctx, tre.Resources, "r1")
	require.NoError(t, err)
	require.Equal(t, created.ETag, got.ETag)
	require.NoError(t, s.Ping(ctx))

	require.NoError(t, srv.Stop())
	// The SDK retries reads for seconds (same region, then failover): the
	// caller's deadline bounds that.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	err = s.Ping(ctx)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "error: %v", err)
	_, err = s.Get(ctx, tre.Resources, "r1")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "error: %v", err)
	t.Logf("unavailable after %v: %v", time.Since(start), err)
}

func TestOpenWithTokenCredential(t *testing.T) {
	// The server accepts any authorization: check what the store sends.
	ctx := context.Background()
	cfg := newDatabase(t)
	auth := &authRecorder{next: cosmostest.Start(t).Client}
	cfg.Key, cfg.Credential, cfg.Transport = "", staticToken("entra-token"), auth
	s := openStore(t, cfg)
	_, err := s.Create(ctx, tre.Resources, tre.Document{ID: "r1", Data: []byte(`{"id":"r1"}`)})
	require.NoError(t, err)
	require.Equal(t, "type=aad&ver=1.0&sig=entra-token", auth.last.Load())
}

type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// authRecorder keeps the Authorization header of the last request.
type authRecorder struct {
	next *http.Client
	last atomic.Value
}

func (a *authRecorder) Do(req *http.Request) (*http.Response, error) {
	a.last.Store(req.Header.Get("Authorization"))
	return a.next.Do(req)
}
