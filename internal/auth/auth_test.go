package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/tre"
)

var (
	keyOnce            sync.Once
	testKey, otherKey  *rsa.PrivateKey
	thirdKey           *rsa.PrivateKey
	testECKey          *ecdsa.PrivateKey
	errKeyGenerationAt string
)

// keys returns three RSA keys and an EC key, made once for the package.
func keys(t testing.TB) (k1, k2, k3 *rsa.PrivateKey, ec *ecdsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		for _, k := range []**rsa.PrivateKey{&testKey, &otherKey, &thirdKey} {
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				errKeyGenerationAt = err.Error()
				return
			}
		}
		if testECKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			errKeyGenerationAt = err.Error()
		}
	})
	require.Empty(t, errKeyGenerationAt)
	return testKey, otherKey, thirdKey, testECKey
}

// keyMap is a KeySource of fixed keys by kid.
type keyMap map[string]*rsa.PublicKey

func (m keyMap) KeyfuncCtx(context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := m[kid]; ok {
			return k, nil
		}
		return nil, auth.ErrUnknownKey
	}
}

const (
	issuerPath = "/tenant/v2.0"
	audience   = "api://tre"
	leeway     = 30 * time.Second
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func validClaims(issuer string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": issuer, "aud": audience, "exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "oid": "user-1", "name": "Ada", "email": "ada@example.org",
		"roles": []string{"TREAdmin"}, "ver": "2.0",
	}
}

// signWith signs claims with any method and key, with kid in the header
// unless it is empty.
func signWith(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func segments(tok string) []string { return strings.Split(tok, ".") }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestValidator is the validator's everyday behaviour: the user it makes of
// a good token and the common refusals.
func TestValidator(t *testing.T) {
	k, _, _, _ := keys(t)
	issuer := "https://issuer.test" + issuerPath
	v := &auth.Validator{
		Issuer: issuer, Audience: audience, Keys: keyMap{"k1": &k.PublicKey}, Leeway: leeway,
		Now: func() time.Time { return now },
	}
	sign := func(kid string, mutate func(jwt.MapClaims)) string {
		c := validClaims(issuer)
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

	u, err = v.Validate(context.Background(), sign("k1", func(c jwt.MapClaims) {
		c["aud"] = []string{"other", audience}
		delete(c, "email")
		c["preferred_username"] = "ada@upn"
		delete(c, "roles")
	}))
	require.NoError(t, err, "aud may be an array")
	require.Equal(t, "ada@upn", u.Email)
	require.Equal(t, []string{}, u.Roles)

	// Within the leeway an expired token still passes.
	_, err = v.Validate(context.Background(), sign("k1", func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }))
	require.NoError(t, err)

	tampered := func() string {
		parts := segments(sign("k1", nil))
		c := validClaims(issuer)
		c["roles"] = []string{"TREAdmin", "Extra"}
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	for name, tc := range map[string]struct {
		token string
		msg   string
	}{
		"malformed":       {"abc", "Could not validate credentials"},
		"expired":         {sign("k1", func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), "Expired token signature"},
		"no exp":          {sign("k1", func(c jwt.MapClaims) { delete(c, "exp") }), "Invalid token"},
		"not yet valid":   {sign("k1", func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), "Invalid token"},
		"wrong issuer":    {sign("k1", func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), "Invalid token"},
		"wrong audience":  {sign("k1", func(c jwt.MapClaims) { c["aud"] = "api://other" }), "Invalid token"},
		"no oid":          {sign("k1", func(c jwt.MapClaims) { delete(c, "oid") }), "Invalid token"},
		"unknown key":     {sign("k2", nil), "Invalid token signature"},
		"tampered claims": {tampered(), "Invalid token signature"},
		"alg HS256":       {signWith(t, jwt.SigningMethodHS256, []byte("secret"), "k1", validClaims(issuer)), "Invalid token"},
		"alg none":        {signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", validClaims(issuer)), "Invalid token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tc.token)
			require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err), "err: %v", err)
			require.Equal(t, tc.msg, tre.ErrorMessage(err))
		})
	}
}

