// Package auth validates bearer tokens (RS256 JWTs) and turns them into the
// caller's tre.User. Keys come from a KeySource: Entra ID (OIDC discovery and
// JWKS, cached and refreshed) in Azure, or the local dev issuer whose key
// lives in the data directory.
package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// KeySource finds the public key that signed a token. Key returns
// ErrUnknownKey when it has no key with that id, and a CodeUnavailable
// error when it cannot reach its keys.
type KeySource interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// ErrUnknownKey is returned by a KeySource without a key of the asked id.
var ErrUnknownKey = errors.New("auth: unknown signing key")

// Client-facing messages, AzureTRE's texts.
const (
	msgNoCredentials    = "Could not validate credentials"
	msgInvalidToken     = "Invalid token"
	msgExpiredToken     = "Expired token signature"
	msgInvalidSignature = "Invalid token signature"
)

// Validator checks bearer tokens: RS256 only, signed by a key of Keys,
// issued by Issuer for Audience, within its validity (with Leeway).
type Validator struct {
	Issuer   string
	Audience string
	Keys     KeySource
	Leeway   time.Duration
	Now      func() time.Time
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// Claims are the token claims the control plane reads.
type Claims struct {
	Issuer            string   `json:"iss"`
	Audience          audience `json:"aud"`
	Expiry            *float64 `json:"exp"`
	NotBefore         *float64 `json:"nbf"`
	IssuedAt          *float64 `json:"iat"`
	ObjectID          string   `json:"oid"`
	Subject           string   `json:"sub"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	PreferredUsername string   `json:"preferred_username"`
	Roles             []string `json:"roles"`
}

// audience decodes the aud claim, a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// Validate checks a raw token and returns the caller. Returns CodeUnauthorized
// for any fault of the token, CodeUnavailable when the keys cannot be read.
func (v *Validator) Validate(ctx context.Context, raw string) (tre.User, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return tre.User{}, unauthorized(msgNoCredentials)
	}
	var h header
	if err := decodeSegment(parts[0], &h); err != nil {
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	if h.Alg != "RS256" {
		// Never "none", never HMAC with a public key as the secret.
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	key, err := v.Keys.Key(ctx, h.Kid)
	if errors.Is(err, ErrUnknownKey) {
		return tre.User{}, unauthorized(msgInvalidSignature)
	}
	if err != nil {
		return tre.User{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return tre.User{}, unauthorized(msgInvalidSignature)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return tre.User{}, unauthorized(msgInvalidSignature)
	}
	var c Claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	if c.Expiry == nil {
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	if t.After(unix(*c.Expiry).Add(v.Leeway)) {
		return tre.User{}, unauthorized(msgExpiredToken)
	}
	if c.NotBefore != nil && t.Add(v.Leeway).Before(unix(*c.NotBefore)) {
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	if c.Issuer != v.Issuer || !c.Audience.contains(v.Audience) || c.ObjectID == "" {
		return tre.User{}, unauthorized(msgInvalidToken)
	}
	email := c.Email
	if email == "" {
		email = c.PreferredUsername
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	return tre.User{ID: c.ObjectID, Name: c.Name, Email: email, Roles: roles}, nil
}

func unix(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func unauthorized(msg string) error { return tre.Errorf(tre.CodeUnauthorized, "%s", msg) }

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value. Returns CodeUnauthorized when it is missing or malformed.
func BearerToken(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized(msgNoCredentials)
	}
	return strings.TrimSpace(token), nil
}
