// Package cosmos implements the configuration store port (tre.Store) on Azure
// Cosmos DB for NoSQL, with the azcosmos SDK: one container per
// tre.Collection in one database, the store's etag being Cosmos's _etag.
//
// Its tests run it against @vercel/cosmosdb-server, an in-memory
// Cosmos-protocol server that they start with the launcher in cosmosserver/
// (which fixes three bugs of that server and makes its equality as strict as
// Cosmos's).
package cosmos

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/tre-go/tre/internal/tre"
)

// DefaultDatabase is AzureTRE's database name.
const DefaultDatabase = "AzureTRE"

// serverPageSize is Cosmos DB's page size when the client does not ask for
// one.
const serverPageSize = 100

// Config says where the store is and how to authenticate.
type Config struct {
	// Endpoint is the account's document endpoint,
	// "https://<account>.documents.azure.com:443/".
	Endpoint string
	// Database is the database name; DefaultDatabase if empty.
	Database string
	// Key is the account key (base64). Set either Key or Credential.
	Key string
	// Credential authenticates with Microsoft Entra ID (managed identity in
	// Azure, built by the caller with azidentity). Set either Key or
	// Credential.
	Credential azcore.TokenCredential
	// Transport sends the HTTP requests (an *http.Client satisfies it); the
	// SDK's default client if nil. Tests use it to accept the local server's
	// self-signed certificate.
	Transport policy.Transporter
	// Retry tunes the SDK's retries of throttled, failed and unanswered
	// requests; the zero value keeps the SDK's defaults (3 retries, backing
	// off from 0.8 s). Note that the first request of a store fetches the
	// account's metadata detached from the caller's context (the SDK shares
	// that fetch between callers), so against an unreachable endpoint Open
	// returns only when these retries are exhausted: about 8 s by default.
	Retry policy.RetryOptions
	// PageSize is the number of items asked for per query page; the
	// server's default if 0.
	PageSize int
	// TracingProvider makes the SDK's spans (one per operation, with
	// db.* attributes, and one per HTTP request); none if zero.
	TracingProvider tracing.Provider
}

// LogValue implements slog.LogValuer so that the key is never logged.
func (c Config) LogValue() slog.Value {
	auth := "credential"
	if c.Key != "" {
		auth = "key"
	}
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("database", c.Database),
		slog.String("auth", auth),
	)
}

// validate reports every problem of the configuration at once.
// Returns CodeInvalid.
func (c Config) validate() error {
	var problems []tre.FieldError
	if c.Endpoint == "" {
		problems = append(problems, tre.FieldError{Field: "Endpoint", Message: "is required"})
	}
	switch {
	case c.Key == "" && c.Credential == nil:
		problems = append(problems, tre.FieldError{Field: "Key", Message: "set a key or a credential"})
	case c.Key != "" && c.Credential != nil:
		problems = append(problems, tre.FieldError{Field: "Key", Message: "set a key or a credential, not both"})
	}
	if c.PageSize < 0 || c.PageSize > math.MaxInt32 {
		problems = append(problems, tre.FieldError{Field: "PageSize", Message: "must be 0 to 2147483647"})
	}
	return tre.InvalidFields("cosmos: bad configuration", problems)
}

// Store is the configuration store on Cosmos DB. It is safe for concurrent
// use.
type Store struct {
	client *azcosmos.Client
	db     *azcosmos.DatabaseClient
	// containers is set once, by Connect, before connected turns true.
	containers map[tre.Collection]*azcosmos.ContainerClient
	pageSize   int32
	connected  atomic.Bool
	closed     atomic.Bool
	connectMu  sync.Mutex // one Connect at a time
}

var _ tre.Store = (*Store)(nil)

