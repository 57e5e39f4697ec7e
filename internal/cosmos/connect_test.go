package cosmos

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// closedPort is a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// A store made by New answers before it has reached the account: every
// method says Cosmos DB is not connected yet, without a request, and a
// failed Connect leaves it so, for the next Connect to try again.
func TestNewAnswersBeforeConnect(t *testing.T) {
	s, err := New(Config{Endpoint: "https://" + closedPort(t) + "/", Key: "a2V5", Retry: policy.RetryOptions{MaxRetries: -1}})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()

	_, err = s.Get(ctx, tre.Operations, "op-1")
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), "Cosmos DB")
	require.Contains(t, tre.ErrorMessage(err), "not connected yet")
	err = s.Ping(ctx)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))

	err = s.Connect(ctx)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "%v", err)
	_, err = s.Get(ctx, tre.Operations, "op-1")
	require.Contains(t, tre.ErrorMessage(err), "not connected yet")

	require.NoError(t, s.Close())
	err = s.Connect(ctx)
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "a closed store does not connect")
}

// Connect returns when its context ends, though the SDK runs the
// account's metadata fetch detached from the caller's context (it would
// end with its own error, after its retries).
func TestConnectReturnsWhenItsContextEnds(t *testing.T) {
	// A listener that accepts and never answers: the TLS handshake hangs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	first := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			if len(conns) == 1 {
				close(first)
			}
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	s, err := New(Config{Endpoint: "https://" + ln.Addr().String() + "/", Key: "a2V5"})
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Connect(ctx) }()
	<-first // the fetch is under way
	cancel()
	err = <-done
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err), "%v", err)
	require.ErrorIs(t, err, context.Canceled, "the caller's context ended it, not the SDK's own error")
}
