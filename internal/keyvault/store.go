// Package keyvault is the Azure Key Vault adapter of tre.Secrets: the
// sensitive template properties of a deployment kept as secrets of one
// vault, through the Key Vault REST API (secrets, api-version 7.4) on an
// azcore pipeline that authenticates with bearer tokens from an
// azcore.TokenCredential (the managed identity of the Function App or of
// the processor VM).
//
// The token scope is derived from the vault's host rather than discovered
// from a 401 challenge (as azsecrets does): "https://" + the host without
// its first label + "/.default", i.e. https://vault.azure.net/.default for
// *.vault.azure.net and the matching audience in sovereign clouds
// (*.vault.azure.cn, *.vault.usgovcloudapi.net). It saves a round trip per
// token and keeps the module list short.
//
// Roles: Put and Delete need "Key Vault Secrets Officer" on the vault (the
// handler), Get alone "Key Vault Secrets User". Without them Key Vault
// answers 403, reported as CodeUnavailable with a message that says
// so: the caller did nothing wrong, the deployment must be fixed.
//
// Soft delete: Key Vault keeps a deleted secret, and reserves its name,
// until it is purged (90 days by default; purge protection may forbid
// purging at all). Delete does not purge: it needs a further permission and
// would defeat recovery. That is safe because the control plane never
// reuses a secret name: every name carries a random suffix
// (lifecycle's "r-<resource id>-<pointer hash>-<nonce>"), so a Put never
// meets a deleted name. Should one do so anyway, Key Vault answers 409,
// reported as CodeConflict.
//
// Secret values never appear in errors or logs: errors carry Key Vault's
// error code and message (with the value scrubbed from them), never a
// response body, and the azcore log policy is never allowed to log bodies.
package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tre-go/tre/internal/tre"
)

// APIVersion is the Key Vault REST API version of every request.
const APIVersion = "7.4"

// DefaultTryTimeout bounds one try of a request when the caller's options
// leave Retry.TryTimeout zero. azcore's default is none, and a vault that
// accepts the connection but never answers would then hold a processor
// worker until its job's context ends.
const DefaultTryTimeout = 30 * time.Second

// Store is tre.Secrets on one Key Vault. Safe for concurrent use.
type Store struct {
	vault    string // https://host, no trailing slash
	scope    string
	pipeline runtime.Pipeline
}

var _ tre.Secrets = (*Store)(nil)

// New returns the store of the vault at vaultURL (https://<name>.vault.azure.net/,
// or a sovereign cloud's equivalent), authenticating with cred. opts may be
// nil: azcore's retry policy then retries 408, 429 and 5xx answers and
// network errors three times, honouring Retry-After; a zero TryTimeout
// becomes DefaultTryTimeout. Logging of bodies is always off, whatever
// opts say. Returns CodeInvalid for a bad URL or a nil credential.
func New(vaultURL string, cred azcore.TokenCredential, opts *policy.ClientOptions) (*Store, error) {
	vault, scope, err := parseVaultURL(vaultURL)
	var problems []tre.FieldError
	if err != nil {
		problems = append(problems, tre.FieldError{Field: "vaultURL", Message: err.Error()})
	}
	if cred == nil {
		problems = append(problems, tre.FieldError{Field: "credential", Message: "is nil"})
	}
	if err := tre.InvalidFields("keyvault: invalid configuration", problems); err != nil {
		return nil, err
	}
	o := policy.ClientOptions{}
	if opts != nil {
		o = *opts
	}
	// Bodies carry secret values: the caller cannot turn their logging on.
	o.Logging.IncludeBody = false
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = DefaultTryTimeout
	}
	pl := runtime.NewPipeline("tre-keyvault", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(tokenSource{cred}, []string{scope}, nil)},
	}, &o)
	return &Store{vault: vault, scope: scope, pipeline: pl}, nil
}

// parseVaultURL checks a vault URL and returns its base (https://host) and
// the token scope of its cloud.
func parseVaultURL(raw string) (vault, scope string, err error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || raw == "":
		return "", "", fmt.Errorf("%q is not a URL", raw)
	case u.Scheme != "https":
		return "", "", fmt.Errorf("%q must be an https URL (bearer tokens are never sent in clear)", raw)
	case u.Hostname() == "":
		return "", "", fmt.Errorf("%q has no host", raw)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", "", fmt.Errorf("%q must be the vault's URL alone (https://<name>.vault.azure.net/)", raw)
	}
	scope, err = scopeOf(u.Hostname())
	if err != nil {
		return "", "", fmt.Errorf("%q: %w", raw, err)
	}
	return "https://" + strings.ToLower(u.Host), scope, nil
}