// forgery is one token of the forged-token corpus and what must become of
// it: msg is AzureTRE's refusal message, "" when the token is good.
type forgery struct {
	name  string
	token string
	msg   string
}

// forgedTokens is the adversarial corpus: tokens an attacker can make
// (without the issuer's private key) and tokens a real issuer could sign
// that we must still refuse. issuer is the expected issuer; k1 is its key
// under kid "k1".
func forgedTokens(t *testing.T, issuer string) []forgery {
	t.Helper()
	k1, attacker, _, ec := keys(t)
	good := func() jwt.MapClaims { return validClaims(issuer) }
	with := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := good()
		mutate(c)
		return c
	}
	rs := func(c jwt.MapClaims) string { return signWith(t, jwt.SigningMethodRS256, k1, "k1", c) }
	valid := rs(good())
	parts := segments(valid)

	pubDER, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	header := func(h string) string { return b64(h) + "." + parts[1] + "." + parts[2] }
	embedded, err := jwkset.NewJWKFromKey(&attacker.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1"}})
	require.NoError(t, err)
	embeddedJWK, err := json.Marshal(embedded.Marshal())
	require.NoError(t, err)
	withEmbeddedKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, good())
		tok.Header["kid"] = "attacker"
		tok.Header["jwk"] = json.RawMessage(embeddedJWK)
		tok.Header["jku"] = "https://evil.test/keys"
		s, err := tok.SignedString(attacker)
		require.NoError(t, err)
		return s
	}

	return []forgery{
		{"good v2 token", valid, ""},
		{"aud as an array", rs(with(func(c jwt.MapClaims) { c["aud"] = []string{"x", audience} })), ""},

		// Not a JWT at all.
		{"empty", "", "Could not validate credentials"},
		{"one segment", "abc", "Could not validate credentials"},
		{"two segments", parts[0] + "." + parts[1], "Could not validate credentials"},
		{"four segments", valid + ".x", "Could not validate credentials"},
		{"header not base64url", "%%%." + parts[1] + "." + parts[2], "Invalid token"},
		{"header not JSON", header("not json"), "Invalid token"},
		{"claims not JSON", parts[0] + "." + b64("[1,2") + "." + parts[2], "Invalid token"},
		{"padded segments", parts[0] + "==." + parts[1] + "." + parts[2], "Invalid token"},

		// Algorithm confusion: only RS256 is allowed.
		{"alg none", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", good()), "Invalid token"},
		{"alg None with the RS256 signature", header(`{"alg":"None","kid":"k1"}`), "Invalid token"},
		{"alg missing", header(`{"kid":"k1","typ":"JWT"}`), "Invalid token"},
		{"alg unknown", header(`{"alg":"RS257","kid":"k1"}`), "Invalid token"},
		{"HS256 keyed with the public key (PEM)", signWith(t, jwt.SigningMethodHS256, pubPEM, "k1", good()), "Invalid token"},
		{"HS256 keyed with the public key (DER)", signWith(t, jwt.SigningMethodHS256, pubDER, "k1", good()), "Invalid token"},
		{"RS512 by the issuer's key", signWith(t, jwt.SigningMethodRS512, k1, "k1", good()), "Invalid token"},
		{"PS256 by the issuer's key", signWith(t, jwt.SigningMethodPS256, k1, "k1", good()), "Invalid token"},
		{"ES256", signWith(t, jwt.SigningMethodES256, ec, "k1", good()), "Invalid token"},

		// Keys: only the issuer's, found by kid.
		{"unknown kid", signWith(t, jwt.SigningMethodRS256, attacker, "k9", good()), "Invalid token signature"},
		{"missing kid", signWith(t, jwt.SigningMethodRS256, k1, "", good()), "Invalid token signature"},
		{"kid not a string", header(`{"alg":"RS256","kid":1}`), "Invalid token signature"},
		{"kid as a path", signWith(t, jwt.SigningMethodRS256, attacker, "../../dev/null", good()), "Invalid token signature"},
		{"another key under the issuer's kid", signWith(t, jwt.SigningMethodRS256, attacker, "k1", good()), "Invalid token signature"},
		{"embedded jwk and jku", withEmbeddedKey(), "Invalid token signature"},

		// Signature.
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 10), "Invalid token signature"},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4], "Invalid token signature"},
		{"no signature", parts[0] + "." + parts[1] + ".", "Invalid token signature"},
		{"tampered claims", parts[0] + "." + b64(`{"iss":"`+issuer+`","aud":"`+audience+`","exp":9999999999,"oid":"admin","roles":["TREAdmin"]}`) + "." + parts[2], "Invalid token signature"},

		// Numeric dates: overflowing, fractional, out of range.
		{"exp 1e300 (overflows int64)", rs(with(func(c jwt.MapClaims) { c["exp"] = 1e300 })), "Invalid token"},
		{"exp -1e300", rs(with(func(c jwt.MapClaims) { c["exp"] = -1e300 })), "Invalid token"},
		{"exp 1e400 (not a float64)", parts[0] + "." + b64(`{"iss":"`+issuer+`","aud":"`+audience+`","exp":1e400,"oid":"u"}`) + "." + parts[2], "Invalid token"},
		{"exp beyond year 9999", rs(with(func(c jwt.MapClaims) { c["exp"] = 1e15 })), "Invalid token"},
		{"nbf 1e300", rs(with(func(c jwt.MapClaims) { c["nbf"] = 1e300 })), "Invalid token"},
		{"nbf -1e300", rs(with(func(c jwt.MapClaims) { c["nbf"] = -1e300 })), "Invalid token"},
		{"iat 1e300", rs(with(func(c jwt.MapClaims) { c["iat"] = 1e300 })), "Invalid token"},
		{"exp a string", rs(with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), "Invalid token"},
		{"exp missing", rs(with(func(c jwt.MapClaims) { delete(c, "exp") })), "Invalid token"},
		{"exp null", rs(with(func(c jwt.MapClaims) { c["exp"] = nil })), "Invalid token"},
		{"fractional exp, half a second in the future", rs(with(func(c jwt.MapClaims) { c["exp"] = float64(now.Unix()) + 0.5 })), ""},
		{"fractional exp, half a second past the leeway", rs(with(func(c jwt.MapClaims) {
			c["exp"] = float64(now.Add(-leeway).Unix()) - 0.5
		})), "Expired token signature"},
		// golang-jwt keeps whole seconds (TimePrecision), rounding down.
		{"fractional nbf, a second and a half beyond the leeway", rs(with(func(c jwt.MapClaims) {
			c["nbf"] = float64(now.Add(leeway).Unix()) + 1.5
		})), "Invalid token"},
		{"expired", rs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), "Expired token signature"},

		// Issuer and audience.
		{"wrong issuer", rs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" + issuerPath })), "Invalid token"},
		{"issuer with a trailing slash", rs(with(func(c jwt.MapClaims) { c["iss"] = issuer + "/" })), "Invalid token"},
		{"issuer in upper case", rs(with(func(c jwt.MapClaims) { c["iss"] = strings.ToUpper(issuer) })), "Invalid token"},
		{"no issuer", rs(with(func(c jwt.MapClaims) { delete(c, "iss") })), "Invalid token"},
		{"wrong audience", rs(with(func(c jwt.MapClaims) { c["aud"] = "api://other" })), "Invalid token"},
		{"audience array without ours", rs(with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} })), "Invalid token"},
		{"no audience", rs(with(func(c jwt.MapClaims) { delete(c, "aud") })), "Invalid token"},
		{"audience of another type", rs(with(func(c jwt.MapClaims) { c["aud"] = 42 })), "Invalid token"},

		// Entra v1 tokens (accessTokenAcceptedVersion 1) carry the sts issuer.
		{"v1 token", rs(with(func(c jwt.MapClaims) {
			c["iss"] = "https://sts.windows.net/tenant/"
			c["ver"] = "1.0"
		})), "Invalid token"},
		{"v1 token with a v2 audience claim", rs(with(func(c jwt.MapClaims) {
			c["iss"] = "https://sts.windows.net/tenant/"
			c["ver"] = "1.0"
			c["aud"] = []string{audience}
		})), "Invalid token"},

		// TRE's own claims.
		{"no oid", rs(with(func(c jwt.MapClaims) { delete(c, "oid") })), "Invalid token"},
		{"empty oid", rs(with(func(c jwt.MapClaims) { c["oid"] = "" })), "Invalid token"},
		{"roles not a list", rs(with(func(c jwt.MapClaims) { c["roles"] = "TREAdmin" })), "Invalid token"},
	}
}

