// Package azblobstore is the airlock's storage (tre.Blobs) on Azure
// Storage, with the Azure SDK's blob module (azblob): its retries,
// authentication (the managed identity, shared keys), API versions and
// signatures (user delegation and shared key SAS) are maintained for us.
//
// In Azure each stage of the airlock is a storage account of its own
// (https://<account>.blob.core.windows.net/), reached with the managed
// identity; links are signed with a user delegation key of the account.
// On one machine and in tests it is Azurite, the Azure Storage protocol
// server (npm package azurite, started by ./azurite/launcher.js), which
// has one account: there a stage account is the prefix of the container's
// name (<account>-<request id>), and links are signed with the account's
// key. DefenderScanner reads the verdicts Defender for Storage writes on
// the blobs.
package azblobstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/tre-go/tre/internal/tre"
)

// Config says where the storage is and how to reach it: either
// AccountEndpoint and Credential (Azure), or Endpoint, AccountName and
// AccountKey (one account: Azurite).
type Config struct {
	// AccountEndpoint is the blob endpoint of every account, with {account}
	// where its name goes: https://{account}.blob.core.windows.net/.
	AccountEndpoint string
	// Credential is the identity the accounts are reached with.
	Credential azcore.TokenCredential
	// PingAccount is the account Ping asks (one the identity may list).
	PingAccount string

	// Endpoint is the blob endpoint of the one account
	// (http://127.0.0.1:10000/devstoreaccount1 for Azurite).
	Endpoint    string
	AccountName string
	AccountKey  string

	// Transport replaces the HTTP client (tests).
	Transport policy.Transporter
	// CopyPoll is how often a copy still pending is looked at (default
	// 500 ms; Azurite and small blobs finish at once).
	CopyPoll time.Duration
}

// Store is tre.Blobs on Azure Storage.
type Store struct {
	cfg    Config
	shared *service.SharedKeyCredential // one-account mode

	mu      sync.Mutex
	clients map[string]*service.Client // by account (identity mode), or "" (one account)
	keys    map[string]*delegationKey  // user delegation keys by account
}

type delegationKey struct {
	cred    *service.UserDelegationCredential
	expires time.Time
}

var _ tre.Blobs = (*Store)(nil)

// New returns the store. Returns CodeInvalid for an incomplete Config.
func New(cfg Config) (*Store, error) {
	s := &Store{cfg: cfg, clients: map[string]*service.Client{}, keys: map[string]*delegationKey{}}
	if s.cfg.CopyPoll <= 0 {
		s.cfg.CopyPoll = 500 * time.Millisecond
	}
	switch {
	case cfg.Endpoint != "":
		if cfg.AccountName == "" || cfg.AccountKey == "" {
			return nil, tre.Errorf(tre.CodeInvalid, "azblobstore: an endpoint needs its account's name and key")
		}
		cred, err := service.NewSharedKeyCredential(cfg.AccountName, cfg.AccountKey)
		if err != nil {
			return nil, tre.WrapError(tre.CodeInvalid, err, "azblobstore: the account key is not valid")
		}
		s.shared = cred
	case cfg.AccountEndpoint != "":
		if !strings.Contains(cfg.AccountEndpoint, "{account}") || cfg.Credential == nil {
			return nil, tre.Errorf(tre.CodeInvalid, "azblobstore: the account endpoint needs {account} and a credential")
		}
	default:
		return nil, tre.Errorf(tre.CodeInvalid, "azblobstore: no endpoint")
	}
	return s, nil
}

func (s *Store) options() *service.ClientOptions {
	o := &service.ClientOptions{}
	if s.cfg.Transport != nil {
		o.Transport = s.cfg.Transport
	}
	return o
}

// client returns the service client of an account.
func (s *Store) client(account string) (*service.Client, error) {
	key := account
	if s.shared != nil {
		key = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[key]; c != nil {
		return c, nil
	}
	var c *service.Client
	var err error
	if s.shared != nil {
		c, err = service.NewClientWithSharedKeyCredential(strings.TrimRight(s.cfg.Endpoint, "/")+"/", s.shared, s.options())
	} else {
		c, err = service.NewClient(strings.ReplaceAll(s.cfg.AccountEndpoint, "{account}", account), s.cfg.Credential, s.options())
	}
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "azblobstore: client of %s", account)
	}
	s.clients[key] = c
	return c, nil
}

// name is the container's name in its account: the request's id in Azure,
// prefixed with the stage account's name in the one account of Azurite.
func (s *Store) name(c tre.BlobContainer) string {
	if s.shared != nil {
		return c.Account + "-" + c.Name
	}
	return c.Name
}

