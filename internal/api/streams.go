package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Event streams (Server-Sent Events) hold a connection and a poll loop for
// as long as their operation or upgrade runs: each user may hold only
// MaxStreamsPerUser of them at once, and every write has a deadline, so a
// client that stops reading does not keep its stream forever.

// defaultStreamsPerUser is MaxStreamsPerUser's default: enough for a
// browser's tabs, far from what exhausts the handler.
const defaultStreamsPerUser = 8

// streamWriteTimeout bounds each write of an event stream.
const streamWriteTimeout = 30 * time.Second

// streams counts the open event streams of each user.
type streams struct {
	mu   sync.Mutex
	open map[string]int
}

// acquire takes one of the caller's stream slots; release gives it back.
// Returns CodeTooManyRequests when the caller holds them all.
func (a *API) acquireStream(r *http.Request) (release func(), err error) {
	user := userOf(r.Context()).ID
	limit := a.MaxStreamsPerUser
	if limit <= 0 {
		limit = defaultStreamsPerUser
	}
	s := &a.streams
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[string]int{}
	}
	if s.open[user] >= limit {
		return nil, tre.Errorf(tre.CodeTooManyRequests, "You have %d event streams open, the most allowed at once: close one first", limit)
	}
	s.open[user]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.open[user]--; s.open[user] <= 0 {
			delete(s.open, user)
		}
	}, nil
}

// deadlineWriter gives every write of a stream streamWriteTimeout.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func newDeadlineWriter(w http.ResponseWriter) *deadlineWriter {
	return &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	return d.ResponseWriter.Write(b)
}

func (d *deadlineWriter) Flush() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_ = d.rc.Flush()
}
