package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/tre"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

type staticKeys map[string]*rsa.PublicKey

func (s staticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, auth.ErrUnknownKey
}

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func validClaims() map[string]any {
	return map[string]any{
		"iss": "https://issuer.test/tenant/v2.0", "aud": "api://tre", "exp": now.Add(time.Hour).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "oid": "user-1", "name": "Ada", "email": "ada@example.org",
		"roles": []string{"TREAdmin"},
	}
}

func TestValidator(t *testing.T) {
	k := key(t)
	v := &auth.Validator{
		Issuer: "https://issuer.test/tenant/v2.0", Audience: "api://tre",
		Keys: staticKeys{"k1": &k.PublicKey}, Leeway: 30 * time.Second,
		Now: func() time.Time { return now },
	}
	sign := func(kid string, mutate func(map[string]any)) string {
		c := validClaims()
		if mutate != nil {
			mutate(c)
		}
		tok, err := auth.Sign(k, kid, c)
		require.NoError(t, err)
		return tok
	}

	u, err := v.Validate(context.Background(), sign("k1", nil))
	require.NoError(t, err)
	require.Equal(t, tre.User{ID: "user-1", Name: "Ada", Email: "ada@example.org", Roles: []string{"TREAdmin"}}, u)

	u, err = v.Validate(context.Background(), sign("k1", func(c map[string]any) {
		c["aud"] = []string{"other", "api://tre"}
		delete(c, "email")
		c["preferred_username"] = "ada@upn"
		delete(c, "roles")
	}))
	require.NoError(t, err, "aud may be an array")
	require.Equal(t, "ada@upn", u.Email)
	require.Equal(t, []string{}, u.Roles)

	// Within the leeway an expired token still passes.
	_, err = v.Validate(context.Background(), sign("k1", func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }))
	require.NoError(t, err)

	hs256 := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`))
		b, _ := json.Marshal(validClaims())
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
	}
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		b, _ := json.Marshal(validClaims())
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	tampered := func() string {
		parts := strings.Split(sign("k1", nil), ".")
		c := validClaims()
		c["roles"] = []string{"TREAdmin", "Extra"}
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	for name, tc := range map[string]struct {
		token string
		msg   string
	}{
		"malformed":       {"abc", "Could not validate credentials"},
		"expired":         {sign("k1", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), "Expired token signature"},
		"no exp":          {sign("k1", func(c map[string]any) { delete(c, "exp") }), "Invalid token"},
		"not yet valid":   {sign("k1", func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), "Invalid token"},
		"wrong issuer":    {sign("k1", func(c map[string]any) { c["iss"] = "https://evil.test" }), "Invalid token"},
		"wrong audience":  {sign("k1", func(c map[string]any) { c["aud"] = "api://other" }), "Invalid token"},
		"no oid":          {sign("k1", func(c map[string]any) { delete(c, "oid") }), "Invalid token"},
		"unknown key":     {sign("k2", nil), "Invalid token signature"},
		"tampered claims": {tampered(), "Invalid token signature"},
		"alg HS256":       {hs256(), "Invalid token"},
		"alg none":        {none(), "Invalid token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tc.token)
			require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err), "err: %v", err)
			require.Equal(t, tc.msg, tre.ErrorMessage(err))
		})
	}
}

func TestBearerToken(t *testing.T) {
	tok, err := auth.BearerToken("Bearer abc.def.ghi")
	require.NoError(t, err)
	require.Equal(t, "abc.def.ghi", tok)
	tok, err = auth.BearerToken("bearer  xyz ")
	require.NoError(t, err)
	require.Equal(t, "xyz", tok)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic abc", "abc"} {
		_, err := auth.BearerToken(h)
		require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err), h)
	}
}

// fakeEntra serves an OIDC discovery document and a JWKS, counting fetches.
type fakeEntra struct {
	srv      *httptest.Server
	mu       sync.Mutex
	keys     auth.JWKS
	failing  bool
	jwksHits atomic.Int32
}

func newFakeEntra(t *testing.T) *fakeEntra {
	f := &fakeEntra{}
	mux := http.NewServeMux()
	mux.HandleFunc("/tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"jwks_uri": f.srv.URL + "/tenant/discovery/v2.0/keys", "issuer": "x"})
	})
	mux.HandleFunc("/tenant/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(f.keys)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEntra) set(fail bool, keys ...auth.JWK) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = fail
	if keys != nil {
		f.keys = auth.JWKS{Keys: keys}
	}
}

func TestOIDCKeys(t *testing.T) {
	k1 := key(t)
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f := newFakeEntra(t)
	f.set(false, auth.NewJWK("k1", &k1.PublicKey), auth.JWK{Kty: "EC", Kid: "ec"}, auth.JWK{Kty: "RSA", Kid: "bad", N: "AQ", E: "AQAB"})

	clock := now
	o := auth.NewOIDCKeys(f.srv.URL, "tenant", f.srv.Client())
	o.Now = func() time.Time { return clock }
	ctx := context.Background()

	got, err := o.Key(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, k1.PublicKey.N, got.N)
	_, err = o.Key(ctx, "k1")
	require.NoError(t, err)
	require.EqualValues(t, 1, f.jwksHits.Load(), "keys are cached")

	// Entra rolls its keys: an unknown kid triggers a refresh, but at most
	// once per MinRefresh.
	f.set(false, auth.NewJWK("k1", &k1.PublicKey), auth.NewJWK("k2", &k2.PublicKey))
	_, err = o.Key(ctx, "k2")
	require.ErrorIs(t, err, auth.ErrUnknownKey, "too soon to refresh")
	require.EqualValues(t, 1, f.jwksHits.Load())
	clock = clock.Add(6 * time.Minute)
	_, err = o.Key(ctx, "k2")
	require.NoError(t, err)
	require.EqualValues(t, 2, f.jwksHits.Load())

	// The identity provider goes down: cached keys keep working.
	f.set(true)
	clock = clock.Add(25 * time.Hour)
	_, err = o.Key(ctx, "k1")
	require.NoError(t, err)
	require.EqualValues(t, 3, f.jwksHits.Load(), "a stale cache tries to refresh")

	// Without any cached key an unreachable IdP is a 503, not a 401.
	o2 := auth.NewOIDCKeys(f.srv.URL, "tenant", f.srv.Client())
	_, err = o2.Key(ctx, "k1")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
}

func TestDevKeys(t *testing.T) {
	dir := t.TempDir()
	// Several processes may start at once; they must agree on one key.
	var wg sync.WaitGroup
	loaded := make([]*auth.DevKeys, 4)
	errs := make([]error, len(loaded))
	for i := range loaded {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loaded[i], errs[i] = auth.LoadDevKeys(dir)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	tok, err := loaded[0].Mint("alice", []string{"TREAdmin"}, time.Hour, time.Now())
	require.NoError(t, err)
	for _, d := range loaded {
		v := &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: d}
		u, err := v.Validate(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, auth.DevUserID("alice"), u.ID)
		require.Equal(t, []string{"TREAdmin"}, u.Roles)
	}

	// Reloading from the same directory keeps the key: tokens survive restarts.
	again, err := auth.LoadDevKeys(dir)
	require.NoError(t, err)
	v := &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: again}
	_, err = v.Validate(context.Background(), tok)
	require.NoError(t, err)

	// Another directory is another issuer key: the token does not validate.
	other, err := auth.LoadDevKeys(t.TempDir())
	require.NoError(t, err)
	v = &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: other}
	_, err = v.Validate(context.Background(), tok)
	require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err))

	require.Equal(t, auth.DevUserID("bob"), auth.DevUserID("bob"))
	require.NotEqual(t, auth.DevUserID("bob"), auth.DevUserID("alice"))
}
