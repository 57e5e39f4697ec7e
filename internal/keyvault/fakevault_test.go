package keyvault

import (
	"context"
	"encoding/json"
	"fmt"
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

const fakeToken = "fake-token"

// fakeVault is a minimal Key Vault (secrets only) behind an
// httptest.NewTLSServer: PUT adds a version, GET returns the latest, DELETE
// removes the secret, with Key Vault's status codes and error bodies. Every
// request must carry the bearer token, api-version 7.4 and the vault's own
// host in Host; a request that does not is answered 401 and recorded as a
// violation. Answers queued with inject are served first, one per request.
type fakeVault struct {
	srv  *httptest.Server
	host string // the vault's DNS name, as the client addresses it

	mu         sync.Mutex
	secrets    map[string][]string // name → versions, latest last
	injected   []answer
	requests   []string // "METHOD name", in order
	violations []string
	hang       bool // requests wait until the client gives up
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
	f := &fakeVault{host: host, secrets: map[string][]string{}}
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

func (f *fakeVault) violationLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+name)
	var problems []string
	if got := r.Header.Get("Authorization"); got != "Bearer "+fakeToken {
		problems = append(problems, fmt.Sprintf("Authorization %q", got))
	}
	if got := r.URL.Query().Get("api-version"); got != APIVersion {
		problems = append(problems, fmt.Sprintf("api-version %q", got))
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
		var body struct {
			Value *string `json:"value"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Value == nil {
			f.write(w, kvError(http.StatusBadRequest, "BadParameter", "", "The request body is not a secret."))
			return
		}
		f.secrets[name] = append(f.secrets[name], *body.Value)
		f.writeJSON(w, map[string]any{"value": *body.Value, "id": fmt.Sprintf("%s/v%d", id, len(f.secrets[name])),
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

// staticCredential hands out fakeToken, or err, and records the scopes it
// was asked for.
type staticCredential struct {
	mu     sync.Mutex
	scopes [][]string
	err    error
}

func (c *staticCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, append([]string(nil), opts.Scopes...))
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *staticCredential) asked() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.scopes...)
}
