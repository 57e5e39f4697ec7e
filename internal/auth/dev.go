package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// Dev issuer identity: tokens it mints carry these, and only a handler
// configured for the dev issuer accepts them.
const (
	DevIssuer   = "https://tre.localhost/dev-issuer"
	DevAudience = "api://tre-dev"
	// DevKeyFile is the dev issuer's private key, in the data directory.
	DevKeyFile = "dev-issuer-key.pem"
)

// DevKeys is the local development issuer: an RSA key kept in the data
// directory, with which the program mints (golang-jwt) and trusts (a
// keyfunc on an in-memory jwkset) its own tokens. It is for running on one
// machine without Entra ID, never for a deployment: the handler refuses it
// on App Service and, unless TRE_DEV_ISSUER=true, beside any Azure adapter
// setting.
type DevKeys struct {
	key  *rsa.PrivateKey
	kid  string
	keys keyfunc.Keyfunc
}

var _ KeySource = (*DevKeys)(nil)

// LoadDevKeys reads the dev issuer's key from dir, creating it on first use.
// Two processes starting together agree on one key: the file is written to a
// temporary name and linked into place, and whoever loses reads the winner's.
func LoadDevKeys(dir string) (*DevKeys, error) {
	path := filepath.Join(dir, DevKeyFile)
	key, err := readKey(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err = createKey(dir, path)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: dev key: %w", err)
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	keys, err := staticKeys(kid, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: dev key: %w", err)
	}
	return &DevKeys{key: key, kid: kid, keys: keys}, nil
}

// staticKeys is a keyfunc of one RS256 signing key.
func staticKeys(kid string, pub *rsa.PublicKey) (keyfunc.Keyfunc, error) {
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: kid, USE: jwkset.UseSig, ALG: jwkset.AlgRS256}})
	if err != nil {
		return nil, err
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		return nil, err
	}
	return keyfunc.New(keyfunc.Options{Storage: store, UseWhitelist: []jwkset.USE{jwkset.UseSig}})
}

func readKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("auth: %s is not a PEM file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s does not hold an RSA key", path)
	}
	return rk, nil
}

func createKey(dir, path string) (*rsa.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create data directory: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("auth: generate dev key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: dev key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".dev-key-*")
	if err != nil {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	return readKey(path)
}

// KeyfuncCtx implements KeySource.
func (d *DevKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc { return d.keys.KeyfuncCtx(ctx) }

// PendingDevKeys is the dev issuer's key being loaded in the background:
// on the first start in a data directory it is generated, an RSA key
// whose generation takes tens to hundreds of milliseconds, and the handler
// need not wait for it to serve what needs no token. A token checked
// before the key is ready waits for it (bounded by its context).
type PendingDevKeys struct {
	done chan struct{}
	keys *DevKeys
	err  error
}

var _ KeySource = (*PendingDevKeys)(nil)

// LoadDevKeysInBackground starts LoadDevKeys(dir) and returns at once.
// The goroutine it starts ends by itself; Wait waits for it.
func LoadDevKeysInBackground(dir string) *PendingDevKeys {
	p := &PendingDevKeys{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.keys, p.err = LoadDevKeys(dir)
	}()
	return p
}

// Wait waits for the key and returns it, or why it could not be loaded.
func (p *PendingDevKeys) Wait(ctx context.Context) (*DevKeys, error) {
	select {
	case <-p.done:
		return p.keys, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// KeyfuncCtx implements KeySource: the keys once loaded; CodeUnavailable
// if they could not be.
func (p *PendingDevKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		keys, err := p.Wait(ctx)
		if err != nil {
			return nil, tre.WrapError(tre.CodeUnavailable, err, "The dev issuer's key is not available")
		}
		return keys.KeyfuncCtx(ctx)(t)
	}
}

// DevUserID is the stable object id the dev issuer gives a user name, so the
// same name is the same user across tokens and restarts.
func DevUserID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(DevIssuer+"/users/"+name)).String()
}

// Mint signs a token for user name with the given roles, valid for ttl.
func (d *DevKeys) Mint(name string, roles []string, ttl time.Duration, now time.Time) (string, error) {
	if roles == nil {
		roles = []string{}
	}
	return Sign(d.key, d.kid, jwt.MapClaims{
		"iss":                DevIssuer,
		"aud":                DevAudience,
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(ttl).Unix(),
		"oid":                DevUserID(name),
		"sub":                DevUserID(name),
		"name":               name,
		"preferred_username": name + "@tre.localhost",
		"roles":              roles,
	})
}

// Sign makes an RS256 JWT of claims with kid in its header. Tests use it to
// make tokens of any shape.
func Sign(key *rsa.PrivateKey, kid string, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}
