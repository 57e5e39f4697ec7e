package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// JWK is one RSA key of a JSON Web Key Set.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicKey decodes an RSA JWK.
func (k JWK) PublicKey() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("auth: key %s has type %q, not RSA", k.Kid, k.Kty)
	}
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, fmt.Errorf("auth: key %s: modulus: %w", k.Kid, err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		return nil, fmt.Errorf("auth: key %s: exponent: %w", k.Kid, err)
	}
	exp := new(big.Int).SetBytes(e)
	if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("auth: key %s: bad exponent", k.Kid)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}
	if pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("auth: key %s: modulus of %d bits is too short", k.Kid, pub.N.BitLen())
	}
	return pub, nil
}

// NewJWK encodes an RSA public key as a JWK with the given key id.
func NewJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{
		Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid,
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// OIDCKeys is the Entra ID key source: it finds the JWKS through the OIDC
// discovery document, caches the keys, refreshes them when they are older
// than MaxAge, and on an unknown key id (Entra rolls keys), at most once per
// MinRefresh. When a refresh fails it keeps using the keys it has.
type OIDCKeys struct {
	DiscoveryURL string
	Client       *http.Client
	MaxAge       time.Duration
	MinRefresh   time.Duration
	Now          func() time.Time

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetched   time.Time
	attempted time.Time
}

var _ KeySource = (*OIDCKeys)(nil)

// NewOIDCKeys returns the key source of an Entra ID tenant:
// {authority}/{tenant}/v2.0/.well-known/openid-configuration.
func NewOIDCKeys(authority, tenant string, client *http.Client) *OIDCKeys {
	return &OIDCKeys{
		DiscoveryURL: strings.TrimRight(authority, "/") + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		Client:       client,
		MaxAge:       24 * time.Hour,
		MinRefresh:   5 * time.Minute,
	}
}

// Key implements KeySource.
func (o *OIDCKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	key, known := o.keys[kid]
	stale := o.keys == nil || now.Sub(o.fetched) > o.MaxAge
	mayRefresh := o.attempted.IsZero() || now.Sub(o.attempted) >= o.MinRefresh
	if (stale || !known) && (mayRefresh || o.keys == nil) {
		o.attempted = now
		keys, err := o.fetch(ctx)
		switch {
		case err == nil:
			o.keys, o.fetched = keys, now
			key, known = keys[kid]
		case o.keys == nil:
			return nil, tre.WrapError(tre.CodeUnavailable, err, "The identity provider's signing keys cannot be read")
		}
	}
	if !known {
		return nil, ErrUnknownKey
	}
	return key, nil
}

func (o *OIDCKeys) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := o.getJSON(ctx, o.DiscoveryURL, &disc); err != nil {
		return nil, err
	}
	if disc.JWKSURI == "" {
		return nil, fmt.Errorf("auth: discovery document %s has no jwks_uri", o.DiscoveryURL)
	}
	var set JWKS
	if err := o.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]*rsa.PublicKey)
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			continue // one bad key must not hide the good ones
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth: %s has no usable RSA signing key", disc.JWKSURI)
	}
	return keys, nil
}

func (o *OIDCKeys) getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("auth: get %s: %w", url, err)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("auth: get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("auth: get %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("auth: get %s: %w", url, err)
	}
	return nil
}