// Open connects to the account and creates the database and the container
// of every collection in tre.Collections if they are absent: New, then
// Connect.
// Returns CodeInvalid for a bad configuration, CodeUnavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Connect(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store on the account without reaching it: every method
// fails with CodeUnavailable ("not connected yet") until Connect succeeds,
// so that a program can serve (its health, its other routes) while Cosmos
// DB is unreachable and keep connecting in the background.
// Returns CodeInvalid for a bad configuration.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	opts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: cfg.Transport, Retry: cfg.Retry,
		TracingProvider: cfg.TracingProvider}}
	var client *azcosmos.Client
	var err error
	if cfg.Key != "" {
		cred, kerr := azcosmos.NewKeyCredential(cfg.Key)
		if kerr != nil {
			return nil, tre.WrapError(tre.CodeInvalid, kerr, "cosmos: bad configuration: Key: not a valid account key")
		}
		client, err = azcosmos.NewClientWithKey(cfg.Endpoint, cred, opts)
	} else {
		client, err = azcosmos.NewClient(cfg.Endpoint, cfg.Credential, opts)
	}
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "cosmos: bad configuration")
	}
	db, err := client.NewDatabase(cfg.Database)
	if err != nil {
		client.Close()
		return nil, tre.WrapError(tre.CodeInvalid, err, "cosmos: bad database name %q", cfg.Database)
	}
	return &Store{client: client, db: db, pageSize: int32(cfg.PageSize)}, nil
}

// Connect reads the database and the container of every collection in
// tre.Collections, creating those that are absent. Existing ones are only
// read (with a managed identity, data-plane RBAC cannot create them: they
// come from the deployment), and a container partitioned otherwise than
// tre.Collections says is an error. Once it has succeeded, later calls do
// nothing.
//
// It returns when ctx ends, though the SDK's first request of an account
// (the fetch of its metadata) goes on detached from ctx, through all its
// retries (about 10 s against an unreachable account): that attempt ends on
// its own, and connects the store if it succeeds. So a caller bounds its
// wait, and a program stopping does not wait for the SDK.
// Returns CodeUnavailable (the account is unreachable), or an error
// without a code for a container partitioned otherwise.
func (s *Store) Connect(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.connect(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return tre.WrapError(tre.CodeUnavailable, fmt.Errorf("cosmos: connect: %w", ctx.Err()), unavailableMessage)
	}
}

func (s *Store) connect(ctx context.Context) error {
	s.connectMu.Lock()
	defer s.connectMu.Unlock()
	if s.connected.Load() {
		return nil
	}
	if s.closed.Load() {
		return tre.WrapError(tre.CodeUnavailable, errClosed, unavailableMessage)
	}
	if err := s.ensureDatabase(ctx); err != nil {
		return err
	}
	containers := make(map[tre.Collection]*azcosmos.ContainerClient)
	// Sorted, so that the first missing container of a failed Connect is
	// always the same one.
	for _, c := range slices.Sorted(maps.Keys(tre.Collections)) {
		container, err := s.ensureContainer(ctx, c, tre.Collections[c])
		if err != nil {
			return err
		}
		containers[c] = container
	}
	s.containers = containers
	s.connected.Store(true)
	return nil
}

func (s *Store) ensureDatabase(ctx context.Context) error {
	_, err := s.db.Read(ctx, nil)
	if statusCode(err) == http.StatusNotFound {
		_, err = s.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: s.db.ID()}, nil)
		if statusCode(err) == http.StatusConflict { // created meanwhile by another instance
			err = nil
		}
	}
	if err != nil {
		return storeError(fmt.Errorf("cosmos: open database %s: %w", s.db.ID(), err))
	}
	return nil
}

func (s *Store) ensureContainer(ctx context.Context, c tre.Collection, pkPath string) (*azcosmos.ContainerClient, error) {
	container, err := s.db.NewContainer(string(c))
	if err != nil {
		return nil, fmt.Errorf("cosmos: open container %s: %w", c, err)
	}
	resp, err := container.Read(ctx, nil)
	switch {
	case err == nil:
		if paths := resp.ContainerProperties.PartitionKeyDefinition.Paths; !slices.Equal(paths, []string{pkPath}) {
			return nil, fmt.Errorf("cosmos: container %s is partitioned by %v, the store needs %s", c, paths, pkPath)
		}
		return container, nil
	case statusCode(err) == http.StatusNotFound:
		_, err = s.db.CreateContainer(ctx, azcosmos.ContainerProperties{
			ID:                     string(c),
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{pkPath}},
		}, nil)
		if err == nil || statusCode(err) == http.StatusConflict { // 409: created meanwhile
			return container, nil
		}
	}
	return nil, storeError(fmt.Errorf("cosmos: open container %s: %w", c, err))
}

