package servicebus_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/queuetest"
	"github.com/tre-go/tre/internal/servicebus"
	"github.com/tre-go/tre/internal/servicebus/sbtest"
	"github.com/tre-go/tre/internal/tre"
)

// The tests run against the fake Service Bus broker of sbtest, a fresh one
// for each test. Without Node.js they skip, unless TRE_REQUIRE_NODE=1 (CI)
// makes them fail.

func TestQueueConformance(t *testing.T) {
	sbtest.Require(t) // skip once, not in every case
	queuetest.Run(t, func(t *testing.T, opts queuetest.Options) func() tre.Queue {
		conn := sbtest.Start(t,
			sbtest.LockDuration(opts.LockDuration),
			sbtest.MaxDeliveryCount(opts.MaxDeliveryCount),
			sbtest.DuplicateWindow(opts.DuplicateWindow),
		)
		return func() tre.Queue {
			q, err := servicebus.NewFromConnectionString(conn, nil)
			require.NoError(t, err)
			return q
		}
	})
}

func TestInvalidConnectionString(t *testing.T) {
	_, err := servicebus.NewFromConnectionString("Endpoint=sb://x;SharedAccessKey=secret-value", nil)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.NotContains(t, err.Error(), "secret-value", "the error must not repeat the key")
}
