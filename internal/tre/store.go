package tre

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync"
)

// Store is the configuration store port: a document store with optimistic
// concurrency, shaped after the Cosmos DB SQL API so that the embedded SQLite
// adapter and the Cosmos adapter implement the same few semantics. Typed
// access (resources, templates, operations) is built on top of it by the
// packages that own those documents.
//
// Every adapter passes the conformance suite in internal/storetest.
type Store interface {
	// Create stores a new document. Returns CodeConflict if a document with
	// the same id exists in the collection, CodeInvalid if doc is malformed.
	Create(ctx context.Context, c Collection, doc Document) (Document, error)
	// Get reads a document by id. Returns CodeNotFound.
	Get(ctx context.Context, c Collection, id string) (Document, error)
	// Replace overwrites an existing document. If doc.ETag is not empty the
	// write happens only if it is the document's current etag, otherwise it
	// returns CodePreconditionFailed. Returns CodeNotFound if the document
	// does not exist.
	Replace(ctx context.Context, c Collection, doc Document) (Document, error)
	// Delete removes a document, under the same etag rule as Replace.
	// Returns CodeNotFound, CodePreconditionFailed.
	Delete(ctx context.Context, c Collection, id, etag string) error
	// Query returns the documents of a collection that satisfy every
	// condition, in no particular order.
	Query(ctx context.Context, c Collection, q Query) ([]Document, error)
	// QueryPage is Query one page at a time: up to size (> 0) documents
	// after the position of token ("" for the first page), in an order the
	// store keeps across pages, and the token of the next page ("" after
	// the last; a page may be short or empty with more to come). q.Limit
	// is ignored. A document that matches from the first page to the last
	// is returned exactly once; one written meanwhile may or may not be.
	// Tokens are opaque (URL-safe). Returns CodeInvalid for size <= 0 or a
	// malformed token.
	QueryPage(ctx context.Context, c Collection, q Query, size int, token string) (Page, error)
	// Ping checks that the store answers. Returns CodeUnavailable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Page is one page of a QueryPage.
type Page struct {
	Documents []Document
	// Next is the token of the next page; "" after the last.
	Next string
}

// Atomic is an optional capability of a store and a queue kept in one
// database (the embedded SQLite adapter; Cosmos DB and Service Bus cannot
// share a transaction): the store writes and sends that fn makes through
// the store and sender it is given commit together, durably, or none of
// them does. Reads through that store see fn's own writes. fn must not
// use another handle of the same database meanwhile (the adapter fails
// such a write rather than wait for itself), and must not keep the store
// or sender past its return. fn's error is returned as is.
type Atomic interface {
	Atomically(ctx context.Context, fn func(ctx context.Context, store Store, sender Sender) error) error
}

// Ahead is an optional capability of an Atomic: AtomicallyAhead is
// Atomically for a fn that may run twice, which takes most of its work out
// of the one writer's turn. The adapter first runs fn on committed data,
// beside other writes, recording the documents it reads and what it writes
// and sends; in the writer's turn it checks that every document fn read is
// unchanged and, if so, applies the recorded writes and sends without
// running fn again. If one changed, or fn queried (a query's answer cannot
// be checked that cheaply), or fn failed, fn runs again inside the
// transaction, as Atomically runs it.
//
// fn must therefore have no effect outside the store and sender it is
// given other than its results, which it sets anew on every run: a value
// it returns, work it defers until after the commit. Reads and writes
// through that store see fn's own writes, as in Atomically.
type Ahead interface {
	Atomic
	AtomicallyAhead(ctx context.Context, fn func(ctx context.Context, store Store, sender Sender) error) error
}

// Collection names a set of documents: a Cosmos container, a SQLite table
// partition. The first five are AzureTRE's containers.
type Collection string

// Collections.
const (
	Resources         Collection = "Resources"
	ResourceTemplates Collection = "ResourceTemplates"
	ResourceHistory   Collection = "ResourceHistory"
	Operations        Collection = "Operations"
	// TemplateNames holds one TemplateName pointer per template name.
	TemplateNames Collection = "TemplateNames"
	// WorkspaceUsers holds workspace role assignments.
	WorkspaceUsers Collection = "WorkspaceUsers"
	// Leases holds short-lived exclusive leases (one writer at a time
	// across several handler instances).
	Leases Collection = "Leases"
	// FirewallRules holds admins' manual egress rule collections and the
	// firewall service's record of what it applied.
	FirewallRules Collection = "FirewallRules"
	// Allocations holds ledgers of scarce things handed out to resources:
	// address spaces, the one active shared service of each template.
	Allocations Collection = "Allocations"
	// RejectedMessages records queue messages the control plane refused
	// (malformed, or about an unknown operation), for admins to see.
	RejectedMessages Collection = "RejectedMessages"
	// Agents holds the last heartbeat of each Resource Processor agent.
	Agents Collection = "Agents"
	// AuditRecords is the append-only audit trail: who changed what, when,
	// and how each operation ended.
	AuditRecords Collection = "AuditRecords"
	// UpgradeBatches holds bulk upgrades: their plan and each item's
	// progress.
	UpgradeBatches Collection = "UpgradeBatches"
	// WorkspaceCatalogs holds, per workspace, the templates and versions
	// that may be used in it.
	WorkspaceCatalogs Collection = "WorkspaceCatalogs"
)

// Collections lists every collection with its partition key path. Point
// reads and writes (Get, Replace, Delete) are supported only on collections
// partitioned by /id; the others are written with Create and read by Query.
var Collections = map[Collection]string{
	Resources:         "/id",
	ResourceTemplates: "/id",
	ResourceHistory:   "/resourceId",
	Operations:        "/id",
	TemplateNames:     "/id",
	WorkspaceUsers:    "/id",
	Leases:            "/id",
	FirewallRules:     "/id",
	Allocations:       "/id",
	RejectedMessages:  "/id",
	Agents:            "/id",
	AirlockRequests:   "/id",
	AuditRecords:      "/id",
	UpgradeBatches:    "/id",
	WorkspaceCatalogs: "/id",
}

// Document is one stored JSON object. Data holds the object including its
// "id" member; store system fields (_etag, _ts, …) are not part of it.
type Document struct {
	ID string
	// ETag is the store's version tag: set by the store on every read and
	// write, and the required current version when passed to Replace/Delete.
	ETag string
	// Data of a document a store returns is read-only: it may share
	// memory with the store (the SQLite adapter's is the string its
	// driver returned, not copied again). Decode it or copy it; never
	// write into it.
	Data json.RawMessage
}

// Query selects documents by conditions on their fields, all of which must
// hold. Limit > 0 caps the number of results.
type Query struct {
	Where []Cond
	Limit int
}

// Op is a comparison in a Cond.
type Op int

// Comparisons.
const (
	// OpEq: the field exists and equals Value.
	OpEq Op = iota + 1
	// OpNe: the field is missing or differs from Value.
	OpNe
	// OpIn: the field equals one of Values.
	OpIn
	// OpNotIn: the field is missing or equals none of Values.
	OpNotIn
	// OpPrefix: the field is a string that starts with Value.
	OpPrefix
	// OpGe: the field is of Value's type (string or number) and >= Value.
	OpGe
	// OpLt: the field is of Value's type (string or number) and < Value.
	OpLt
)

// Cond is one condition of a Query: Path is a dotted field path
// ("properties.display_name"), Value (or Values for In/NotIn) a string, bool,
// int or float64.
type Cond struct {
	Path   string
	Op     Op
	Value  any
	Values []any
}

// Eq is the condition path == v.
func Eq(path string, v any) Cond { return Cond{Path: path, Op: OpEq, Value: scalar(v)} }

// Ne is the condition "path is missing or != v".
func Ne(path string, v any) Cond { return Cond{Path: path, Op: OpNe, Value: scalar(v)} }

// In is the condition "path equals one of vs".
func In[T any](path string, vs ...T) Cond {
	return Cond{Path: path, Op: OpIn, Values: anySlice(vs)}
}

// NotIn is the condition "path is missing or equals none of vs".
func NotIn[T any](path string, vs ...T) Cond {
	return Cond{Path: path, Op: OpNotIn, Values: anySlice(vs)}
}

// Prefix is the condition "path is a string starting with p".
func Prefix(path, p string) Cond { return Cond{Path: path, Op: OpPrefix, Value: p} }

// Ge is the condition "path is of v's type and >= v": strings compare
// byte-wise, numbers by value. v is a string or a number.
func Ge(path string, v any) Cond { return Cond{Path: path, Op: OpGe, Value: scalar(v)} }

// Lt is the condition "path is of v's type and < v".
func Lt(path string, v any) Cond { return Cond{Path: path, Op: OpLt, Value: scalar(v)} }

func anySlice[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = scalar(v)
	}
	return out
}

