// Package lock provides Lease: an exclusive, expiring lease kept as one
// document of the store, so that one holder at a time does some work across
// all instances of the control plane (the firewall service writes the
// firewall under one).
package lock

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Lease is an exclusive, expiring lease kept as one document of the store's
// Leases collection, so that one holder at a time does its work even when
// several handler instances run (the firewall service writes the firewall
// under one: Azure Firewall takes one policy update at a time, AzureTRE
// #1939).
//
// Every change of the document is guarded by its etag: a free lease is
// taken with Create (only one creator succeeds), an expired one with
// Replace on the etag read (only one taker succeeds), so two holders can
// never both believe they hold it. Each acquisition has its own token, so
// two goroutines sharing one Lease value (and Holder) exclude each other
// too. The holder renews the lease while it works; expiry is judged on the
// instances' clocks, so their skew must stay well below TTL.
type Lease struct {
	Store tre.Store
	// Name is the lease document's id, e.g. "firewall".
	Name string
	// Holder names the instance, for people reading the lease document.
	Holder string
	// TTL is how long the lease lasts without renewal: the longest a
	// crashed holder blocks the others. Default 2 minutes.
	TTL time.Duration
	// RenewEvery is how often the holder extends the lease. Default TTL/3.
	RenewEvery time.Duration
	// MaxWait caps the backoff between attempts while another holder has
	// the lease. Default 1 second.
	MaxWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrLost is the cause of a held context's cancellation when another
// holder took the lease over (after it expired unrenewed) or the store lost
// it.
var ErrLost = errors.New("lock: lease lost")

// errReleased is the cause of a held context's cancellation on release.
var errReleased = errors.New("lock: lease released")

type leaseDoc struct {
	ID         string    `json:"id"`
	Holder     string    `json:"holder"`
	Token      string    `json:"token"`
	AcquiredAt time.Time `json:"acquiredAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// Acquire waits until it holds the lease, or ctx ends. The lease is renewed
// in the background until release is called; release is idempotent and
// safe to call after ctx ended. Returns ctx's error, CodeInvalid for a
// misconfigured Lease, the store's errors.
func (l *Lease) Acquire(ctx context.Context) (release func(), err error) {
	_, release, err = l.Hold(ctx)
	return release, err
}

// Hold is Acquire that also returns a context derived from ctx, cancelled
// with cause ErrLost if a renewal finds the lease taken over, and when
// release is called. Work done under the lease should use it, so that it
// stops once another holder may be writing.
func (l *Lease) Hold(ctx context.Context) (held context.Context, release func(), err error) {
	if err := l.check(); err != nil {
		return nil, nil, err
	}
	etag, doc, err := l.take(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock: lease %s: %w", l.Name, err)
	}
	held, cancel := context.WithCancelCause(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		etag = l.renew(held, cancel, stop, etag, doc)
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(stop)
			<-done // the renewer owned etag until now
			cancel(errReleased)
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer dcancel()
			// A failure leaves the lease to expire: the others wait at
			// most TTL. Not found or a stale etag means it was taken over.
			_ = l.Store.Delete(dctx, tre.Leases, l.Name, etag)
		})
	}
	return held, release, nil
}

func (l *Lease) check() error {
	var problems []tre.FieldError
	if l.Store == nil {
		problems = append(problems, tre.FieldError{Field: "Store", Message: "is nil"})
	}
	if err := tre.CheckID(l.Name); err != nil {
		problems = append(problems, tre.FieldError{Field: "Name", Message: tre.ErrorMessage(err)})
	}
	if l.Holder == "" {
		problems = append(problems, tre.FieldError{Field: "Holder", Message: "is empty"})
	}
	if l.TTL < 0 || l.RenewEvery < 0 || l.MaxWait < 0 {
		problems = append(problems, tre.FieldError{Field: "TTL", Message: "durations must not be negative"})
	}
	return tre.InvalidFields("invalid lease", problems)
}

func (l *Lease) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Lease) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return 2 * time.Minute
}

// take loops until it creates the lease document, replaces an expired one,
// or ctx ends; it returns the etag of its write.
func (l *Lease) take(ctx context.Context) (string, leaseDoc, error) {
	maxWait := l.MaxWait
	if maxWait == 0 {
		maxWait = time.Second
	}
	wait := 5 * time.Millisecond
	for {
		now := l.now()
		mine := leaseDoc{ID: l.Name, Holder: l.Holder, Token: newToken(), AcquiredAt: now, ExpiresAt: now.Add(l.ttl())}
		cur, err := l.Store.Get(ctx, tre.Leases, l.Name)
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			etag, err := tre.CreateAs(ctx, l.Store, tre.Leases, l.Name, mine)
			if err == nil {
				return etag, mine, nil
			}
			if !tre.IsCode(err, tre.CodeConflict) {
				return "", mine, err
			}
			continue // another holder created it first: read it
		case err != nil:
			return "", mine, err
		}
		var theirs leaseDoc
		// An unreadable lease document counts as expired, so that it
		// cannot block the holders forever.
		if tre.Decode(cur, &theirs) != nil || !now.Before(theirs.ExpiresAt) {
			etag, err := tre.ReplaceAs(ctx, l.Store, tre.Leases, l.Name, cur.ETag, mine)
			if err == nil {
				return etag, mine, nil
			}
			if !tre.IsCode(err, tre.CodePreconditionFailed) && !tre.IsCode(err, tre.CodeNotFound) {
				return "", mine, err
			}
			continue // another taker won: read again
		}
		d := min(wait, theirs.ExpiresAt.Sub(now))
		// Jitter spreads the waiters so that they do not all retry at once.
		d = d/2 + rand.N(d/2+1)
		if d < time.Millisecond {
			d = time.Millisecond
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", mine, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// renew extends the lease every RenewEvery until stop is closed or held
// ends, and returns the etag of its last write. It cancels held with
// ErrLost when the lease is gone or could not be renewed before it
// expired.
func (l *Lease) renew(held context.Context, cancel context.CancelCauseFunc, stop <-chan struct{}, etag string, doc leaseDoc) string {
	every := l.RenewEvery
	if every == 0 {
		every = l.ttl() / 3
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return etag
		case <-held.Done():
			return etag
		case <-t.C:
		}
		next := doc
		next.ExpiresAt = l.now().Add(l.ttl())
		newETag, err := tre.ReplaceAs(held, l.Store, tre.Leases, l.Name, etag, next)
		switch {
		case err == nil:
			etag, doc = newETag, next
		case tre.IsCode(err, tre.CodePreconditionFailed), tre.IsCode(err, tre.CodeNotFound):
			cancel(ErrLost)
			return etag
		case !l.now().Before(doc.ExpiresAt):
			// The store was unreachable until the lease expired: another
			// holder may have it now.
			cancel(ErrLost)
			return etag
		}
	}
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
