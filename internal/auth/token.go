// Package auth validates bearer tokens (RS256 JWTs) and turns them into the
// caller's tre.User.
//
// It holds no JOSE code of its own: tokens are parsed, verified and their
// registered claims checked by github.com/golang-jwt/jwt/v5, with RS256 as
// the only algorithm, exp required and a leeway for clock skew. Keys come
// from a KeySource, which hands golang-jwt the key of a token's kid:
//
//   - OIDCKeys, Entra ID in Azure: the issuer's metadata is found by OpenID
//     Connect discovery (github.com/coreos/go-oidc/v3, which checks that the
//     document names our issuer), and its JWKS is cached, refreshed and
//     rotated by github.com/MicahParks/keyfunc/v3 (github.com/MicahParks/jwkset
//     storage).
//   - DevKeys, the local dev issuer: an RSA key in the data directory, with
//     which `tre-handler token` signs (golang-jwt again) and the handler
//     verifies (a keyfunc on an in-memory jwkset).
//
// What remains here is policy: which claims a TRE token must carry (oid; the
// numeric dates within a sane range, since golang-jwt converts exp: 1e300
// with an overflowing float-to-int conversion), the client-facing messages
// (AzureTRE's) and the mapping to tre.User.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tre-go/tre/internal/tre"
)

// KeySource gives golang-jwt the public key a token names in its kid
// header. A keyfunc.Keyfunc implements it. The keyfunc returns a
// CodeUnavailable error when the keys cannot be read at all; any other
// error means the token names no usable key.
type KeySource interface {
	KeyfuncCtx(ctx context.Context) jwt.Keyfunc
}

// ErrUnknownKey is the cause of a refusal of a token whose kid no key of the
// source has (or that has no kid).
var ErrUnknownKey = errors.New("auth: unknown signing key")

// errBadDate marks a numeric date claim outside [1970, 9999].
var errBadDate = errors.New("auth: numeric date out of range")

// Client-facing messages, AzureTRE's texts.
const (
	msgNoCredentials    = "Could not validate credentials"
	msgInvalidToken     = "Invalid token"
	msgExpiredToken     = "Expired token signature"
	msgInvalidSignature = "Invalid token signature"
)

// algorithms is the allow-list of signing algorithms: never "none", never
// an HMAC keyed with a public key.
var algorithms = []string{jwt.SigningMethodRS256.Alg()}

// maxDate is the last second of year 9999: a numeric date beyond it is a
// forgery or an overflow, not a real expiry.
const maxDate = 253402300799

// Validator checks bearer tokens: RS256 only, signed by a key of Keys,
// issued by Issuer for Audience, within its validity (with Leeway).
type Validator struct {
	Issuer   string
	Audience string
	Keys     KeySource
	Leeway   time.Duration
	Now      func() time.Time // time.Now when nil
	// Cache, if set, keeps verified tokens until they expire (see
	// TokenCache).
	Cache *TokenCache
}

// Claims are the token claims the control plane reads. Validate is called
// by golang-jwt after its own checks of the registered claims.
type Claims struct {
	jwt.RegisteredClaims
	ObjectID          string   `json:"oid"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	PreferredUsername string   `json:"preferred_username"`
	Roles             []string `json:"roles"`
}

var _ jwt.ClaimsValidator = Claims{}

// Validate implements jwt.ClaimsValidator: the claims TRE needs beyond the
// registered ones.
func (c Claims) Validate() error {
	for name, d := range map[string]*jwt.NumericDate{"exp": c.ExpiresAt, "nbf": c.NotBefore, "iat": c.IssuedAt} {
		if d != nil && (d.Unix() < 0 || d.Unix() > maxDate) {
			return fmt.Errorf("%w: %s", errBadDate, name)
		}
	}
	if c.ObjectID == "" {
		return errors.New("auth: no oid claim")
	}
	return nil
}

// Validate checks a raw token and returns the caller. Returns CodeUnauthorized
// for any fault of the token, CodeUnavailable when the keys cannot be read.
func (v *Validator) Validate(ctx context.Context, raw string) (tre.User, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if v.Cache != nil {
		if u, ok := v.Cache.get(raw, now()); ok {
			return u, nil
		}
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	var keyErr error
	keys := v.Keys.KeyfuncCtx(ctx)
	var c Claims
	tok, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// Entra always names its key; a token without a kid is not one of ours.
		if kid, _ := t.Header["kid"].(string); kid == "" {
			keyErr = ErrUnknownKey
			return nil, keyErr
		}
		key, err := keys(t)
		keyErr = err
		return key, err
	})
	if err != nil {
		return tre.User{}, refusal(tok, keyErr, err)
	}
	email := c.Email
	if email == "" {
		email = c.PreferredUsername
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	u := tre.User{ID: c.ObjectID, Name: c.Name, Email: email, Roles: roles}
	if v.Cache != nil && c.ExpiresAt != nil {
		v.Cache.put(raw, u, c.ExpiresAt.Add(v.Leeway), now())
	}
	return u, nil
}

// refusal maps golang-jwt's verdict to AzureTRE's messages. tok is what the
// parser made of the token (nil when it is not three segments), keyErr the
// key source's error, if it was asked.
func refusal(tok *jwt.Token, keyErr, err error) error {
	switch {
	case tok == nil:
		return unauthorized(msgNoCredentials, err)
	case tok.Method == nil || tok.Method.Alg() != jwt.SigningMethodRS256.Alg():
		return unauthorized(msgInvalidToken, err)
	case keyErr != nil && tre.ErrorCode(keyErr) == tre.CodeUnavailable:
		return keyErr
	case keyErr != nil, errors.Is(err, jwt.ErrTokenSignatureInvalid),
		// golang-jwt decodes the signature segment last, after it found
		// the method: a malformed token with a method has a signature
		// that is not base64url (the forged-token test pins this).
		errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized(msgInvalidSignature, err)
	case errors.Is(err, errBadDate):
		return unauthorized(msgInvalidToken, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized(msgExpiredToken, err)
	}
	return unauthorized(msgInvalidToken, err)
}

// unauthorized is a CodeUnauthorized error with AzureTRE's message; the
// library's reason is kept as the cause, for the log.
func unauthorized(msg string, cause error) error {
	return tre.WrapError(tre.CodeUnauthorized, fmt.Errorf("auth: %w", cause), "%s", msg)
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value. Returns CodeUnauthorized when it is missing or malformed.
func BearerToken(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", tre.Errorf(tre.CodeUnauthorized, "%s", msgNoCredentials)
	}
	return strings.TrimSpace(token), nil
}
