package servicebus_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/servicebus/sbtest"
	"github.com/tre-go/tre/internal/tre"
)

// TestFakeBroker checks, with the SDK alone, the protocol paths of the fake
// broker that the adapter only takes when things go wrong (settlement on
// the $management node after a link is lost, named sessions, lock renewal
// of single messages) and the refusals Service Bus gives, so the conformance
// run above rests on a broker that answers as Service Bus does.
func TestFakeBroker(t *testing.T) {
	conn := sbtest.Start(t, sbtest.LockDuration(30*time.Second), sbtest.MaxDeliveryCount(10), sbtest.DuplicateWindow(time.Minute))
	client, err := azservicebus.NewClientFromConnectionString(conn, nil)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(context.Background()) })
	sender, err := client.NewSender(tre.QueueRequests, nil)
	require.NoError(t, err)

	send := func(t *testing.T, session string, ids ...string) {
		t.Helper()
		for _, id := range ids {
			require.NoError(t, sender.SendMessage(ctxFor(t, 10*time.Second), &azservicebus.Message{
				MessageID: &id, SessionID: &session, Body: []byte("body of " + id),
			}, nil))
		}
	}
	receive := func(t *testing.T, r interface {
		ReceiveMessages(context.Context, int, *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	}, n int) []*azservicebus.ReceivedMessage {
		t.Helper()
		ctx := ctxFor(t, 10*time.Second)
		var got []*azservicebus.ReceivedMessage
		for len(got) < n && ctx.Err() == nil {
			batch, err := r.ReceiveMessages(ctx, n-len(got), nil)
			require.NoError(t, err)
			got = append(got, batch...)
		}
		require.Len(t, got, n)
		return got
	}
	// bare is a message known only by its lock token: the SDK settles it on
	// the $management node, as it does when the receiving link is gone.
	bare := func(m *azservicebus.ReceivedMessage) *azservicebus.ReceivedMessage {
		return &azservicebus.ReceivedMessage{LockToken: m.LockToken}
	}

	t.Run("NamedSessionAndManagementSettlement", func(t *testing.T) {
		send(t, "mgmt", "m1", "m2", "m3")
		r, err := client.AcceptSessionForQueue(ctxFor(t, 10*time.Second), tre.QueueRequests, "mgmt", nil)
		require.NoError(t, err)
		defer r.Close(context.Background())
		require.Equal(t, "mgmt", r.SessionID())
		got := receive(t, r, 3)
		require.NotNil(t, got[0].LockedUntil)
		require.WithinDuration(t, r.LockedUntil(), *got[0].LockedUntil, time.Millisecond, "a session message is locked with its session")

		ctx := ctxFor(t, 10*time.Second)
		require.NoError(t, r.CompleteMessage(ctx, bare(got[0]), nil))
		require.NoError(t, r.AbandonMessage(ctx, bare(got[1]), nil))
		reason, description := "Bad", "settled on $management"
		require.NoError(t, r.DeadLetterMessage(ctx, bare(got[2]), &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &description}))

		again := receive(t, r, 1)[0]
		require.Equal(t, "m2", again.MessageID)
		require.EqualValues(t, 2, again.DeliveryCount)
		require.NoError(t, r.CompleteMessage(ctx, again, nil))

		dlq, err := client.NewReceiverForQueue(tre.QueueRequests, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
		require.NoError(t, err)
		defer dlq.Close(context.Background())
		peeked, err := dlq.PeekMessages(ctx, 10, nil)
		require.NoError(t, err)
		require.Len(t, peeked, 1)
		require.Equal(t, "m3", peeked[0].MessageID)
		require.Equal(t, reason, *peeked[0].DeadLetterReason)
		require.Equal(t, description, *peeked[0].DeadLetterErrorDescription)
		require.Equal(t, tre.QueueRequests, *peeked[0].DeadLetterSource)

		// A dead letter has a lock of its own, renewable.
		dl := receive(t, dlq, 1)[0]
		before := *dl.LockedUntil
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, dlq.RenewMessageLock(ctx, dl, nil))
		require.True(t, dl.LockedUntil.After(before), "renewed %s, was %s", dl.LockedUntil, before)
		require.NoError(t, dlq.CompleteMessage(ctx, dl, nil))

		// An unknown lock token is a lost lock.
		err = dlq.CompleteMessage(ctx, bare(dl), nil)
		var sbErr *azservicebus.Error
		require.ErrorAs(t, err, &sbErr)
		require.Equal(t, azservicebus.CodeLockLost, sbErr.Code)
	})

	t.Run("NamedSessionIsExclusive", func(t *testing.T) {
		r1, err := client.AcceptSessionForQueue(ctxFor(t, 10*time.Second), tre.QueueRequests, "named", nil)
		require.NoError(t, err, "a named session can be accepted without messages")
		_, err = client.AcceptSessionForQueue(ctxFor(t, 10*time.Second), tre.QueueRequests, "named", nil)
		require.Error(t, err, "a held session cannot be accepted again")
		require.NoError(t, r1.Close(ctxFor(t, 10*time.Second)))
		r2, err := client.AcceptSessionForQueue(ctxFor(t, 10*time.Second), tre.QueueRequests, "named", nil)
		require.NoError(t, err, "closing frees it")
		require.NoError(t, r2.Close(ctxFor(t, 10*time.Second)))
	})

	t.Run("PeekDoesNotLock", func(t *testing.T) {
		send(t, "peek", "p1")
		r, err := client.AcceptSessionForQueue(ctxFor(t, 10*time.Second), tre.QueueRequests, "peek", nil)
		require.NoError(t, err)
		defer r.Close(context.Background())
		var from int64
		peeked, err := r.PeekMessages(ctxFor(t, 10*time.Second), 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		require.NoError(t, err)
		var ids []string
		for _, m := range peeked {
			ids = append(ids, m.MessageID)
		}
		require.Contains(t, ids, "p1")
		m := receive(t, r, 1)[0]
		require.Equal(t, "p1", m.MessageID)
		require.EqualValues(t, 1, m.DeliveryCount)
		require.NoError(t, r.CompleteMessage(ctxFor(t, 10*time.Second), m, nil))
	})

	t.Run("Refusals", func(t *testing.T) {
		ctx := ctxFor(t, 10*time.Second)
		plain, err := client.NewReceiverForQueue(tre.QueueRequests, nil)
		require.NoError(t, err)
		defer plain.Close(context.Background())
		_, err = plain.ReceiveMessages(ctx, 1, nil)
		require.Error(t, err, "a session queue has no receivers outside sessions")

		id := "no-session"
		require.Error(t, sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte("x")}, nil),
			"a session queue takes no message without a session id")

		nowhere, err := client.NewSender("nope", nil)
		require.NoError(t, err)
		defer nowhere.Close(context.Background())
		require.Error(t, nowhere.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte("x")}, nil),
			"an unknown entity is refused")
	})
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
