package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// handle runs one request to its end and reports whether the worker may
// go on with the session (false: the session was lost or the agent is
// stopping).
func (a *Agent) handle(ctx context.Context, worker int, st *sessionState, m *tre.Received, log *slog.Logger) bool {
	sess := st.sess
	settle := context.WithoutCancel(ctx)
	req, err := decode(m)
	if err != nil {
		log.Warn("dead-lettering a malformed request", "message_id", m.MessageID, "error", err.Error())
		if derr := sess.DeadLetter(settle, m, "MalformedRequest", err.Error()); derr != nil {
			log.Warn("cannot dead-letter", "message_id", m.MessageID, "error", derr.Error())
			return false
		}
		return true
	}
	log = log.With("operation_id", req.OperationID, "step_id", req.StepID, "resource_id", req.ID, "action", req.Action,
		"attempt", req.Attempt, "delivery_count", m.DeliveryCount)
	statuses := tre.StatusesFor(req.Action)
	if req.NotAfter != 0 && tre.Timestamp(a.now()) > req.NotAfter {
		// The control plane has given up on this step (its watchdog failed
		// it): running it now would change a resource behind its back.
		desc := fmt.Sprintf("the control plane stopped waiting for step %s at %s; it was not run", req.StepID,
			time.Unix(0, int64(req.NotAfter*1e9)).UTC().Format(time.RFC3339))
		log.Warn("dead-lettering an expired request", "reason", desc)
		return sess.DeadLetter(settle, m, "Expired", desc) == nil
	}
	log.Info("request received", "bundle", req.Name, "version", req.Version)
	send := func(status tre.Status, message string, outputs []tre.Output, tail string, final bool) error {
		return a.sendStatus(settle, req, status, message, outputs, tail, final)
	}

	// A cancel request may already wait behind the request.
	if err := st.pull(ctx, 5*time.Millisecond); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("cannot look ahead in the session", "error", err.Error())
	}
	if cm, c := st.takeCancel(req.StepID, req.Attempt); c != nil {
		log.Info("cancelled before it started", "by", c.By)
		if err := send(statuses.Failed, req.ID+": "+cancelMessage(c)+" before it started", nil, "", true); err != nil {
			_ = sess.Abandon(settle, m)
			return false
		}
		_ = sess.Complete(settle, cm)
		return sess.Complete(settle, m) == nil
	}

	// The job keeps running when the agent is told to stop, for up to the
	// drain timeout; then it is cancelled and its message abandoned.
	jobCtx, cancelJob := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJob()
	var mu sync.Mutex
	var drained, lost bool
	var cancelled *tre.CancelRequest
	var cancelMsg *tre.Received
	stopWatch := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		select {
		case <-stopWatch:
		case <-ctx.Done():
			t := time.NewTimer(a.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-stopWatch:
			case <-t.C:
				mu.Lock()
				drained = true
				mu.Unlock()
				log.Warn("drain timeout: cancelling the bundle; its message will be delivered again")
				cancelJob()
			}
		}
	}()

	tail := newTail(a.cfg.TailBytes)
	secrets, params, resolveErr := a.resolve(jobCtx, req)
	redact := redactor(secrets)
	report := func(status tre.Status, message string, outputs []tre.Output, final bool) error {
		return send(status, redact(message), outputs, redact(tail.String()), final)
	}
	if err := report(statuses.Running, req.ID+": Job starting", nil, false); err != nil {
		log.Warn("cannot report the start; the message will come back", "error", err.Error())
		close(stopWatch)
		watchers.Wait()
		_ = sess.Abandon(settle, m)
		return false
	}

	// While the bundle runs: keep the session, report progress, and watch
	// the session for a cancel request.
	var note sync.Mutex
	progress := ""
	setProgress := func(p string) { note.Lock(); progress = p; note.Unlock() }
	watchers.Add(2)
	go func() {
		defer watchers.Done()
		renew := time.NewTicker(a.cfg.RenewEvery)
		beat := time.NewTicker(a.cfg.HeartbeatEvery)
		defer renew.Stop()
		defer beat.Stop()
		started := a.now()
		for {
			select {
			case <-stopWatch:
				return
			case <-renew.C:
				a.beat(worker)
				if _, err := sess.RenewLock(settle); err != nil {
					log.Warn("session lock lost: stopping the bundle; another worker will run it", "error", err.Error())
					mu.Lock()
					lost = true
					mu.Unlock()
					cancelJob()
					return
				}
			case <-beat.C:
				note.Lock()
				p := progress
				note.Unlock()
				msg := fmt.Sprintf("%s: %s running for %s", req.ID, req.Action, a.now().Sub(started).Round(time.Second))
				if p != "" {
					msg += "; " + p
				}
				if err := report(statuses.Running, msg, nil, false); err != nil {
					log.Warn("heartbeat not sent", "error", err.Error())
				}
			}
		}
	}()
	go func() {
		defer watchers.Done()
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			wctx, cancel := context.WithCancel(jobCtx)
			go func() {
				select {
				case <-stopWatch:
				case <-wctx.Done():
				}
				cancel()
			}()
			err := st.pull(wctx, time.Second)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if cm, c := st.takeCancel(req.StepID, req.Attempt); c != nil {
				log.Info("cancel requested: stopping the bundle", "by", c.By)
				mu.Lock()
				cancelled, cancelMsg = c, cm
				mu.Unlock()
				cancelJob()
				return
			}
		}
	}()

	var result tre.JobResult
	err = resolveErr
	tries := 0
	var transients []string
	if err == nil {
		for {
			tries++
			result, err = a.runner.Run(jobCtx, tre.Job{
				Action: req.Action, Installation: req.ID, ResourceType: req.ResourceType, Bundle: req.Name, Version: req.Version,
				Parameters: params, Message: req, Output: tail,
			})
			if err == nil || jobCtx.Err() != nil || !Transient(err) || tries > a.cfg.TransientRetries {
				break
			}
			delay := a.backoff(tries)
			transients = append(transients, fmt.Sprintf("try %d: %s", tries, redact(shorten(err.Error(), 200))))
			p := fmt.Sprintf("try %d of %d failed with a transient error, trying again in %s: %s",
				tries, a.cfg.TransientRetries+1, delay.Round(10*time.Millisecond), shorten(err.Error(), 300))
			log.Warn("transient bundle error", "try", tries, "in", delay.String(), "error", redact(shorten(err.Error(), 300)))
			setProgress(p)
			if err := report(statuses.Running, req.ID+": "+p, nil, false); err != nil {
				log.Warn("heartbeat not sent", "error", err.Error())
			}
			sleep(jobCtx, delay)
			if jobCtx.Err() != nil {
				break
			}
		}
	}
	close(stopWatch)
	watchers.Wait()
	mu.Lock()
	gone, wasLost, c, cm := drained || lost, lost, cancelled, cancelMsg
	mu.Unlock()
	switch {
	case c != nil:
		if serr := report(statuses.Failed, req.ID+": "+cancelMessage(c), nil, true); serr != nil {
			log.Warn("cannot report the cancellation; the message will come back", "error", serr.Error())
			_ = sess.Abandon(settle, m)
			return false
		}
		_ = sess.Complete(settle, cm)
		return sess.Complete(settle, m) == nil && ctx.Err() == nil
	case gone:
		if !wasLost {
			_ = sess.Abandon(settle, m)
		}
		return false
	case err != nil:
		msg := err.Error()
		if tries > 1 {
			msg = fmt.Sprintf("%s (after %d tries; earlier: %s)", msg, tries, strings.Join(transients, "; "))
		}
		log.Warn("bundle failed", "error", redact(shorten(msg, 500)))
		if serr := report(statuses.Failed, req.ID+": "+msg, nil, true); serr != nil {
			log.Warn("cannot report the failure; the message will come back", "error", serr.Error())
			_ = sess.Abandon(settle, m)
			return false
		}
	default:
		msg := fmt.Sprintf("%s: %s action completed successfully.", req.ID, req.Action)
		if result.Message != "" {
			msg += " " + result.Message
		}
		if tries > 1 {
			msg += fmt.Sprintf(" (after %d tries; earlier tries failed with transient errors: %s)", tries, strings.Join(transients, "; "))
		}
		log.Info("bundle succeeded", "outputs", len(result.Outputs), "tries", tries)
		if serr := report(statuses.Succeeded, msg, result.Outputs, true); serr != nil {
			log.Warn("cannot report the success; the message will come back", "error", serr.Error())
			_ = sess.Abandon(settle, m)
			return false
		}
	}
	if err := sess.Complete(settle, m); err != nil {
		log.Warn("cannot complete the request; it may run again", "error", err.Error())
		return false
	}
	return ctx.Err() == nil
}

