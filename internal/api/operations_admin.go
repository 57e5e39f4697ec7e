package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// plusAdmin adds TREAdmin to an access rule: retry and cancel are open to
// TRE admins and to whoever may start the resource's actions.
func plusAdmin(a Access) Access {
	out := Access{TRE: append([]tre.Role(nil), a.TRE...), Workspace: a.Workspace}
	if !slices.Contains(out.TRE, tre.RoleTREAdmin) {
		out.TRE = append(out.TRE, tre.RoleTREAdmin)
	}
	return out
}

func (a *API) operationControlRoutes() []Route {
	var routes []Route
	for _, f := range resourceFamilies {
		op := f.base + "/{" + f.idParam + "}/operations/{operation_id}"
		routes = append(routes,
			Route{Method: "POST", Pattern: op + "/retry", Access: plusAdmin(f.mutate), Status: 202,
				Summary: "Retry a failed operation from its failed step", Handle: a.retryOperation(f)},
			Route{Method: "POST", Pattern: op + "/cancel", Access: plusAdmin(f.mutate), Status: 202,
				Summary: "Cancel an operation in progress", Handle: a.cancelOperation(f)},
			Route{Method: "POST", Pattern: op + "/fail", Access: treAdmin, Status: 200, Request: failBody{},
				Summary: "Fail an operation in progress by hand, with a reason (audited)", Handle: a.failOperation(f)},
			Route{Method: "GET", Pattern: op + "/events", Access: f.history, Status: 200,
				Summary: "Stream the operation's changes and output as Server-Sent Events until it ends", Handle: a.operationEvents(f)},
		)
	}
	routes = append(routes,
		Route{Method: "GET", Pattern: "/api/admin/dead-letters", Access: treAdmin, Status: 200,
			Summary: "Dead-lettered messages of both queues, and rejected status messages, oldest first (?limit=, default 100, at most 1000; ?continuation= from the previous page)", Handle: a.listDeadLetters},
		Route{Method: "POST", Pattern: "/api/admin/dead-letters/{queue}/{id}/replay", Access: treAdmin, Status: 202,
			Summary: "Replay a dead-lettered message", Handle: a.replayDeadLetter},
		Route{Method: "DELETE", Pattern: "/api/admin/dead-letters/{queue}/{id}", Access: treAdmin, Status: 200,
			Summary: "Discard a dead-lettered or rejected message", Handle: a.discardDeadLetter},
	)
	return routes
}

// failBody is the body of a force-fail request.
type failBody struct {
	Reason string `json:"reason"`
}

func (a *API) operationFor(f resourceFamily, r *http.Request) (*tre.Resource, string, error) {
	res, err := a.load(f, r)
	if err != nil {
		return nil, "", err
	}
	opID := r.PathValue("operation_id")
	return res, opID, lifecycle.CheckID("operation_id", opID)
}

func (a *API) retryOperation(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, opID, err := a.operationFor(f, r)
		if err != nil {
			return err
		}
		op, err := a.Operations.Retry(r.Context(), res, opID, userOf(r.Context()))
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusAccepted, op)
		return nil
	}
}

func (a *API) cancelOperation(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, opID, err := a.operationFor(f, r)
		if err != nil {
			return err
		}
		op, err := a.Operations.Cancel(r.Context(), res, opID, userOf(r.Context()))
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusAccepted, op)
		return nil
	}
}

func (a *API) failOperation(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, opID, err := a.operationFor(f, r)
		if err != nil {
			return err
		}
		var body failBody
		if err := a.decodeJSON(w, r, &body, true); err != nil {
			return err
		}
		op, err := a.Operations.ForceFail(r.Context(), res, opID, body.Reason, userOf(r.Context()))
		if err != nil {
			return err
		}
		writeOperation(w, r, http.StatusOK, op)
		return nil
	}
}

// operationEvents streams an operation as Server-Sent Events: one
// "operation" event with the whole operation (steps, messages, output
// tails) each time it changes, until it ends ("end" event), the client
// goes away, or StreamLimit passes ("reconnect" event: the client opens a
// new stream). The Functions host streams it with
// enableProxyingHttpRequest (host.json); a host or proxy that buffers
// answers delivers it in one piece at its end, and the web UI polls then.
func (a *API) operationEvents(f resourceFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := a.loadRecords(f, r)
		if err != nil {
			return err
		}
		opID := r.PathValue("operation_id")
		if err != nil {
			return err
		}
		op, err := a.Operations.Operation(r.Context(), res, opID)
		if err != nil {
			return err
		}
		release, err := a.acquireStream(r)
		if err != nil {
			return err
		}
		defer release()
		w = newDeadlineWriter(w)
		flusher, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		poll := a.EventPoll
		if poll <= 0 {
			poll = 500 * time.Millisecond
		}
		keepAlive := time.NewTicker(15 * time.Second)
		defer keepAlive.Stop()
		tick := time.NewTicker(poll)
		defer tick.Stop()
		limit := time.NewTimer(a.streamLimit())
		defer limit.Stop()
		last := ""
		for {
			if op.ETag != last {
				last = op.ETag
				data, _ := json.Marshal(operationOf(op))
				fmt.Fprintf(w, "id: %s\nevent: operation\ndata: %s\n\n", op.ETag, data)
				if op.Status.Terminal() {
					fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", op.Status)
					if flusher != nil {
						flusher.Flush()
					}
					return nil
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
			select {
			case <-r.Context().Done():
				return nil
			case <-keepAlive.C:
				fmt.Fprint(w, ": keep-alive\n\n")
				if flusher != nil {
					flusher.Flush()
				}
			case <-limit.C:
				reconnect(w, flusher)
				return nil
			case <-tick.C:
			}
			next, err := a.Operations.Operation(r.Context(), res, opID)
			if err != nil {
				if r.Context().Err() == nil {
					fmt.Fprintf(w, "event: error\ndata: %q\n\n", tre.ErrorMessage(err))
				}
				return nil
			}
			op = next
		}
	}
}

func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageParams(r, 100)
	if err != nil {
		return err
	}
	list, err := a.DeadLetters.List(r.Context())
	if err != nil {
		return err
	}
	page, next, err := pageDeadLetters(list, limit, after)
	if err != nil {
		return err
	}
	body := map[string]any{"deadLetters": deadLettersOf(page)}
	if next != "" {
		body["continuation"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func deadLetterRef(r *http.Request) (string, string, error) {
	q, id := r.PathValue("queue"), r.PathValue("id")
	switch q {
	case tre.QueueRequests, tre.QueueStatus, tre.QueueAirlockStatus, deadletter.QueueRejected:
	default:
		return "", "", tre.FieldErrorf(tre.CodeInvalid, "queue", "queue must be %s, %s, %s or %s, not %q", tre.QueueRequests, tre.QueueStatus,
			tre.QueueAirlockStatus, deadletter.QueueRejected, q)
	}
	return q, id, nil
}

func (a *API) replayDeadLetter(w http.ResponseWriter, r *http.Request) error {
	q, id, err := deadLetterRef(r)
	if err != nil {
		return err
	}
	if err := a.DeadLetters.Replay(r.Context(), q, id, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"queue": q, "id": id, "result": "replayed"})
	return nil
}

func (a *API) discardDeadLetter(w http.ResponseWriter, r *http.Request) error {
	q, id, err := deadLetterRef(r)
	if err != nil {
		return err
	}
	if err := a.DeadLetters.Discard(r.Context(), q, id, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"queue": q, "id": id, "result": "discarded"})
	return nil
}