// scalar turns values of named scalar types (Status, ResourceType, …)
// into the plain string, bool, int64 or float64 that adapters bind.
func scalar(v any) any {
	switch v.(type) {
	case string, bool, int, int64, float64, nil:
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return v
}

var pathSegment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// Validate checks a condition before an adapter turns it into a query:
// path segments are identifiers (so they can be spliced into SQL safely),
// values are scalars of a supported type.
func (c Cond) Validate() error {
	if c.Path == "" {
		return Errorf(CodeInvalid, "query: empty path")
	}
	for _, seg := range splitPath(c.Path) {
		if !pathSegment().MatchString(seg) {
			return Errorf(CodeInvalid, "query: bad path %q", c.Path)
		}
	}
	check := func(v any) error {
		switch v.(type) {
		case string, bool, int, int64, float64:
			return nil
		}
		return Errorf(CodeInvalid, "query: unsupported value %T for %s", v, c.Path)
	}
	switch c.Op {
	case OpEq, OpNe:
		return check(c.Value)
	case OpPrefix:
		if _, ok := c.Value.(string); !ok {
			return Errorf(CodeInvalid, "query: prefix of %s must be a string", c.Path)
		}
		return nil
	case OpGe, OpLt:
		if _, ok := c.Value.(bool); ok {
			return Errorf(CodeInvalid, "query: %s cannot be ordered against a boolean", c.Path)
		}
		return check(c.Value)
	case OpIn, OpNotIn:
		if len(c.Values) == 0 {
			return Errorf(CodeInvalid, "query: empty list for %s", c.Path)
		}
		for _, v := range c.Values {
			if err := check(v); err != nil {
				return err
			}
		}
		return nil
	}
	return Errorf(CodeInvalid, "query: unknown operator %d", c.Op)
}

// PathSegments splits a dotted path; adapters use it to build field access.
func (c Cond) PathSegments() []string { return splitPath(c.Path) }

func splitPath(p string) []string {
	var segs []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			segs = append(segs, p[start:i])
			start = i + 1
		}
	}
	return segs
}