func cancelMessage(c *tre.CancelRequest) string {
	msg := "cancelled by " + c.By
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	return msg
}

var transientPattern = regexp.MustCompile(`(?i)(\b429\b|too ?many ?requests|AnotherOperationInProgress|RetryableError|i/o timeout|TLS handshake timeout|connection reset by peer|connection refused|temporarily unavailable|ServerBusy|Retry-After)`)

// Transient reports whether a bundle error is one that running the bundle
// again may clear: ARM throttling (429), a conflicting operation on the
// same Azure resource, errors Azure marks retryable, network timeouts.
// Anything else (Terraform validation errors, wrong parameters) fails at
// once.
func Transient(err error) bool { return err != nil && transientPattern.MatchString(err.Error()) }

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

// resolve reads the request's secrets and returns the parameters with
// their values in place, and the values (to redact them from output).
func (a *Agent) resolve(ctx context.Context, req *tre.ResourceRequest) ([]string, map[string]any, error) {
	params := deepCopy(req.Parameters)
	if params == nil {
		params = map[string]any{}
	}
	var values []string
	pointers := make([]string, 0, len(req.SecretRefs))
	for p := range req.SecretRefs {
		pointers = append(pointers, p)
	}
	sort.Strings(pointers)
	for _, p := range pointers {
		if a.secrets == nil {
			return values, params, fmt.Errorf("sensitive parameter %s: this agent has no secret store", p)
		}
		raw, err := a.secrets.Get(ctx, req.SecretRefs[p])
		if err != nil {
			return values, params, fmt.Errorf("sensitive parameter %s cannot be read from the secret store: %s", p, tre.ErrorMessage(err))
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return values, params, fmt.Errorf("sensitive parameter %s is not stored as JSON", p)
		}
		if !tre.PointerSet(params, p, v) {
			return values, params, fmt.Errorf("sensitive parameter %s is not in the request", p)
		}
		collectStrings(v, &values)
	}
	return values, params, nil
}

