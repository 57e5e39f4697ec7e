package airlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// NotificationLog consumes the notification topic on one machine, where
// no email or Teams notifier subscribes to it: it appends each event, one
// JSON line, to a file, which shows what a notifier would receive. In
// Azure the topic's subscribers (AzureTRE's airlock notifier, a Teams
// connector) consume it instead.
type NotificationLog struct {
	Queue tre.Queue
	Path  string
	Log   *slog.Logger
}

// Run consumes until ctx ends, then returns nil.
func (n *NotificationLog) Run(ctx context.Context) error {
	log := n.Log
	if log == nil {
		log = slog.Default()
	}
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sess, err := n.Queue.AcceptNextSession(actx, tre.QueueAirlockNotification)
		cancel()
		if errors.Is(err, tre.ErrNoSession) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			log.Warn("notification log: cannot take a session", "error", err.Error())
			wait(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		n.drain(ctx, sess, log)
		_ = sess.Close(context.WithoutCancel(ctx))
	}
	return nil
}

func (n *NotificationLog) drain(ctx context.Context, sess tre.Session, log *slog.Logger) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		msgs, err := sess.Receive(rctx, 10)
		cancel()
		if err != nil || len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			settle := context.WithoutCancel(ctx)
			if err := n.appendLine(m.Body); err != nil {
				log.Warn("notification log: cannot write", "path", n.Path, "error", err.Error())
				_ = sess.Abandon(settle, m)
				return
			}
			_ = sess.Complete(settle, m)
		}
	}
}

func (n *NotificationLog) appendLine(body []byte) error {
	f, err := os.OpenFile(n.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(append([]byte{}, body...), '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", n.Path, err)
	}
	return f.Close()
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