// ETagSetter is implemented by document types that carry their etag.
type ETagSetter interface{ SetETag(string) }

// Decode unmarshals a document into v and, if v carries an etag, sets it.
func Decode(doc Document, v any) error {
	if err := json.Unmarshal(doc.Data, v); err != nil {
		return fmt.Errorf("decode %s: %w", doc.ID, err)
	}
	if s, ok := v.(ETagSetter); ok {
		s.SetETag(doc.ETag)
	}
	return nil
}

// Encode marshals v into a document with the given id and etag. The etag
// field of v, if any, is not stored: it lives beside the data.
func Encode(id, etag string, v any) (Document, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Document{}, fmt.Errorf("encode %s: %w", id, err)
	}
	// encoding/json's output: valid, no need to check it again.
	data, err = stripSystem(data)
	if err != nil {
		return Document{}, fmt.Errorf("encode %s: %w", id, err)
	}
	return Document{ID: id, ETag: etag, Data: data}, nil
}

// SystemFields are the store-managed members that never belong in Data.
var SystemFields = []string{"_etag", "_rid", "_self", "_ts", "_attachments", "_lsn"}

// StripSystemFields removes store-managed members (_etag, _ts, …) from a JSON
// object; adapters call it on what they read and write.
func StripSystemFields(data json.RawMessage) (json.RawMessage, error) {
	if !json.Valid(data) {
		return nil, errors.New("invalid JSON")
	}
	return stripSystem(data)
}