// container returns the client of collection c, after the checks every
// method makes. Returns CodeInvalid, CodeUnavailable after Close.
func (s *Store) container(c tre.Collection, point bool) (*azcosmos.ContainerClient, error) {
	if s.closed.Load() {
		return nil, tre.WrapError(tre.CodeUnavailable, errClosed, unavailableMessage)
	}
	if !s.connected.Load() {
		return nil, tre.WrapError(tre.CodeUnavailable, errNotConnected, notConnectedMessage)
	}
	if err := tre.CheckCollection(c, point); err != nil {
		return nil, err
	}
	return s.containers[c], nil
}

var (
	errClosed       = errors.New("cosmos: store is closed")
	errNotConnected = errors.New("cosmos: not connected yet")
)

// Create implements tre.Store. The partition key is the document's value at
// the collection's partition key path.
func (s *Store) Create(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	container, err := s.container(c, false)
	if err != nil {
		return tre.Document{}, err
	}
	data, pk, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	resp, err := container.CreateItem(ctx, azcosmos.NewPartitionKeyString(pk), data, nil)
	if err != nil {
		return tre.Document{}, itemError(fmt.Errorf("cosmos: create %s/%s: %w", c, doc.ID, err), c, doc.ID, "")
	}
	return written(c, doc.ID, data, resp)
}

// Get implements tre.Store.
func (s *Store) Get(ctx context.Context, c tre.Collection, id string) (tre.Document, error) {
	container, err := s.container(c, true)
	if err != nil {
		return tre.Document{}, err
	}
	if tre.CheckID(id) != nil { // no such document can exist
		return tre.Document{}, tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	resp, err := container.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
	if err != nil {
		return tre.Document{}, itemError(fmt.Errorf("cosmos: get %s/%s: %w", c, id, err), c, id, "")
	}
	doc, err := readDocument(resp.Value)
	if err != nil {
		return tre.Document{}, fmt.Errorf("cosmos: get %s/%s: %w", c, id, err)
	}
	if resp.ETag != "" {
		doc.ETag = string(resp.ETag)
	}
	return doc, nil
}

// Replace implements tre.Store.
func (s *Store) Replace(ctx context.Context, c tre.Collection, doc tre.Document) (tre.Document, error) {
	container, err := s.container(c, true)
	if err != nil {
		return tre.Document{}, err
	}
	data, _, err := tre.CheckDocument(c, doc)
	if err != nil {
		return tre.Document{}, err
	}
	resp, err := container.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(doc.ID), doc.ID, data, ifMatch(doc.ETag))
	if err != nil {
		return tre.Document{}, itemError(fmt.Errorf("cosmos: replace %s/%s: %w", c, doc.ID, err), c, doc.ID, doc.ETag)
	}
	return written(c, doc.ID, data, resp)
}

// Delete implements tre.Store.
func (s *Store) Delete(ctx context.Context, c tre.Collection, id, etag string) error {
	container, err := s.container(c, true)
	if err != nil {
		return err
	}
	if tre.CheckID(id) != nil {
		return tre.Errorf(tre.CodeNotFound, "%s %s not found", c, id)
	}
	if _, err := container.DeleteItem(ctx, azcosmos.NewPartitionKeyString(id), id, ifMatch(etag)); err != nil {
		return itemError(fmt.Errorf("cosmos: delete %s/%s: %w", c, id, err), c, id, etag)
	}
	return nil
}

// ifMatch returns the options of a write conditional on etag, or nil (an
// unconditional write) for an empty etag.
func ifMatch(etag string) *azcosmos.ItemOptions {
	if etag == "" {
		return nil
	}
	e := azcore.ETag(etag)
	return &azcosmos.ItemOptions{IfMatchEtag: &e}
}

// written builds the result of a write from what was sent and the response
// headers: Cosmos returns no body on writes by default (and the SDK asks for
// none), so the etag comes from the ETag header.
func written(c tre.Collection, id string, data json.RawMessage, resp azcosmos.ItemResponse) (tre.Document, error) {
	if resp.ETag == "" {
		// Returning an empty etag would turn the caller's next conditional
		// write into an unconditional one.
		return tre.Document{}, fmt.Errorf("cosmos: write %s/%s: response has no etag", c, id)
	}
	return tre.Document{ID: id, ETag: string(resp.ETag), Data: data}, nil
}