// scopeOf derives the token scope from a vault's host: the host without
// the vault's own name. It needs a DNS name of at least three labels, so
// that what remains is a cloud's Key Vault domain, not a bare TLD.
func scopeOf(host string) (string, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(host) != nil {
		return "", errors.New("the host must be the vault's DNS name, not an IP address (the token scope is derived from it)")
	}
	labels := strings.Split(host, ".")
	if len(labels) < 3 || strings.Contains(host, "..") {
		return "", errors.New("the host must be <vault>.<Key Vault domain>, e.g. tre.vault.azure.net")
	}
	return "https://" + strings.Join(labels[1:], ".") + "/.default", nil
}

// secretBody is the part of Key Vault's SecretBundle the store reads and
// writes.
type secretBody struct {
	Value *string `json:"value"`
}

// Put implements tre.Secrets: PUT /secrets/{name}, which adds a new
// version that Get returns from then on. Returns CodeInvalid for a bad name
// or a value Key Vault refuses (over 25 KB), CodeConflict for a name in
// soft delete, CodeUnavailable.
func (s *Store) Put(ctx context.Context, name, value string) error {
	if err := tre.CheckSecretName(name); err != nil {
		return fmt.Errorf("keyvault: put secret: %w", err)
	}
	req, err := s.newRequest(ctx, http.MethodPut, name)
	if err != nil {
		return fmt.Errorf("keyvault: put secret %s: %w", name, err)
	}
	if err := runtime.MarshalAsJSON(req, secretBody{Value: &value}); err != nil {
		return fmt.Errorf("keyvault: put secret %s: encode", name)
	}
	resp, err := s.pipeline.Do(req)
	if err != nil {
		return fmt.Errorf("keyvault: put secret %s: %w", name, s.transportError(ctx, err))
	}
	// A success echoes the value: it is drained unread.
	defer runtime.Drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("keyvault: put secret %s: %w", name, s.statusError(resp, "put", name, value))
	}
	return nil
}

// Get implements tre.Secrets: GET /secrets/{name}, the latest version.
// Returns CodeInvalid for a bad name, CodeNotFound, CodeUnavailable.
func (s *Store) Get(ctx context.Context, name string) (string, error) {
	if err := tre.CheckSecretName(name); err != nil {
		return "", fmt.Errorf("keyvault: get secret: %w", err)
	}
	req, err := s.newRequest(ctx, http.MethodGet, name)
	if err != nil {
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, err)
	}
	resp, err := s.pipeline.Do(req)
	if err != nil {
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, s.transportError(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		defer runtime.Drain(resp)
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, s.statusError(resp, "get", name, ""))
	}
	data, err := runtime.Payload(resp)
	if err != nil {
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, s.transportError(ctx, err))
	}
	var body secretBody
	// The decoder's error is not wrapped: it may quote part of the value.
	if json.Unmarshal(data, &body) != nil || body.Value == nil {
		return "", fmt.Errorf("keyvault: get secret %s: the answer (%d bytes) is not a secret with a value", name, len(data))
	}
	return *body.Value, nil
}

// Delete implements tre.Secrets: DELETE /secrets/{name}, every version at
// once, into soft delete (not purged; see the package doc). A secret that
// is not there counts as deleted. Returns CodeInvalid for a bad name,
// CodeUnavailable.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := tre.CheckSecretName(name); err != nil {
		return fmt.Errorf("keyvault: delete secret: %w", err)
	}
	req, err := s.newRequest(ctx, http.MethodDelete, name)
	if err != nil {
		return fmt.Errorf("keyvault: delete secret %s: %w", name, err)
	}
	resp, err := s.pipeline.Do(req)
	if err != nil {
		return fmt.Errorf("keyvault: delete secret %s: %w", name, s.transportError(ctx, err))
	}
	// The deleted bundle is drained unread.
	defer runtime.Drain(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotFound:
		return nil
	}
	return fmt.Errorf("keyvault: delete secret %s: %w", name, s.statusError(resp, "delete", name, ""))
}

func (s *Store) newRequest(ctx context.Context, method, name string) (*policy.Request, error) {
	req, err := runtime.NewRequest(ctx, method, s.vault+"/secrets/"+url.PathEscape(name)+"?api-version="+APIVersion)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	return req, nil
}

// tokenSource marks the credential's errors, so that a failure to get a
// token is told apart from a vault that cannot be reached.
type tokenSource struct{ cred azcore.TokenCredential }

func (t tokenSource) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := t.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &tokenError{err: err}
	}
	return tok, nil
}

type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }
