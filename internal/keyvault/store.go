// Package keyvault is the Azure Key Vault adapter of tre.Secrets: the
// sensitive template properties of a deployment kept as secrets of one
// vault, through the Azure SDK's azsecrets client, authenticating with an
// azcore.TokenCredential (the managed identity of the Function App or of
// the processor VM).
//
// The SDK does the protocol: the REST API and its version, retries
// (408, 429, 5xx and network errors, honouring Retry-After), and
// challenge-based authentication: the first request goes without a token
// and without its body, Key Vault answers 401 with the tenant and the
// token's resource, and the SDK asks the credential for that token and
// sends the request again. The resource must be the vault's own domain (the
// SDK checks it), so the same code works in sovereign clouds
// (*.vault.azure.cn, *.vault.usgovcloudapi.net) and never sends a Key Vault
// token elsewhere. What remains here: the vault URL's shape, the name rule,
// and the translation of Key Vault's answers to tre codes.
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
// Naming: names are checked with tre.CheckSecretName before anything is
// sent (Key Vault allows 1-127 letters, digits and dashes).
//
// Secret values never appear in errors or logs. Errors carry Key Vault's
// error code and message, never a response body nor the SDK's
// *azcore.ResponseError (whose text quotes the body). azcore itself logs
// the body of every error answer (its ResponseError event), so a policy
// scrubs the value Put writes from error answers before the SDK reads
// them; and the azcore log policy is never allowed to log bodies.
package keyvault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tre-go/tre/internal/tre"
)

// DefaultTryTimeout bounds one try of a request when the caller's options
// leave Retry.TryTimeout zero. azcore's default is none, and a vault that
// accepts the connection but never answers would then hold a processor
// worker until its job's context ends.
const DefaultTryTimeout = 30 * time.Second

// Store is tre.Secrets on one Key Vault. Safe for concurrent use.
type Store struct {
	vault  string // https://host, no trailing slash
	client *azsecrets.Client
}

var _ tre.Secrets = (*Store)(nil)

// New returns the store of the vault at vaultURL (https://<name>.vault.azure.net/,
// or a sovereign cloud's equivalent), authenticating with cred. opts may be
// nil: azcore's retry policy then retries 408, 429 and 5xx answers and
// network errors three times, honouring Retry-After; a zero TryTimeout
// becomes DefaultTryTimeout. Logging of bodies is always off, whatever
// opts say. Returns CodeInvalid for a bad URL or a nil credential.
func New(vaultURL string, cred azcore.TokenCredential, opts *policy.ClientOptions) (*Store, error) {
	vault, err := parseVaultURL(vaultURL)
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
	o := azsecrets.ClientOptions{}
	if opts != nil {
		o.ClientOptions = *opts
	}
	// Bodies carry secret values: the caller cannot turn their logging on.
	o.Logging.IncludeBody = false
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = DefaultTryTimeout
	}
	o.PerCallPolicies = append(slices.Clip(o.PerCallPolicies), policyFunc(scrubValue))
	client, err := azsecrets.NewClient(vault, tokenSource{cred}, &o)
	if err != nil {
		return nil, fmt.Errorf("keyvault: new client: %w", err)
	}
	return &Store{vault: vault, client: client}, nil
}