func (s *Store) container(c tre.BlobContainer) (*container.Client, error) {
	svc, err := s.client(c.Account)
	if err != nil {
		return nil, err
	}
	return svc.NewContainerClient(s.name(c)), nil
}

// translate turns a storage error into the port's: 404 is CodeNotFound,
// anything else CodeUnavailable (the chain keeps the service's answer).
func translate(err error, what string) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 {
		return tre.WrapError(tre.CodeNotFound, err, "%s does not exist", what)
	}
	return tre.WrapError(tre.CodeUnavailable, err, "The airlock's storage failed to %s", what)
}

// CreateContainer implements tre.Blobs.
func (s *Store) CreateContainer(ctx context.Context, c tre.BlobContainer) error {
	cc, err := s.container(c)
	if err != nil {
		return err
	}
	_, err = cc.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return translate(err, "create container "+c.String())
	}
	return nil
}

// DeleteContainer implements tre.Blobs.
func (s *Store) DeleteContainer(ctx context.Context, c tre.BlobContainer) error {
	cc, err := s.container(c)
	if err != nil {
		return err
	}
	_, err = cc.Delete(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound, bloberror.ContainerBeingDeleted) {
		return translate(err, "delete container "+c.String())
	}
	return nil
}

// List implements tre.Blobs.
func (s *Store) List(ctx context.Context, c tre.BlobContainer) ([]tre.BlobInfo, error) {
	cc, err := s.container(c)
	if err != nil {
		return nil, err
	}
	out := []tre.BlobInfo{}
	pager := cc.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, translate(err, "list container "+c.String())
		}
		for _, b := range page.Segment.BlobItems {
			info := tre.BlobInfo{}
			if b.Name != nil {
				info.Name = *b.Name
			}
			if b.Properties != nil && b.Properties.ContentLength != nil {
				info.Size = *b.Properties.ContentLength
			}
			out = append(out, info)
		}
	}
	return out, nil
}

// Copy implements tre.Blobs: a server-side copy from a URL signed for
// reading the source, which records the source in the blob's metadata
// (copied_from, a JSON list of every container it went through, as
// AzureTRE's processor keeps it), then waits until the copy is done.
func (s *Store) Copy(ctx context.Context, from, into tre.BlobContainer, name string) error {
	src, err := s.container(from)
	if err != nil {
		return err
	}
	dst, err := s.container(into)
	if err != nil {
		return err
	}
	srcBlob := src.NewBlobClient(name)
	props, err := srcBlob.GetProperties(ctx, nil)
	if err != nil {
		return translate(err, "read blob "+from.String()+"/"+name)
	}
	var history []string
	meta := map[string]*string{}
	for k, v := range props.Metadata {
		if strings.EqualFold(k, "copied_from") {
			if v != nil {
				_ = json.Unmarshal([]byte(*v), &history)
			}
			continue // the SDK returns it as Copied_from: set once, below
		}
		meta[k] = v
	}
	history = append(history, strings.SplitN(srcBlob.URL(), "?", 2)[0])
	b, _ := json.Marshal(history)
	meta["copied_from"] = to.Ptr(string(b))
	signed, err := s.sign(ctx, from, name, sas.BlobPermissions{Read: true}, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	dstBlob := dst.NewBlobClient(name)
	resp, err := dstBlob.StartCopyFromURL(ctx, signed, &blob.StartCopyFromURLOptions{Metadata: meta})
	if err != nil {
		return translate(err, "copy "+from.String()+"/"+name+" to "+into.String())
	}
	return s.waitCopy(ctx, dstBlob, resp.CopyStatus, into.String()+"/"+name)
}

// waitCopy waits until a copy is no longer pending.
func (s *Store) waitCopy(ctx context.Context, b *blob.Client, status *blob.CopyStatusType, what string) error {
	tick := time.NewTicker(s.cfg.CopyPoll)
	defer tick.Stop()
	for {
		switch {
		case status == nil || *status == blob.CopyStatusTypeSuccess:
			return nil
		case *status != blob.CopyStatusTypePending:
			return tre.Errorf(tre.CodeUnavailable, "The copy to %s ended %s", what, *status)
		}
		select {
		case <-ctx.Done():
			return tre.WrapError(tre.CodeUnavailable, ctx.Err(), "The copy to %s did not finish", what)
		case <-tick.C:
		}
		props, err := b.GetProperties(ctx, nil)
		if err != nil {
			return translate(err, "read the copy "+what)
		}
		status = props.CopyStatus
	}
}

// Open implements tre.Blobs.
func (s *Store) Open(ctx context.Context, c tre.BlobContainer, name string) (io.ReadCloser, error) {
	cc, err := s.container(c)
	if err != nil {
		return nil, err
	}
	resp, err := cc.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, translate(err, "read blob "+c.String()+"/"+name)
	}
	return resp.Body, nil
}

