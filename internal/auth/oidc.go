package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/tre-go/tre/internal/tre"
)

// OIDCKeys is the key source of an OpenID Connect issuer (Entra ID). On
// first use it reads the issuer's discovery document with go-oidc (which
// refuses a document naming another issuer) and hands its jwks_uri to
// keyfunc, whose jwkset cache then serves the keys: the whole set is fetched
// again every RefreshInterval (a withdrawn key stops being trusted), and
// when a token names a kid it does not have (Entra rolls its keys), at most
// once per UnknownKeyInterval so that forged kids cannot make us hammer the
// issuer. A failed refresh keeps the keys already cached.
//
// Until discovery and the first key fetch succeed, tokens get
// CodeUnavailable (503), not 401, and discovery is tried again at most once
// per RetryInterval. Close stops the cache's refresh goroutine.
type OIDCKeys struct {
	issuer string
	opts   OIDCOptions
	ctx    context.Context // ends the refresh goroutine
	cancel context.CancelFunc

	mu    sync.Mutex
	keys  keyfunc.Keyfunc    // nil until loaded
	stop  context.CancelFunc // of keys' refresh goroutine
	tried time.Time
	err   error // of the last failed load
}

// OIDCOptions tune an OIDCKeys; a zero field takes its default.
type OIDCOptions struct {
	Client             *http.Client  // http.DefaultClient
	Timeout            time.Duration // 10s: one request to the issuer
	RefreshInterval    time.Duration // 1h: fetch the key set again
	UnknownKeyInterval time.Duration // 5m: at most one fetch per interval for unknown kids
	RetryInterval      time.Duration // 10s: after a failed discovery or first fetch
	Log                *slog.Logger  // refresh failures; none when nil
	Now                func() time.Time
}

var _ KeySource = (*OIDCKeys)(nil)

// EntraIssuer is the v2 issuer of an Entra ID tenant:
// {authority}/{tenant}/v2.0. Its discovery document is under
// /.well-known/openid-configuration.
func EntraIssuer(authority, tenant string) string {
	return strings.TrimRight(authority, "/") + "/" + tenant + "/v2.0"
}

// NewOIDCKeys returns the key source of issuer. Nothing is fetched until a
// token needs a key.
func NewOIDCKeys(issuer string, opts OIDCOptions) *OIDCKeys {
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Hour
	}
	if opts.UnknownKeyInterval <= 0 {
		opts.UnknownKeyInterval = 5 * time.Minute
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &OIDCKeys{issuer: issuer, opts: opts, ctx: ctx, cancel: cancel}
}

// KeyfuncCtx implements KeySource.
func (o *OIDCKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		keys, err := o.load()
		if err != nil {
			return nil, tre.WrapError(tre.CodeUnavailable, err, "The identity provider's signing keys cannot be read")
		}
		return keys.KeyfuncCtx(ctx)(t)
	}
}

// Close stops refreshing the keys.
func (o *OIDCKeys) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stop != nil {
		o.stop()
	}
	o.cancel()
	return nil
}

// load returns the key cache, making it on first use.
func (o *OIDCKeys) load() (keyfunc.Keyfunc, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys != nil {
		return o.keys, nil
	}
	if o.ctx.Err() != nil {
		return nil, errors.New("auth: key source closed")
	}
	now := o.opts.Now()
	if o.err != nil && now.Sub(o.tried) < o.opts.RetryInterval {
		return nil, o.err
	}
	o.tried = now
	o.keys, o.err = o.discover()
	return o.keys, o.err
}

// discover reads the issuer's metadata and starts the key cache on its
// jwks_uri, with a first fetch that must succeed.
func (o *OIDCKeys) discover() (keyfunc.Keyfunc, error) {
	ctx, cancel := context.WithTimeout(o.ctx, o.opts.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.opts.Client), o.issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: discover %s: %w", o.issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("auth: discover %s: no jwks_uri", o.issuer)
	}
	run, stop := context.WithCancel(o.ctx)
	firstMustSucceed := false
	log := o.opts.Log
	kf, err := keyfunc.NewDefaultOverrideCtx(run, []string{meta.JWKSURI}, keyfunc.Override{
		Client:                    o.opts.Client,
		HTTPTimeout:               o.opts.Timeout,
		NoErrorReturnFirstHTTPReq: &firstMustSucceed,
		RefreshInterval:           o.opts.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(o.opts.UnknownKeyInterval), 1),
		// Also bounds the fetch itself. A token with an unknown kid waits
		// for the limiter only when its next slot is within this; otherwise
		// it is refused at once.
		RateLimitWaitMax: o.opts.Timeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Warn("identity provider's keys not refreshed; the cached ones stay in use", "url", u, "error", err.Error())
			}
		},
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("auth: keys of %s: %w", o.issuer, err)
	}
	if all, err := kf.Storage().KeyReadAll(ctx); err != nil || len(all) == 0 {
		stop()
		return nil, fmt.Errorf("auth: %s publishes no signing key we can use", meta.JWKSURI)
	}
	// Only keys meant for signatures (Entra marks them "use": "sig").
	sig, err := keyfunc.New(keyfunc.Options{Ctx: run, Storage: kf.Storage(), UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		stop()
		return nil, fmt.Errorf("auth: keys of %s: %w", o.issuer, err)
	}
	o.stop = stop
	return sig, nil
}
