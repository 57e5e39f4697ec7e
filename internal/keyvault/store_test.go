package keyvault

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

const vaultHost = "tre-kv.vault.azure.net"

func newStore(t *testing.T, f *fakeVault, opts *policy.ClientOptions) (*Store, *staticCredential) {
	t.Helper()
	cred := &staticCredential{}
	if opts == nil {
		opts = f.options()
	}
	s, err := New(f.vaultURL(), cred, opts)
	require.NoError(t, err)
	return s, cred
}

func TestNewValidatesTheVaultURL(t *testing.T) {
	cred := &staticCredential{}
	tests := []struct {
		url, want string
	}{
		{"", "not a URL"},
		{"tre-kv.vault.azure.net", "https URL"},
		{"http://tre-kv.vault.azure.net/", "https URL"},
		{"https://", "no host"},
		{"https://localhost/", "<vault>.<Key Vault domain>"},
		{"https://vault.azure/", "<vault>.<Key Vault domain>"},
		{"https://10.1.2.3/", "not an IP address"},
		{"https://tre-kv.vault.azure.net/secrets/x", "vault's URL alone"},
		{"https://tre-kv.vault.azure.net/?a=b", "vault's URL alone"},
		{"https://user@tre-kv.vault.azure.net/", "vault's URL alone"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := New(tt.url, cred, nil)
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := New("https://"+vaultHost+"/", nil, nil)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.ErrorContains(t, err, "credential")
}

func TestVaultURLIsNormalised(t *testing.T) {
	tests := []struct {
		url, vault string
	}{
		{"https://tre-kv.vault.azure.net/", "https://tre-kv.vault.azure.net"},
		{"https://tre-kv.vault.azure.net", "https://tre-kv.vault.azure.net"},
		{"https://TRE-KV.Vault.Azure.Net/", "https://tre-kv.vault.azure.net"},
		{"https://tre-kv.vault.azure.cn/", "https://tre-kv.vault.azure.cn"},
		{"https://tre-kv.vault.usgovcloudapi.net/", "https://tre-kv.vault.usgovcloudapi.net"},
		{"https://tre-kv.vault.azure.net:443/", "https://tre-kv.vault.azure.net:443"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := New(tt.url, &staticCredential{}, nil)
			require.NoError(t, err)
			require.Equal(t, tt.vault, s.vault)
		})
	}
}

// TestChallengeGivesTheScope: the token's scope and tenant come from Key
// Vault's authentication challenge, in every cloud, and the request that
// elicits it carries no body.
func TestChallengeGivesTheScope(t *testing.T) {
	for host, scope := range map[string]string{
		"tre-kv.vault.azure.net":         "https://vault.azure.net/.default",
		"tre-kv.vault.azure.cn":          "https://vault.azure.cn/.default",
		"tre-kv.vault.usgovcloudapi.net": "https://vault.usgovcloudapi.net/.default",
	} {
		t.Run(host, func(t *testing.T) {
			f := newFakeVault(t, host)
			s, cred := newStore(t, f, nil)
			require.NoError(t, s.Put(context.Background(), "a", "b"))
			require.Empty(t, f.violationLog())
			require.Equal(t, [][]string{{scope}}, cred.asked())
			require.Equal(t, []string{fakeTenant}, cred.tenantsAsked(), "the tenant named by the challenge")
			require.Equal(t, []string{"PUT a"}, f.challengeLog())
			require.Equal(t, []string{"b"}, f.versions("a"), "the body is sent again with the token")
		})
	}
}

// TestChallengeOutsideTheVaultDomain: a challenge whose resource is not the
// vault's own domain (a vault URL pointing at an impostor) gets no token.
func TestChallengeOutsideTheVaultDomain(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	f.resource = "https://vault.evil.example"
	s, cred := newStore(t, f, nil)
	err := s.Put(context.Background(), "a", "b")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "err: %v", err)
	require.ErrorContains(t, err, "authentication challenge the client refused")
	require.Empty(t, cred.asked(), "no token is asked for another resource")
	require.Empty(t, f.requestLog(), "nothing is sent with a token")
	require.Empty(t, f.violationLog())
}

