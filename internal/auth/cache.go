package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// TokenCache remembers the callers of tokens a Validator has verified, so
// that a client sending the same token with every request has its RS256
// signature checked once rather than each time (the check is most of the
// cost of a small GET). An entry lasts until its token expires, and at
// most MaxAge, after which the token is verified again: a token signed by
// a key the issuer has since withdrawn is accepted for at most MaxAge
// after its last check. Only valid tokens are kept, by a hash of the
// token, and at most Size of them.
type TokenCache struct {
	// MaxAge bounds how long a verification is trusted (default 5 min).
	MaxAge time.Duration
	// Size bounds the entries (default 10,000): when full, a tenth are
	// dropped.
	Size int

	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	user  tre.User
	until time.Time // the token's expiry (with leeway), or the check's MaxAge
}

func (c *TokenCache) get(raw string, now time.Time) (tre.User, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return tre.User{}, false
	}
	if !now.Before(e.until) {
		delete(c.m, key)
		return tre.User{}, false
	}
	u := e.user
	u.Roles = slices.Clone(u.Roles)
	return u, true
}

// put keeps a verified token's caller until expires (already with the
// leeway), bounded by MaxAge from now.
func (c *TokenCache) put(raw string, u tre.User, expires, now time.Time) {
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	size := c.Size
	if size <= 0 {
		size = 10000
	}
	until := now.Add(maxAge)
	if expires.Before(until) {
		until = expires
	}
	u.Roles = slices.Clone(u.Roles)
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[32]byte]cachedToken{}
	}
	if len(c.m) >= size {
		drop := max(size/10, 1)
		for k := range c.m {
			delete(c.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[key] = cachedToken{user: u, until: until}
}
