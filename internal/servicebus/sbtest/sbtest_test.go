package sbtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/servicebus/sbtest"
	"github.com/tre-go/tre/internal/tre"
)

// client is an SDK client on the broker of conn, closed at the end of the
// test.
func client(t *testing.T, conn string) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(conn, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sendOne sends one message with session id "s1" to queue.
func sendOne(t *testing.T, c *azservicebus.Client, queue, id string) {
	t.Helper()
	sender, err := c.NewSender(queue, nil)
	require.NoError(t, err)
	defer sender.Close(context.Background())
	session := "s1"
	require.NoError(t, sender.SendMessage(timeout(t), &azservicebus.Message{
		MessageID: &id, SessionID: &session, Body: []byte("body of " + id),
	}, nil))
}

// receiveOne receives one message from r.
func receiveOne(t *testing.T, r interface {
	ReceiveMessages(context.Context, int, *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}) *azservicebus.ReceivedMessage {
	t.Helper()
	msgs, err := r.ReceiveMessages(timeout(t), 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	return msgs[0]
}

func TestStart(t *testing.T) {
	c := client(t, sbtest.Start(t))
	sendOne(t, c, tre.QueueRequests, "m1")

	r, err := c.AcceptNextSessionForQueue(timeout(t), tre.QueueRequests, nil)
	require.NoError(t, err)
	defer r.Close(context.Background())
	require.Equal(t, "s1", r.SessionID())
	m := receiveOne(t, r)
	require.Equal(t, "m1", m.MessageID)
	require.Equal(t, []byte("body of m1"), m.Body)
	require.NoError(t, r.CompleteMessage(timeout(t), m, nil))

	// Each Start is a fresh broker: what is on one is not on the other.
	sendOne(t, c, tre.QueueStatus, "m2")
	require.Equal(t, []string{"m2"}, peek(t, c, tre.QueueStatus))
	require.Empty(t, peek(t, client(t, sbtest.Start(t)), tre.QueueStatus))
}

// peek returns the ids of the messages of session "s1" of queue.
func peek(t *testing.T, c *azservicebus.Client, queue string) []string {
	t.Helper()
	r, err := c.AcceptSessionForQueue(timeout(t), queue, "s1", nil)
	require.NoError(t, err)
	defer r.Close(context.Background())
	var from int64
	msgs, err := r.PeekMessages(timeout(t), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
	require.NoError(t, err)
	ids := []string{}
	for _, m := range msgs {
		ids = append(ids, m.MessageID)
	}
	return ids
}

func TestStartOptions(t *testing.T) {
	const lock = 7 * time.Second
	c := client(t, sbtest.Start(t, sbtest.Queues("custom"), sbtest.LockDuration(lock), sbtest.MaxDeliveryCount(1)))
	sendOne(t, c, "custom", "m1")

	r, err := c.AcceptNextSessionForQueue(timeout(t), "custom", nil)
	require.NoError(t, err)
	defer r.Close(context.Background())
	require.WithinDuration(t, time.Now().Add(lock), r.LockedUntil(), 2*time.Second, "lock duration")
	m := receiveOne(t, r)
	// One delivery allowed: an abandon dead-letters the message.
	require.NoError(t, r.AbandonMessage(timeout(t), m, nil))
	dlq, err := c.NewReceiverForQueue("custom", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	defer dlq.Close(context.Background())
	dead := receiveOne(t, dlq)
	require.Equal(t, "m1", dead.MessageID)
	require.Equal(t, "MaxDeliveryCountExceeded", *dead.DeadLetterReason)

	_, err = c.AcceptNextSessionForQueue(timeout(t), tre.QueueRequests, nil)
	require.Error(t, err, "only the queues asked for")
}