// TestForgedTokens runs the forged-token corpus against both key sources:
// fixed keys, and the Entra path (discovery and JWKS from a fake issuer).
func TestForgedTokens(t *testing.T) {
	k1, _, _, _ := keys(t)
	entra := newFakeEntra(t)
	entra.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	oidcKeys := auth.NewOIDCKeys(entra.issuer(), auth.OIDCOptions{Client: entra.srv.Client()})
	t.Cleanup(func() { require.NoError(t, oidcKeys.Close()) })

	for _, src := range []struct {
		name   string
		issuer string
		keys   auth.KeySource
	}{
		{"fixed keys", "https://issuer.test" + issuerPath, keyMap{"k1": &k1.PublicKey}},
		{"entra", entra.issuer(), oidcKeys},
	} {
		v := &auth.Validator{Issuer: src.issuer, Audience: audience, Keys: src.keys, Leeway: leeway,
			Now: func() time.Time { return now }}
		for _, f := range forgedTokens(t, src.issuer) {
			t.Run(src.name+"/"+f.name, func(t *testing.T) {
				u, err := v.Validate(context.Background(), f.token)
				if f.msg == "" {
					require.NoError(t, err)
					require.Equal(t, "user-1", u.ID)
					return
				}
				require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err), "err: %v", err)
				require.Equal(t, f.msg, tre.ErrorMessage(err), "err: %v", err)
				require.Equal(t, tre.User{}, u)
			})
		}
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