// stripSystem is StripSystemFields of a valid object: data itself when it
// has no system member, else its other members copied as they are, in
// their order (nothing decoded).
func stripSystem(data json.RawMessage) (json.RawMessage, error) {
	has := false
	err := EachMember(data, func(quoted, _ []byte) error {
		system, err := isSystemMember(quoted)
		has = has || system
		return err
	})
	if err != nil || !has {
		return data, err
	}
	out := append(make([]byte, 0, len(data)), '{')
	kept := 0
	err = EachMember(data, func(quoted, value []byte) error {
		if system, _ := isSystemMember(quoted); !system {
			out = appendMember(out, kept > 0, quoted, value)
			kept++
		}
		return nil
	})
	return append(out, '}'), err
}

// isSystemMember reports whether an encoded member name is one of
// SystemFields.
func isSystemMember(quoted []byte) (bool, error) {
	if !isSystemField(quoted) {
		return false, nil
	}
	name := string(quoted[1 : len(quoted)-1])
	if bytes.IndexByte(quoted, '\\') >= 0 {
		if err := json.Unmarshal(quoted, &name); err != nil {
			return false, err
		}
	}
	return slices.Contains(SystemFields, name), nil
}

func appendMember(out []byte, comma bool, quoted, value []byte) []byte {
	if comma {
		out = append(out, ',')
	}
	out = append(out, quoted...)
	out = append(out, ':')
	return append(out, value...)
}

// isSystemField reports whether an encoded member name may be one of
// SystemFields: they all begin with an underscore, which JSON can also
// spell \u005f.
func isSystemField(quoted []byte) bool {
	return len(quoted) > 1 && (quoted[1] == '_' || quoted[1] == '\\')
}

// CheckDocument validates doc for collection c the way every adapter must:
// a known collection, an id Cosmos DB accepts, and Data a JSON object whose
// "id" member equals doc.ID and that holds the collection's partition key.
// It returns Data without system fields and the partition key value.
// Returns CodeInvalid. Data is checked in one pass (json.Valid) and its
// members walked once; only id, the partition key and system fields are
// decoded.
func CheckDocument(c Collection, doc Document) (data json.RawMessage, partitionKey string, err error) {
	pkPath, ok := Collections[c]
	if !ok {
		return nil, "", Errorf(CodeInvalid, "unknown collection %q", c)
	}
	if err := CheckID(doc.ID); err != nil {
		return nil, "", err
	}
	if !json.Valid(doc.Data) {
		return nil, "", Errorf(CodeInvalid, "document %s: data is not a JSON object", doc.ID)
	}
	var id, pk any
	system := false
	err = EachMember(doc.Data, func(quoted, value []byte) error {
		if isSystemField(quoted) {
			system = true
		}
		name := string(quoted[1 : len(quoted)-1])
		if bytes.IndexByte(quoted, '\\') >= 0 {
			if err := json.Unmarshal(quoted, &name); err != nil {
				return err
			}
		}
		if name == "id" {
			id = nil
			if err := json.Unmarshal(value, &id); err != nil {
				return err
			}
		}
		if name == pkPath[1:] {
			pk = nil
			return json.Unmarshal(value, &pk)
		}
		return nil
	})
	if err != nil {
		return nil, "", Errorf(CodeInvalid, "document %s: data is not a JSON object", doc.ID)
	}
	if s, _ := id.(string); s != doc.ID {
		return nil, "", Errorf(CodeInvalid, "document %s: data has id %q", doc.ID, id)
	}
	partitionKey, _ = pk.(string)
	if partitionKey == "" {
		return nil, "", Errorf(CodeInvalid, "document %s: missing partition key %s", doc.ID, pkPath)
	}
	data = doc.Data
	if system {
		if data, err = stripSystem(doc.Data); err != nil {
			return nil, "", WrapError(CodeInvalid, err, "document %s: data is not valid JSON", doc.ID)
		}
	}
	return data, partitionKey, nil
}

