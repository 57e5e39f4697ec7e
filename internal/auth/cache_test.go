package auth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/tre"
)

// countingKeys is a keyMap that counts the keys it hands out: one per
// signature checked.
type countingKeys struct {
	mu   sync.Mutex
	keys keyMap
	n    int
}

func (c *countingKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	f := c.keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
		return f(t)
	}
}

func (c *countingKeys) checks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *countingKeys) set(m keyMap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = m
}

// TestTokenCache: a token is verified once, then served from the cache
// until it expires or MaxAge passes; refusals are not cached; the cache
// stays within its size.
func TestTokenCache(t *testing.T) {
	k1, _, _, _ := keys(t)
	issuer := "https://issuer" + issuerPath
	keysrc := &countingKeys{keys: keyMap{"k1": &k1.PublicKey}}
	clock := now
	v := &auth.Validator{Issuer: issuer, Audience: audience, Keys: keysrc, Leeway: leeway,
		Now: func() time.Time { return clock }, Cache: &auth.TokenCache{MaxAge: 10 * time.Minute, Size: 4}}
	tok := signWith(t, jwt.SigningMethodRS256, k1, "k1", validClaims(issuer))

	for range 5 {
		u, err := v.Validate(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, "user-1", u.ID)
		require.Equal(t, []string{"TREAdmin"}, u.Roles)
		u.Roles[0] = "changed by a caller"
	}
	require.Equal(t, 1, keysrc.checks(), "verified once")

	// Past MaxAge it is verified again: a withdrawn key is noticed.
	clock = now.Add(11 * time.Minute)
	keysrc.set(keyMap{})
	_, err := v.Validate(context.Background(), tok)
	require.Equal(t, tre.CodeUnauthorized, tre.ErrorCode(err))
	require.Equal(t, 2, keysrc.checks())
	_, err = v.Validate(context.Background(), tok)
	require.Error(t, err, "a refusal is not cached")
	require.Equal(t, 3, keysrc.checks())

	// Cached, a token still expires on time.
	keysrc.set(keyMap{"k1": &k1.PublicKey})
	clock = now.Add(50 * time.Minute)
	_, err = v.Validate(context.Background(), tok)
	require.NoError(t, err)
	clock = now.Add(time.Hour + leeway + time.Second)
	_, err = v.Validate(context.Background(), tok)
	requireMessage(t, err, tre.CodeUnauthorized, "Expired token signature")

	// Many tokens: the cache keeps at most Size, and each still works.
	clock = now
	for i := range 10 {
		c := validClaims(issuer)
		c["oid"] = fmt.Sprintf("user-%d", i)
		_, err := v.Validate(context.Background(), signWith(t, jwt.SigningMethodRS256, k1, "k1", c))
		require.NoError(t, err)
	}
}

// BenchmarkValidate: an RS256 token verified each time, and served from
// the cache.
func BenchmarkValidate(b *testing.B) {
	key, _, _, _ := keys(b)
	issuer := "https://issuer" + issuerPath
	claims := validClaims(issuer)
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	claims["nbf"], claims["iat"] = time.Now().Add(-time.Minute).Unix(), time.Now().Add(-time.Minute).Unix()
	tok, err := auth.Sign(key, "k1", claims)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cache *auth.TokenCache
	}{{"verified", nil}, {"cached", &auth.TokenCache{}}} {
		b.Run(tc.name, func(b *testing.B) {
			v := &auth.Validator{Issuer: issuer, Audience: audience, Keys: keyMap{"k1": &key.PublicKey}, Leeway: leeway, Cache: tc.cache}
			for b.Loop() {
				if _, err := v.Validate(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDevKeysInBackground: a handler need not wait for the dev key; a
// token checked meanwhile waits for it, and a key that cannot be read is
// unavailable, not a refusal.
func TestDevKeysInBackground(t *testing.T) {
	dir := t.TempDir()
	pending := auth.LoadDevKeysInBackground(dir)
	v := &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: pending}
	minter, err := auth.LoadDevKeys(dir) // the same key: created once, whoever comes first
	require.NoError(t, err)
	tok, err := minter.Mint("alice", nil, time.Hour, time.Now())
	require.NoError(t, err)
	u, err := v.Validate(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, auth.DevUserID("alice"), u.ID)

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, auth.DevKeyFile), []byte("not a key"), 0o600))
	broken := auth.LoadDevKeysInBackground(bad)
	_, err = (&auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: broken}).Validate(context.Background(), tok)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	_, err = broken.Wait(context.Background())
	require.Error(t, err)
}
