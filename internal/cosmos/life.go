package cosmos

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// lifeTransport ends every request of the store when the store closes.
// The SDK fetches the account's metadata detached from the caller's
// context (one fetch shared by callers), so a caller cancelling does not
// stop it: against an unreachable account it runs through all its retries
// (about 10 s), and a program stopping would wait for it. Requests made
// through this transport are cancelled by Close as well.
type lifeTransport struct {
	next policy.Transporter
	life context.Context
}

// defaultTransport stands in for the SDK's own client when the caller
// gives none: HTTP/1.1 and 2 with proxies from the environment, TLS 1.2 or
// later, as the SDK's.
func defaultTransport() policy.Transporter {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}
}

func (t lifeTransport) Do(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.life, cancel)
	release := func() { stop(); cancel() }
	if t.life.Err() != nil {
		release()
		return nil, storeClosed{errClosed}
	}
	resp, err := t.next.Do(req.WithContext(ctx))
	if err != nil {
		release()
		if t.life.Err() != nil {
			return nil, storeClosed{err}
		}
		return nil, err
	}
	resp.Body = &lifeBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// storeClosed is the error of a request the store's Close ended: the
// SDK's retry policy does not retry it (errorinfo.NonRetriable).
type storeClosed struct{ error }

func (storeClosed) NonRetriable() {}

func (e storeClosed) Unwrap() error { return e.error }

// lifeBody releases its request's context once the body is closed.
type lifeBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *lifeBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
