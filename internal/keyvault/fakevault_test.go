package keyvault

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	fakeToken  = "fake-token"
	fakeTenant = "00000000-0000-0000-0000-0000000000aa"
)

// fakeVault is a minimal Key Vault (secrets only) behind an
// httptest.NewTLSServer, speaking what the azsecrets client sends: PUT
// adds a version, GET returns the latest (/secrets/{name}/, the empty
// version), DELETE removes the secret, with Key Vault's status codes and
// error bodies. A request without a token gets Key Vault's authentication
// challenge (401 with the tenant and the resource of its cloud); such a
// request must not carry a body (the SDK strips it until it has a token).
// Every other request must carry the bearer token, an api-version and the
// vault's own host in Host; a request that does not is answered 401 and
// recorded as a violation. Answers queued with inject are served first,
// one per authenticated request.
type fakeVault struct {
	srv      *httptest.Server
	host     string // the vault's DNS name, as the client addresses it
	resource string // the challenge's resource: https:// and the host without the vault's name

	mu          sync.Mutex
	secrets     map[string][]string // name → versions, latest last
	injected    []answer
	requests    []string // "METHOD name" of authenticated requests, in order
	challenges  []string // "METHOD name" of requests without a token
	apiVersions map[string]bool
	violations  []string
	hang        bool // authenticated requests wait until the client gives up
}

// answer is a canned response.
type answer struct {
	status int
	header map[string]string
	body   string
}

// kvError is a Key Vault error answer.
func kvError(status int, code, inner, message string) answer {
	e := map[string]any{"code": code, "message": message}
	if inner != "" {
		e["innererror"] = map[string]any{"code": inner}
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return answer{status: status, body: string(b)}
}
func newFakeVault(t *testing.T, host string) *fakeVault {
	t.Helper()
	_, domain, _ := strings.Cut(host, ".")
	f := &fakeVault{host: host, resource: "https://" + domain, secrets: map[string][]string{}, apiVersions: map[string]bool{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// vaultURL is the URL the store is given: the vault's DNS name, which the
// transport sends to the fake.
func (f *fakeVault) vaultURL() string { return "https://" + f.host + "/" }

// transport delivers every request to the fake with its TLS client, keeping
// the vault's name in the Host header, so the store runs exactly as it
// would against <name>.vault.azure.net (scope derivation included).
func (f *fakeVault) transport() policy.Transporter {
	u, _ := url.Parse(f.srv.URL)
	return redirect{to: u.Host, client: f.srv.Client()}
}

type redirect struct {
	to     string
	client *http.Client
}

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Host = req.URL.Host
	out.URL.Host = r.to
	return r.client.Do(out)
}

// options are client options for the fake with fast retries.
func (f *fakeVault) options() *policy.ClientOptions {
	return &policy.ClientOptions{
		Transport: f.transport(),
		Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Second},
	}
}

func (f *fakeVault) inject(a ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = append(f.injected, a...)
}

func (f *fakeVault) put(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = append(f.secrets[name], value)
}

func (f *fakeVault) versions(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.secrets[name]...)
}

func (f *fakeVault) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeVault) challengeLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.challenges...)
}

func (f *fakeVault) versionsSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var v []string
	for k := range f.apiVersions {
		v = append(v, k)
	}
	return v
}

func (f *fakeVault) violationLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	if r.Method == http.MethodGet {
		name, _ = strings.CutSuffix(name, "/") // the latest version: an empty version segment
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	if r.Header.Get("Authorization") == "" {
		f.challenges = append(f.challenges, r.Method+" "+name)
		if len(body) > 0 {
			f.violations = append(f.violations, fmt.Sprintf("%s %s sent %d bytes of body without a token", r.Method, name, len(body)))
		}
		f.mu.Unlock()
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, fakeTenant, f.resource))
		f.write(w, kvError(http.StatusUnauthorized, "Unauthorized", "", "AKV10000: Request is missing a Bearer or PoP token."))
		return
	}
	f.requests = append(f.requests, r.Method+" "+name)
	var problems []string
	if got := r.Header.Get("Authorization"); got != "Bearer "+fakeToken {
		problems = append(problems, fmt.Sprintf("Authorization %q", got))
	}
	if got := r.URL.Query().Get("api-version"); got == "" {
		problems = append(problems, "no api-version")
	} else {
		f.apiVersions[got] = true
	}
	if r.Host != f.host {
		problems = append(problems, fmt.Sprintf("Host %q", r.Host))
	}
	if !ok || name == "" || strings.Contains(name, "/") {
		problems = append(problems, fmt.Sprintf("path %q", r.URL.Path))
	}
	f.violations = append(f.violations, problems...)
	var canned *answer
	if len(problems) == 0 && len(f.injected) > 0 {
		canned = &f.injected[0]
		f.injected = f.injected[1:]
	}
	hang := f.hang
	f.mu.Unlock()

	if len(problems) > 0 {
		f.write(w, kvError(http.StatusUnauthorized, "Unauthorized", "", strings.Join(problems, "; ")))
		return
	}
	if canned != nil {
		f.write(w, *canned)
		return
	}
	if hang {
		<-r.Context().Done()
		return
	}
	id := "https://" + f.host + "/secrets/" + name
	notFound := kvError(http.StatusNotFound, "SecretNotFound", "",
		fmt.Sprintf("A secret with (name/id) %s was not found in this key vault.", name))
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		var secret struct {
			Value *string `json:"value"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &secret) != nil || secret.Value == nil {
			f.write(w, kvError(http.StatusBadRequest, "BadParameter", "", "The request body is not a secret."))
			return
		}
		f.secrets[name] = append(f.secrets[name], *secret.Value)
		f.writeJSON(w, map[string]any{"value": *secret.Value, "id": fmt.Sprintf("%s/v%d", id, len(f.secrets[name])),
			"attributes": map[string]any{"enabled": true}})
	case http.MethodGet:
		v := f.secrets[name]
		if len(v) == 0 {
			f.write(w, notFound)
			return
		}
		f.writeJSON(w, map[string]any{"value": v[len(v)-1], "id": fmt.Sprintf("%s/v%d", id, len(v)),
			"attributes": map[string]any{"enabled": true}})
	case http.MethodDelete:
		v := f.secrets[name]
		if len(v) == 0 {
			f.write(w, notFound)
			return
		}
		delete(f.secrets, name)
		f.writeJSON(w, map[string]any{"id": id, "recoveryId": "https://" + f.host + "/deletedsecrets/" + name,
			"scheduledPurgeDate": time.Now().Add(90 * 24 * time.Hour).Unix()})
	default:
		f.write(w, kvError(http.StatusMethodNotAllowed, "MethodNotAllowed", "", r.Method))
	}
}

func (f *fakeVault) write(w http.ResponseWriter, a answer) {
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *fakeVault) writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	f.write(w, answer{status: http.StatusOK, body: string(b)})
}

// staticCredential hands out fakeToken, or err, and records the scopes and
// tenants it was asked for.
type staticCredential struct {
	mu      sync.Mutex
	scopes  [][]string
	tenants []string
	err     error
}

func (c *staticCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, append([]string(nil), opts.Scopes...))
	c.tenants = append(c.tenants, opts.TenantID)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *staticCredential) tenantsAsked() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tenants...)
}

func (c *staticCredential) asked() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.scopes...)
}
