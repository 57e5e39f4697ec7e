package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
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
// directory, with which the program mints and trusts its own tokens. It is
// for running on one machine without Entra ID, never for a deployment.
type DevKeys struct {
	key *rsa.PrivateKey
	kid string
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
	return &DevKeys{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
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

// Key implements KeySource.
func (d *DevKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if kid != d.kid {
		return nil, ErrUnknownKey
	}
	return &d.key.PublicKey, nil
}

// JWKS returns the dev issuer's public key set.
func (d *DevKeys) JWKS() JWKS { return JWKS{Keys: []JWK{NewJWK(d.kid, &d.key.PublicKey)}} }

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
	claims := map[string]any{
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
	}
	return Sign(d.key, d.kid, claims)
}

// Sign makes an RS256 JWT of claims. Tests use it to make tokens of any shape.
func Sign(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	h, err := json.Marshal(header{Alg: "RS256", Kid: kid, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