// fakeEntra is an OpenID Connect issuer on httptest, laid out like Entra
// ID: discovery at /tenant/v2.0/.well-known/openid-configuration, keys at
// /tenant/discovery/v2.0/keys. It counts requests and can fail them.
type fakeEntra struct {
	srv           *httptest.Server
	mu            sync.Mutex
	keys          []byte // the JWKS document
	failing       bool
	issuerClaim   string // the issuer the discovery document names; ours when empty
	discoveryHits atomic.Int32
	jwksHits      atomic.Int32
}

func newFakeEntra(t *testing.T) *fakeEntra {
	t.Helper()
	f := &fakeEntra{keys: []byte(`{"keys":[]}`)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+issuerPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoveryHits.Add(1)
		f.mu.Lock()
		iss, failing := f.issuerClaim, f.failing
		f.mu.Unlock()
		if failing {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if iss == "" {
			iss = f.issuer()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": f.srv.URL + "/tenant/discovery/v2.0/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /tenant/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.keys)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEntra) issuer() string { return f.srv.URL + issuerPath }

// publish replaces the key set, as Entra's keys are marked: kid, "use":
// "sig", no alg.
func (f *fakeEntra) publish(keys map[string]*rsa.PublicKey) {
	store := jwkset.NewMemoryStorage()
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			panic(err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			panic(err)
		}
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		panic(err)
	}
	f.setKeys(raw)
}

func (f *fakeEntra) setKeys(raw []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = raw
}

func (f *fakeEntra) setFailing(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = fail
}

// entraToken signs a good token of the fake issuer with key under kid.
func entraToken(t *testing.T, f *fakeEntra, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	c := validClaims(f.issuer())
	c["exp"] = time.Now().Add(time.Hour).Unix()
	c["nbf"] = time.Now().Add(-time.Minute).Unix()
	c["iat"] = c["nbf"]
	return signWith(t, jwt.SigningMethodRS256, key, kid, c)
}

func entraValidator(f *fakeEntra, keys *auth.OIDCKeys) *auth.Validator {
	return &auth.Validator{Issuer: f.issuer(), Audience: audience, Keys: keys, Leeway: leeway}
}

func requireMessage(t *testing.T, err error, code tre.Code, msg string) {
	t.Helper()
	require.Equal(t, code, tre.ErrorCode(err), "err: %v", err)
	require.Equal(t, msg, tre.ErrorMessage(err), "err: %v", err)
}

// TestKeyRotation: Entra publishes a new key and signs with it; the running
// validator picks it up on the first token that names it, without a
// restart, and a flood of unknown kids does not make it fetch the keys
// again and again.
func TestKeyRotation(t *testing.T) {
	k1, k2, k3, _ := keys(t)
	f := newFakeEntra(t)
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	o := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client()})
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	v := entraValidator(f, o)
	ctx := context.Background()

	require.Zero(t, f.discoveryHits.Load(), "nothing is fetched before a token needs a key")
	u, err := v.Validate(ctx, entraToken(t, f, k1, "k1"))
	require.NoError(t, err)
	require.Equal(t, "user-1", u.ID)
	_, err = v.Validate(ctx, entraToken(t, f, k1, "k1"))
	require.NoError(t, err)
	require.EqualValues(t, 1, f.discoveryHits.Load())
	require.EqualValues(t, 1, f.jwksHits.Load(), "keys are cached")

	// Rotation: the new key is published beside the old one, then used.
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey, "k2": &k2.PublicKey})
	_, err = v.Validate(ctx, entraToken(t, f, k2, "k2"))
	require.NoError(t, err, "the new kid is picked up without a restart")
	require.EqualValues(t, 2, f.jwksHits.Load())
	_, err = v.Validate(ctx, entraToken(t, f, k1, "k1"))
	require.NoError(t, err, "the old key stays trusted while published")

	// Unknown kids right after a refresh are refused without a fetch.
	for range 20 {
		_, err = v.Validate(ctx, entraToken(t, f, k3, "k3"))
		requireMessage(t, err, tre.CodeUnauthorized, "Invalid token signature")
	}
	require.EqualValues(t, 2, f.jwksHits.Load(), "unknown kids refresh at most once per UnknownKeyInterval")
	require.EqualValues(t, 1, f.discoveryHits.Load(), "discovery is done once")
}