func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case map[string]any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	}
}

// redactor replaces secret values (of 4 characters or more) by ***.
func redactor(secrets []string) func(string) string {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, "***")
		}
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// sendStatus reports on the status queue (session = operation). The final
// status has a deterministic message id, so a re-send after a crash is
// dropped as a duplicate; start messages and heartbeats are unique. It
// retries a few times: a request is completed only after its final status
// was sent.
func (a *Agent) sendStatus(ctx context.Context, req *tre.ResourceRequest, status tre.Status, message string, outputs []tre.Output, tail string, final bool) error {
	upd := tre.StatusUpdate{OperationID: req.OperationID, StepID: req.StepID, ID: req.ID, Status: status, Message: message,
		Outputs: outputs, Agent: a.cfg.AgentID, SentAt: tre.Timestamp(a.now()), Attempt: req.Attempt}
	if !final {
		upd.LogTail = tail
	}
	body, err := json.Marshal(upd)
	if err != nil {
		return fmt.Errorf("processor: status: %w", err)
	}
	id := uuid.NewString()
	if final {
		id = fmt.Sprintf("%s:%d:%s", req.StepID, req.Attempt, status)
	}
	msg := tre.Message{MessageID: id, SessionID: req.OperationID, CorrelationID: req.ID, Subject: string(status), Body: body}
	backoff := a.cfg.SendBackoff
	for attempt := 1; ; attempt++ {
		err = a.queue.Send(ctx, tre.QueueStatus, msg)
		if err == nil || attempt == 5 || errors.Is(err, context.Canceled) {
			return err
		}
		sleep(ctx, backoff)
		backoff *= 2
	}
}

// tail keeps the last n bytes written to it.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