// TestStore is the secrets port's contract (as secretfile's test states it)
// on Key Vault's protocol, and checks what reaches the vault.
func TestStore(t *testing.T) {
	ctx := context.Background()
	f := newFakeVault(t, vaultHost)
	s, cred := newStore(t, f, nil)

	require.NoError(t, s.Put(ctx, "r-1-a", "hunter2"))
	got, err := s.Get(ctx, "r-1-a")
	require.NoError(t, err)
	require.Equal(t, "hunter2", got)

	// A second Put is a new version; Get returns the latest.
	require.NoError(t, s.Put(ctx, "r-1-a", `{"nested":"json \"value\""}`))
	got, err = s.Get(ctx, "r-1-a")
	require.NoError(t, err)
	require.Equal(t, `{"nested":"json \"value\""}`, got)
	require.Equal(t, []string{"hunter2", `{"nested":"json \"value\""}`}, f.versions("r-1-a"))

	// A secret put by someone else (another instance) is read.
	f.put("r-2-b", "from-elsewhere")
	got, err = s.Get(ctx, "r-2-b")
	require.NoError(t, err)
	require.Equal(t, "from-elsewhere", got)

	_, err = s.Get(ctx, "missing")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	require.ErrorContains(t, err, "secret missing not found")

	require.NoError(t, s.Delete(ctx, "r-1-a"))
	require.Empty(t, f.versions("r-1-a"))
	require.NoError(t, s.Delete(ctx, "r-1-a"), "deleting a missing secret is not an error (404)")
	_, err = s.Get(ctx, "r-1-a")
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))

	require.Equal(t, []string{"PUT r-1-a", "GET r-1-a", "PUT r-1-a", "GET r-1-a", "GET r-2-b", "GET missing",
		"DELETE r-1-a", "DELETE r-1-a", "GET r-1-a"}, f.requestLog())
	require.Empty(t, f.violationLog(), "every request carries the token, an api-version and the vault's host")
	require.Equal(t, []string{"PUT r-1-a"}, f.challengeLog(), "one challenge, then the token is reused")
	require.Equal(t, [][]string{{"https://vault.azure.net/.default"}}, cred.asked())
	require.Len(t, f.versionsSeen(), 1, "one API version, the SDK's")
}

func TestInvalidNamesNeverReachTheVault(t *testing.T) {
	ctx := context.Background()
	f := newFakeVault(t, vaultHost)
	s, _ := newStore(t, f, nil)
	for _, name := range []string{"", "bad/name", "../keys/k", "a_b", "a.b", strings.Repeat("a", 128)} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(s.Put(ctx, name, "v")))
			_, err := s.Get(ctx, name)
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(s.Delete(ctx, name)))
		})
	}
	require.Empty(t, f.requestLog())
	require.Empty(t, f.challengeLog())
}

// TestErrors checks how Key Vault's answers map to codes, that retriable
// answers are retried and others are not, and that the value never shows.
func TestErrors(t *testing.T) {
	const value = "hunter2-very-secret"
	forbidden := kvError(http.StatusForbidden, "Forbidden", "ForbiddenByRbac",
		"Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'")
	tests := []struct {
		name     string
		op       string // put, get or delete
		answers  []answer
		wantCode tre.Code // "" for success
		wantMsg  string
		requests int
	}{
		{"get 403: no role", "get", []answer{forbidden}, tre.CodeUnavailable, "lacks a role", 1},
		{"put 403 names Key Vault's code", "put", []answer{forbidden}, tre.CodeUnavailable, "ForbiddenByRbac", 1},
		{"put 403 echoing the value", "put",
			[]answer{kvError(http.StatusForbidden, "Forbidden", "", "refused body {\"value\":\""+value+"\"}")},
			tre.CodeUnavailable, "refused to put secrets", 1},
		{"delete 403", "delete", []answer{forbidden}, tre.CodeUnavailable, "refused to delete secrets", 1},
		{"put 401", "put", []answer{kvError(http.StatusUnauthorized, "Unauthorized", "AKV10032", "Invalid issuer.")},
			tre.CodeUnavailable, "refused the token", 1},
		{"get 429 until retries run out", "get",
			[]answer{kvError(429, "Throttled", "", "slow down"), kvError(429, "Throttled", "", "slow down"), kvError(429, "Throttled", "", "slow down")},
			tre.CodeUnavailable, "throttling (HTTP 429), after retries", 3},
		{"get 503 until retries run out", "get",
			[]answer{kvError(503, "ServiceUnavailable", "", ""), kvError(503, "ServiceUnavailable", "", ""), kvError(503, "ServiceUnavailable", "", "")},
			tre.CodeUnavailable, "unavailable", 3},
		{"put 500 then success", "put", []answer{kvError(500, "InternalError", "", "")}, "", "", 2},
		{"delete 429 then success", "delete", []answer{kvError(429, "Throttled", "", "")}, "", "", 2},
		{"put 400: value too large", "put", []answer{kvError(http.StatusBadRequest, "BadParameter", "", "Property value is too large.")},
			tre.CodeInvalid, "BadParameter", 1},
		{"put 409: name in soft delete", "put",
			[]answer{kvError(http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable", "Secret s is currently in a deleted but recoverable state.")},
			tre.CodeConflict, "deleted but not purged", 1},
		{"get 418: unexpected", "get", []answer{kvError(http.StatusTeapot, "Teapot", "", "")}, tre.CodeInternal, "HTTP 418", 1},
		{"get 200 without a value", "get", []answer{{status: 200, body: `{"id":"x"}`}}, tre.CodeInternal, "not a secret with a value", 1},
		{"get 200 not JSON", "get", []answer{{status: 200, body: `{"value": hunter2`}}, tre.CodeInternal, "not a secret with a value", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFakeVault(t, vaultHost)
			f.put("s", value)
			s, _ := newStore(t, f, nil)
			f.inject(tt.answers...)
			var err error
			switch tt.op {
			case "put":
				err = s.Put(ctx, "s", value)
			case "get":
				var got string
				got, err = s.Get(ctx, "s")
				if err == nil {
					require.Equal(t, value, got)
				}
			case "delete":
				err = s.Delete(ctx, "s")
			}
			require.Len(t, f.requestLog(), tt.requests)
			require.Empty(t, f.violationLog())
			if tt.wantCode == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.wantCode, tre.ErrorCode(err), err.Error())
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), value, "a secret value in an error")
			require.NotContains(t, tre.ErrorMessage(err), value)
			if last := tt.answers[len(tt.answers)-1]; last.status != http.StatusOK {
				var svc *ServiceError
				require.ErrorAs(t, err, &svc, "Key Vault's answer is the cause")
				require.Equal(t, last.status, svc.StatusCode)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	f.put("s", "v")
	// The retry delay is 1 ms: only Retry-After explains a 1 s wait.
	s, _ := newStore(t, f, nil)
	f.inject(answer{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "1"}})
	start := time.Now()
	got, err := s.Get(context.Background(), "s")
	require.NoError(t, err)
	require.Equal(t, "v", got)
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.Equal(t, []string{"GET s", "GET s"}, f.requestLog())
}

func TestUnreachableVault(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	s, _ := newStore(t, f, nil)
	f.srv.Close()
	_, err := s.Get(context.Background(), "s")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.ErrorContains(t, err, "Key Vault https://"+vaultHost+" is unreachable")
}

func TestSilentVaultTimesOutPerTry(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	f.hang = true
	opts := f.options()
	opts.Retry.TryTimeout = 50 * time.Millisecond
	opts.Retry.MaxRetries = 1
	// Tries are counted as the client sends them: on a loaded machine a
	// try can time out before its request reaches the fake's log.
	tries := &countingTransport{next: opts.Transport}
	opts.Transport = tries
	s, _ := newStore(t, f, opts)
	_, err := s.Get(context.Background(), "s")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "the caller's context is alive: the vault did not answer")
	require.Equal(t, int32(2), tries.gets.Load(), "one try and one retry, each cut by its own timeout")
}