// CheckID validates a document id: 1 to 255 characters, none of the four
// that Cosmos DB forbids ('/', '\', '?', '#').
func CheckID(id string) error {
	if id == "" || len(id) > 255 {
		return Errorf(CodeInvalid, "document id must have 1 to 255 characters")
	}
	for _, r := range id {
		switch r {
		case '/', '\\', '?', '#':
			return Errorf(CodeInvalid, "document id %q contains %q", id, r)
		}
	}
	return nil
}

// CheckCollection returns CodeInvalid for a collection that is not in
// Collections, and for point access to one not partitioned by /id.
func CheckCollection(c Collection, point bool) error {
	pk, ok := Collections[c]
	if !ok {
		return Errorf(CodeInvalid, "unknown collection %q", c)
	}
	if point && pk != "/id" {
		return Errorf(CodeInvalid, "collection %s is partitioned by %s: no point access by id", c, pk)
	}
	return nil
}

// GetAs reads the document id of collection c into a new T.
// Returns CodeNotFound.
func GetAs[T any](ctx context.Context, s Store, c Collection, id string) (*T, error) {
	doc, err := s.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := Decode(doc, v); err != nil {
		return nil, err
	}
	return v, nil
}

// QueryEach runs q on collection c a page of size at a time (size <= 0:
// 100) and calls fn with each result decoded into a T, until fn returns
// false or an error. Memory holds one page.
func QueryEach[T any](ctx context.Context, s Store, c Collection, q Query, size int, fn func(*T) (bool, error)) error {
	if size <= 0 {
		size = 100
	}
	token := ""
	for {
		page, err := s.QueryPage(ctx, c, q, size, token)
		if err != nil {
			return err
		}
		for _, d := range page.Documents {
			v := new(T)
			if err := Decode(d, v); err != nil {
				return err
			}
			more, err := fn(v)
			if err != nil || !more {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		token = page.Next
	}
}

// QueryAs runs q on collection c and decodes every result into a T.
func QueryAs[T any](ctx context.Context, s Store, c Collection, q Query) ([]*T, error) {
	docs, err := s.Query(ctx, c, q)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(docs))
	for _, d := range docs {
		v := new(T)
		if err := Decode(d, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateAs stores v as a new document and returns its etag.
// Returns CodeConflict.
func CreateAs(ctx context.Context, s Store, c Collection, id string, v any) (string, error) {
	doc, err := Encode(id, "", v)
	if err != nil {
		return "", err
	}
	created, err := s.Create(ctx, c, doc)
	if err != nil {
		return "", err
	}
	return created.ETag, nil
}

// ReplaceAs overwrites document id with v if its etag is still etag ("" for
// unconditional) and returns the new etag.
// Returns CodeNotFound, CodePreconditionFailed.
func ReplaceAs(ctx context.Context, s Store, c Collection, id, etag string, v any) (string, error) {
	doc, err := Encode(id, etag, v)
	if err != nil {
		return "", err
	}
	replaced, err := s.Replace(ctx, c, doc)
	if err != nil {
		return "", err
	}
	return replaced.ETag, nil
}