// parseVaultURL checks a vault URL and returns its base (https://host).
// The host must be <vault>.<Key Vault domain>: the SDK accepts the
// resource of Key Vault's authentication challenge only when the host is
// inside its domain, so an IP address or a bare name could never work.
func parseVaultURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || raw == "":
		return "", fmt.Errorf("%q is not a URL", raw)
	case u.Scheme != "https":
		return "", fmt.Errorf("%q must be an https URL (bearer tokens are never sent in clear)", raw)
	case u.Hostname() == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q must be the vault's URL alone (https://<name>.vault.azure.net/)", raw)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if net.ParseIP(host) != nil {
		return "", fmt.Errorf("%q: the host must be the vault's DNS name, not an IP address", raw)
	}
	if len(strings.Split(host, ".")) < 3 || strings.Contains(host, "..") {
		return "", fmt.Errorf("%q: the host must be <vault>.<Key Vault domain>, e.g. tre.vault.azure.net", raw)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// Put implements tre.Secrets: a new version of secret name, which Get
// returns from then on. Returns CodeInvalid for a bad name or a value Key
// Vault refuses (over 25 KB), CodeConflict for a name in soft delete,
// CodeUnavailable.
func (s *Store) Put(ctx context.Context, name, value string) error {
	if err := tre.CheckSecretName(name); err != nil {
		return fmt.Errorf("keyvault: put secret: %w", err)
	}
	var raw *http.Response
	// A success echoes the value: the answer is dropped.
	ctx = context.WithValue(policy.WithCaptureResponse(ctx, &raw), valueKey{}, value)
	_, err := s.client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value}, nil)
	if err != nil {
		return fmt.Errorf("keyvault: put secret %s: %w", name, s.callError(ctx, err, raw, "put", name, value))
	}
	return nil
}

// Get implements tre.Secrets: the latest version of secret name. Returns
// CodeInvalid for a bad name, CodeNotFound, CodeUnavailable.
func (s *Store) Get(ctx context.Context, name string) (string, error) {
	if err := tre.CheckSecretName(name); err != nil {
		return "", fmt.Errorf("keyvault: get secret: %w", err)
	}
	var raw *http.Response
	resp, err := s.client.GetSecret(policy.WithCaptureResponse(ctx, &raw), name, "", nil)
	if err != nil {
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, s.callError(ctx, err, raw, "get", name, ""))
	}
	if resp.Value == nil {
		return "", fmt.Errorf("keyvault: get secret %s: %w", name, notASecret(raw))
	}
	return *resp.Value, nil
}

// Delete implements tre.Secrets: every version at once, into soft delete
// (not purged; see the package doc). A secret that is not there counts as
// deleted. Returns CodeInvalid for a bad name, CodeUnavailable.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := tre.CheckSecretName(name); err != nil {
		return fmt.Errorf("keyvault: delete secret: %w", err)
	}
	var raw *http.Response
	_, err := s.client.DeleteSecret(policy.WithCaptureResponse(ctx, &raw), name, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyvault: delete secret %s: %w", name, s.callError(ctx, err, raw, "delete", name, ""))
	}
	return nil
}

// tokenSource marks the credential's errors, so that a failure to get a
// token is told apart from a vault that cannot be reached.
type tokenSource struct{ cred azcore.TokenCredential }

func (t tokenSource) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := t.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &tokenError{err: err, scopes: opts.Scopes}
	}
	return tok, nil
}

type tokenError struct {
	err    error
	scopes []string
}

func (e *tokenError) Error() string { return "get token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// valueKey carries the value Put writes, for scrubValue.
type valueKey struct{}

// scrubValue removes the value being written from an error answer before
// the SDK reads it: azcore logs an error answer's body (its ResponseError
// event) and quotes it in the *azcore.ResponseError's text. Key Vault's
// errors never quote a value, but a proxy in between might echo the
// request.
func scrubValue(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	value, _ := req.Raw().Context().Value(valueKey{}).(string)
	if err != nil || resp == nil || resp.StatusCode < http.StatusBadRequest || value == "" {
		return resp, err
	}
	body, rerr := runtime.Payload(resp)
	if rerr != nil {
		return resp, err
	}
	clean := []byte(redact(string(body), value))
	resp.Body = io.NopCloser(bytes.NewReader(clean))
	resp.ContentLength = int64(len(clean))
	return resp, nil
}

// redact replaces value in s, as is and as JSON escapes it.
func redact(s, value string) string {
	if value == "" {
		return s
	}
	s = strings.ReplaceAll(s, value, tre.Redacted)
	if q, err := json.Marshal(value); err == nil {
		s = strings.ReplaceAll(s, string(q[1:len(q)-1]), tre.Redacted)
	}
	return s
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