// TestUnknownKeyRefreshIsRateLimited: once the interval has passed, an
// unknown kid refreshes the keys again.
func TestUnknownKeyRefreshIsRateLimited(t *testing.T) {
	k1, k2, _, _ := keys(t)
	f := newFakeEntra(t)
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	o := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client(), UnknownKeyInterval: 200 * time.Millisecond})
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	v := entraValidator(f, o)
	ctx := context.Background()

	// The first unknown kid uses the refresh the limiter allows at once.
	_, err := v.Validate(ctx, entraToken(t, f, k2, "k2"))
	requireMessage(t, err, tre.CodeUnauthorized, "Invalid token signature")
	require.EqualValues(t, 2, f.jwksHits.Load())

	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey, "k2": &k2.PublicKey})
	require.Eventually(t, func() bool {
		_, err := v.Validate(ctx, entraToken(t, f, k2, "k2"))
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "k2 accepted once the limiter allows a refresh")
	require.EqualValues(t, 3, f.jwksHits.Load(), "one refresh per interval, however many tokens asked")
}

// TestPeriodicRefresh: the key set is fetched again every RefreshInterval. A
// key Entra withdraws stops being trusted; while Entra is down the cached
// keys keep working.
func TestPeriodicRefresh(t *testing.T) {
	k1, k2, _, _ := keys(t)
	f := newFakeEntra(t)
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey, "k2": &k2.PublicKey})
	o := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client(), RefreshInterval: 20 * time.Millisecond})
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	v := entraValidator(f, o)
	ctx := context.Background()
	_, err := v.Validate(ctx, entraToken(t, f, k1, "k1"))
	require.NoError(t, err)

	// Entra is down: refreshes fail, the cached keys stay.
	f.setFailing(true)
	hits := f.jwksHits.Load()
	require.Eventually(t, func() bool { return f.jwksHits.Load() >= hits+3 }, 5*time.Second, 5*time.Millisecond)
	_, err = v.Validate(ctx, entraToken(t, f, k1, "k1"))
	require.NoError(t, err, "a failed refresh keeps the cached keys")

	// Entra withdraws k1.
	f.publish(map[string]*rsa.PublicKey{"k2": &k2.PublicKey})
	f.setFailing(false)
	require.Eventually(t, func() bool {
		_, err := v.Validate(ctx, entraToken(t, f, k1, "k1"))
		return tre.ErrorMessage(err) == "Invalid token signature"
	}, 5*time.Second, 10*time.Millisecond, "a withdrawn key stops being trusted")
	_, err = v.Validate(ctx, entraToken(t, f, k2, "k2"))
	require.NoError(t, err)
}