// SignedURL implements tre.Blobs.
func (s *Store) SignedURL(ctx context.Context, c tre.BlobContainer, perm tre.BlobPermissions, expiry time.Time) (string, error) {
	p := sas.ContainerPermissions{Read: perm.Read, Write: perm.Write, Delete: perm.Delete, List: perm.List}
	cc, err := s.container(c)
	if err != nil {
		return "", err
	}
	v := sas.BlobSignatureValues{Protocol: s.protocol(), StartTime: time.Now().Add(-15 * time.Minute).UTC(), ExpiryTime: expiry.UTC(),
		Permissions: p.String(), ContainerName: s.name(c)}
	q, err := s.signValues(ctx, c.Account, v)
	if err != nil {
		return "", err
	}
	return cc.URL() + "?" + q.Encode(), nil
}

// sign returns a blob's URL signed for perm.
func (s *Store) sign(ctx context.Context, c tre.BlobContainer, name string, perm sas.BlobPermissions, expiry time.Time) (string, error) {
	cc, err := s.container(c)
	if err != nil {
		return "", err
	}
	v := sas.BlobSignatureValues{Protocol: s.protocol(), StartTime: time.Now().Add(-15 * time.Minute).UTC(), ExpiryTime: expiry.UTC(),
		Permissions: perm.String(), ContainerName: s.name(c), BlobName: name}
	q, err := s.signValues(ctx, c.Account, v)
	if err != nil {
		return "", err
	}
	u := cc.NewBlobClient(name).URL()
	return u + "?" + q.Encode(), nil
}

// protocol: HTTPS only in Azure; Azurite serves plain HTTP.
func (s *Store) protocol() sas.Protocol {
	if s.shared != nil {
		return sas.ProtocolHTTPSandHTTP
	}
	return sas.ProtocolHTTPS
}

func (s *Store) signValues(ctx context.Context, account string, v sas.BlobSignatureValues) (sas.QueryParameters, error) {
	if s.shared != nil {
		q, err := v.SignWithSharedKey(s.shared)
		if err != nil {
			return sas.QueryParameters{}, fmt.Errorf("azblobstore: sign: %w", err)
		}
		return q, nil
	}
	key, err := s.delegationKey(ctx, account, v.ExpiryTime)
	if err != nil {
		return sas.QueryParameters{}, err
	}
	q, err := v.SignWithUserDelegation(key)
	if err != nil {
		return sas.QueryParameters{}, fmt.Errorf("azblobstore: sign: %w", err)
	}
	return q, nil
}

// delegationKey returns a user delegation key of an account valid until
// at least until, asking for a new one (valid a day) when needed.
func (s *Store) delegationKey(ctx context.Context, account string, until time.Time) (*service.UserDelegationCredential, error) {
	s.mu.Lock()
	k := s.keys[account]
	s.mu.Unlock()
	if k != nil && k.expires.After(until.Add(time.Minute)) {
		return k.cred, nil
	}
	svc, err := s.client(account)
	if err != nil {
		return nil, err
	}
	start := time.Now().Add(-15 * time.Minute).UTC()
	expires := time.Now().Add(24 * time.Hour).UTC()
	if until.After(expires) {
		expires = until.Add(time.Hour)
	}
	cred, err := svc.GetUserDelegationCredential(ctx, service.KeyInfo{
		Start: to.Ptr(start.Format(sas.TimeFormat)), Expiry: to.Ptr(expires.Format(sas.TimeFormat))}, nil)
	if err != nil {
		return nil, translate(err, "get a user delegation key of "+account+" (the identity needs Storage Blob Data Contributor there)")
	}
	s.mu.Lock()
	s.keys[account] = &delegationKey{cred: cred, expires: expires}
	s.mu.Unlock()
	return cred, nil
}

// Ping implements tre.Blobs: it lists at most one container of the ping
// account (of the one account).
func (s *Store) Ping(ctx context.Context) error {
	svc, err := s.client(s.cfg.PingAccount)
	if err != nil {
		return err
	}
	pager := svc.NewListContainersPager(&service.ListContainersOptions{MaxResults: to.Ptr[int32](1)})
	if _, err := pager.NextPage(ctx); err != nil {
		return translate(err, "list containers")
	}
	return nil
}

// Endpoint returns the URL of the storage, for the logs (no secret).
func (s *Store) Endpoint() string {
	if s.shared != nil {
		return s.cfg.Endpoint
	}
	u, err := url.Parse(strings.ReplaceAll(s.cfg.AccountEndpoint, "{account}", "ACCOUNT"))
	if err != nil {
		return s.cfg.AccountEndpoint
	}
	return u.String()
}