// Query implements tre.Store. It runs one parameterized, cross-partition
// query and follows the continuation tokens until the end or until Limit
// documents are read.
func (s *Store) Query(ctx context.Context, c tre.Collection, q tre.Query) ([]tre.Document, error) {
	container, err := s.container(c, false)
	if err != nil {
		return nil, err
	}
	sql, params, err := buildQuery(q)
	if err != nil {
		return nil, err
	}
	opts := &azcosmos.QueryOptions{QueryParameters: params, PageSizeHint: s.pageSize}
	pageSize := int(s.pageSize)
	if pageSize <= 0 {
		pageSize = serverPageSize
	}
	if q.Limit > 0 && q.Limit < pageSize { // ask for no more than needed, never for more than usual
		opts.PageSizeHint = int32(q.Limit)
	}
	pager := container.NewQueryItemsPager(sql, azcosmos.NewPartitionKey(), opts)
	var out []tre.Document
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, storeError(fmt.Errorf("cosmos: query %s: %w", c, err))
		}
		for _, item := range page.Items {
			doc, err := readDocument(item)
			if err != nil {
				return nil, fmt.Errorf("cosmos: query %s: %w", c, err)
			}
			out = append(out, doc)
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// QueryPage implements tre.Store with Cosmos DB's own paging: one query
// page per call, the next page named by the service's continuation token
// (wrapped, URL-safe, in ours).
func (s *Store) QueryPage(ctx context.Context, c tre.Collection, q tre.Query, size int, token string) (tre.Page, error) {
	container, err := s.container(c, false)
	if err != nil {
		return tre.Page{}, err
	}
	if size <= 0 || size > math.MaxInt32 {
		return tre.Page{}, tre.Errorf(tre.CodeInvalid, "page size must be 1 to %d, not %d", math.MaxInt32, size)
	}
	q.Limit = 0
	sql, params, err := buildQuery(q)
	if err != nil {
		return tre.Page{}, err
	}
	opts := &azcosmos.QueryOptions{QueryParameters: params, PageSizeHint: int32(size)}
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) == 0 {
			return tre.Page{}, tre.FieldErrorf(tre.CodeInvalid, "continuation", "%q is not a continuation token of this list", token)
		}
		t := string(raw)
		opts.ContinuationToken = &t
	}
	resp, err := container.NewQueryItemsPager(sql, azcosmos.NewPartitionKey(), opts).NextPage(ctx)
	if err != nil {
		return tre.Page{}, storeError(fmt.Errorf("cosmos: query page of %s: %w", c, err))
	}
	page := tre.Page{Documents: make([]tre.Document, 0, len(resp.Items))}
	for _, item := range resp.Items {
		doc, err := readDocument(item)
		if err != nil {
			return tre.Page{}, fmt.Errorf("cosmos: query page of %s: %w", c, err)
		}
		page.Documents = append(page.Documents, doc)
	}
	if resp.ContinuationToken != nil && *resp.ContinuationToken != "" {
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(*resp.ContinuationToken))
	}
	return page, nil
}

// readDocument turns a stored item into a Document: the etag from _etag,
// Data without the system fields.
func readDocument(item []byte) (tre.Document, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(item, &m); err != nil {
		return tre.Document{}, fmt.Errorf("decode item: %w", err)
	}
	var id, etag string
	if err := json.Unmarshal(m["id"], &id); err != nil {
		return tre.Document{}, fmt.Errorf("decode item id: %w", err)
	}
	if raw, ok := m["_etag"]; ok {
		if err := json.Unmarshal(raw, &etag); err != nil {
			return tre.Document{}, fmt.Errorf("decode item %s etag: %w", id, err)
		}
	}
	for _, f := range tre.SystemFields {
		delete(m, f)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return tre.Document{}, fmt.Errorf("encode item %s: %w", id, err)
	}
	return tre.Document{ID: id, ETag: etag, Data: data}, nil
}

// Ping implements tre.Store by reading the database's properties.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return tre.WrapError(tre.CodeUnavailable, errClosed, unavailableMessage)
	}
	if !s.connected.Load() {
		return tre.WrapError(tre.CodeUnavailable, errNotConnected, notConnectedMessage)
	}
	if _, err := s.db.Read(ctx, nil); err != nil {
		return tre.WrapError(tre.CodeUnavailable, fmt.Errorf("cosmos: ping: %w", err), unavailableMessage)
	}
	return nil
}

// Close implements tre.Store. It releases the SDK client's share of the
// account's caches (idle connections belong to the transport) and makes
// later calls fail with CodeUnavailable. It may be called more than once.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.client.Close()
	}
	return nil
}