// TestIssuerUnreachable: without any key, an issuer that cannot be read is
// a 503, not a 401; discovery is retried, but not on every request.
func TestIssuerUnreachable(t *testing.T) {
	k1, _, _, _ := keys(t)
	f := newFakeEntra(t)
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	f.setFailing(true)
	clock := now
	o := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client(), RetryInterval: time.Minute,
		Now: func() time.Time { return clock }})
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	v := entraValidator(f, o)
	ctx := context.Background()
	tok := entraToken(t, f, k1, "k1")

	_, err := v.Validate(ctx, tok)
	requireMessage(t, err, tre.CodeUnavailable, "The identity provider's signing keys cannot be read")
	_, err = v.Validate(ctx, tok)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.EqualValues(t, 1, f.discoveryHits.Load(), "no new attempt within RetryInterval")

	f.setFailing(false)
	clock = clock.Add(time.Minute)
	_, err = v.Validate(ctx, tok)
	require.NoError(t, err, "the issuer is back")
	require.EqualValues(t, 2, f.discoveryHits.Load())

	// Malformed input is refused before any key is needed.
	o2 := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client()})
	t.Cleanup(func() { require.NoError(t, o2.Close()) })
	_, err = entraValidator(f, o2).Validate(ctx, "abc")
	requireMessage(t, err, tre.CodeUnauthorized, "Could not validate credentials")
}

// TestDiscoveryProblems: a discovery document that names another issuer, or
// a key set without a usable key, is an unavailable identity provider.
func TestDiscoveryProblems(t *testing.T) {
	k1, _, _, _ := keys(t)
	ctx := context.Background()

	f := newFakeEntra(t)
	f.publish(map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	f.issuerClaim = "https://login.evil.test/tenant/v2.0"
	o := auth.NewOIDCKeys(f.issuer(), auth.OIDCOptions{Client: f.srv.Client()})
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	_, err := entraValidator(f, o).Validate(ctx, entraToken(t, f, k1, "k1"))
	requireMessage(t, err, tre.CodeUnavailable, "The identity provider's signing keys cannot be read")
	require.ErrorContains(t, err, "did not match the issuer URL returned by provider")
	require.Zero(t, f.jwksHits.Load(), "keys of a mismatched issuer are never read")

	f2 := newFakeEntra(t)
	o2 := auth.NewOIDCKeys(f2.issuer(), auth.OIDCOptions{Client: f2.srv.Client()})
	t.Cleanup(func() { require.NoError(t, o2.Close()) })
	_, err = entraValidator(f2, o2).Validate(ctx, entraToken(t, f2, k1, "k1"))
	requireMessage(t, err, tre.CodeUnavailable, "The identity provider's signing keys cannot be read")
	require.ErrorContains(t, err, "publishes no signing key")
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
		require.Equal(t, "alice@tre.localhost", u.Email)
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

	// A minted token expires.
	old, err := again.Mint("alice", nil, time.Minute, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	_, err = (&auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: again}).Validate(context.Background(), old)
	requireMessage(t, err, tre.CodeUnauthorized, "Expired token signature")

	require.Equal(t, auth.DevUserID("bob"), auth.DevUserID("bob"))
	require.NotEqual(t, auth.DevUserID("bob"), auth.DevUserID("alice"))
}