// countingTransport counts the secret reads sent through it (the challenge
// round trip aside).
type countingTransport struct {
	next policy.Transporter
	gets atomic.Int32
}

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.Header.Get("Authorization") != "" {
		c.gets.Add(1)
	}
	return c.next.Do(req)
}

func TestCancelledContextIsReturnedAsIs(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	f.hang = true
	s, _ := newStore(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx, "s")
		errc <- err
	}()
	require.Eventually(t, func() bool { return len(f.requestLog()) == 1 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	var err error
	select {
	case err = <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not return after its context was cancelled")
	}
	require.ErrorIs(t, err, context.Canceled)
	require.NotEqual(t, tre.CodeUnavailable, tre.ErrorCode(err), "a caller giving up is not an outage")
}

func TestNoToken(t *testing.T) {
	f := newFakeVault(t, vaultHost)
	cred := &staticCredential{err: errors.New("ManagedIdentityCredential: no identity assigned")}
	s, err := New(f.vaultURL(), cred, f.options())
	require.NoError(t, err)
	err = s.Put(context.Background(), "s", "v")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.ErrorContains(t, err, "no token for Key Vault https://"+vaultHost+" (scope https://vault.azure.net/.default)")
	require.ErrorContains(t, err, "no identity assigned")
	require.Equal(t, []string{"PUT s"}, f.challengeLog(), "only the challenge is elicited")
	require.Empty(t, f.requestLog(), "nothing is sent with a token")
	require.Empty(t, f.violationLog(), "the challenge carried no body")
}

// TestValuesAreNeverLogged turns on every azcore log event and asks for
// bodies: the store refuses body logging, so values appear nowhere.
func TestValuesAreNeverLogged(t *testing.T) {
	const value = "hunter2-never-logged"
	var mu sync.Mutex
	var lines []string
	azlog.SetListener(func(_ azlog.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, msg)
	})
	t.Cleanup(func() { azlog.SetListener(nil) })

	f := newFakeVault(t, vaultHost)
	opts := f.options()
	opts.Logging.IncludeBody = true
	s, _ := newStore(t, f, opts)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, "s", value))
	got, err := s.Get(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, value, got)
	// A proxy echoing the request: azcore logs error bodies.
	f.inject(kvError(http.StatusForbidden, "Forbidden", "", "echo "+value))
	require.Error(t, s.Put(ctx, "s", value))
	const quoted = `say "hunter3" never`
	f.inject(kvError(http.StatusForbidden, "Forbidden", "", "echo "+quoted))
	require.Error(t, s.Put(ctx, "s", quoted))

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, lines, "the listener hears the pipeline")
	all := strings.Join(lines, "\n")
	require.Contains(t, all, "/secrets/s", "requests are logged")
	require.Contains(t, all, "RESPONSE 403", "error answers are logged with their body")
	require.NotContains(t, all, value)
	require.NotContains(t, all, "hunter3", "nor the value as JSON escapes it")
}
