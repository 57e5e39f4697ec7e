package processor

import (
	"math/rand/v2"
	"regexp"
	"sync"
	"time"
)

var transientPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\b429\b|too ?many ?requests|AnotherOperationInProgress|RetryableError|i/o timeout|TLS handshake timeout|connection reset by peer|connection refused|temporarily unavailable|ServerBusy|Retry-After)`)
})

// Transient reports whether a bundle error is one that running the bundle
// again may clear: ARM throttling (429), a conflicting operation on the
// same Azure resource, errors Azure marks retryable, network timeouts.
// Anything else (Terraform validation errors, wrong parameters) fails at
// once.
func Transient(err error) bool { return err != nil && transientPattern().MatchString(err.Error()) }

// backoff is the wait before try n+1: TransientBackoff doubled per try,
// capped, with up to 20% jitter so that agents hit by one throttling do not
// come back in step.
func (a *Agent) backoff(n int) time.Duration {
	d := a.cfg.TransientBackoff << (n - 1)
	if d <= 0 || d > a.cfg.TransientBackoffMax {
		d = a.cfg.TransientBackoffMax
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
