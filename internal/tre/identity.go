package tre

import "context"

// Authenticator is the identity port: it validates a bearer token and
// returns the caller it names, with the TRE-level roles the token grants.
// Adapters: Entra ID (OIDC discovery and JWKS) and the local dev issuer,
// both package auth's Validator with different keys.
type Authenticator interface {
	// Validate checks a raw token (without "Bearer "). Returns
	// CodeUnauthorized for any fault of the token, CodeUnavailable when the
	// keys cannot be read.
	Validate(ctx context.Context, raw string) (User, error)
}
