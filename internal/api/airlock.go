package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

// The airlock's routes: AzureTRE's (api_app/api/routes/airlock.py and
// requests.py), with its role matrix. The review VMs of AzureTRE
// (review-user-resource) are not built yet: that route answers 501.

var (
	wsOwnerResearcher = Access{Workspace: []tre.Role{tre.RoleWorkspaceOwner, tre.RoleWorkspaceResearcher}}
	wsAirlockManager  = Access{Workspace: []tre.Role{tre.RoleAirlockManager}}
)

// airlockBody is the body of a create request (AzureTRE's
// AirlockRequestInCreate; properties is accepted and unused, as there).
type airlockBody struct {
	Type                  tre.AirlockType `json:"type"`
	Title                 string          `json:"title,omitempty"`
	BusinessJustification string          `json:"businessJustification,omitempty"`
	Properties            map[string]any  `json:"properties,omitempty"`
}

// reviewBody is AzureTRE's AirlockReviewInCreate.
type reviewBody struct {
	Approval            *pyBool `json:"approval"`
	DecisionExplanation string  `json:"decisionExplanation,omitempty"`
}

// revokeBody is AzureTRE's AirlockRevokeInCreate.
type revokeBody struct {
	Reason string `json:"reason"`
}

// pyBool is a boolean as AzureTRE's pydantic models read one: a JSON
// boolean, 0 or 1, or a string such as "True" or "false" (AzureTRE's e2e
// test sends "approval": "True").
type pyBool bool

func (b *pyBool) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var s string
	if json.Unmarshal(data, &s) != nil {
		s = string(data)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on", "t", "y":
		*b = true
	case "false", "0", "no", "off", "f", "n":
		*b = false
	default:
		return &json.UnmarshalTypeError{Value: string(data), Type: reflect.TypeOf(true)}
	}
	return nil
}

func (a *API) airlockRoutes() []Route {
	reqs := "/api/workspaces/{workspace_id}/requests"
	one := reqs + "/{airlock_request_id}"
	return []Route{
		{Method: "POST", Pattern: reqs, Access: wsOwnerResearcher, Status: 201, Request: airlockBody{},
			Summary: "Create an airlock request (a draft; its container is made by the airlock processor)", Handle: a.createAirlockRequest},
		{Method: "GET", Pattern: reqs, Access: wsMembers, Status: 200,
			Summary: "List the workspace's airlock requests (?creator_user_id, type, status, order_by, order_ascending)", Handle: a.listAirlockRequests},
		{Method: "GET", Pattern: one, Access: wsMembers, Status: 200, Summary: "Get an airlock request", Handle: a.getAirlockRequest},
		{Method: "POST", Pattern: one + "/submit", Access: wsOwnerResearcher, Status: 200, Summary: "Submit an airlock request", Handle: a.changeAirlockRequest("submit")},
		{Method: "POST", Pattern: one + "/cancel", Access: wsOwnerResearcher, Status: 200, Summary: "Cancel an airlock request", Handle: a.changeAirlockRequest("cancel")},
		{Method: "POST", Pattern: one + "/review", Access: wsAirlockManager, Status: 200, Request: reviewBody{},
			Summary: "Approve or reject an airlock request in review, with an explanation", Handle: a.reviewAirlockRequest},
		{Method: "POST", Pattern: one + "/revoke", Access: wsAirlockManager, Status: 200, Request: revokeBody{},
			Summary: "Revoke an approved airlock request (no more links to its files)", Handle: a.revokeAirlockRequest},
		{Method: "POST", Pattern: one + "/review-user-resource", Access: wsAirlockManager, Status: 501,
			Summary: "AzureTRE's review VM: not implemented (reviewers open the files read-only with the link)", Handle: a.reviewUserResource},
		{Method: "GET", Pattern: one + "/link", Access: wsMembers, Status: 200,
			Summary: "A link to the request's container: writable while a draft, read-only after", Handle: a.airlockLink},
		{Method: "GET", Pattern: "/api/requests", Access: treUserOrAdmin, Status: 200,
			Summary: "The caller's airlock requests in every workspace, or with ?airlock_manager=true those of the workspaces they manage", Handle: a.myAirlockRequests},
	}
}

// airlockFilter reads AzureTRE's list parameters. Returns CodeInvalid.
func airlockFilter(r *http.Request) (airlock.Filter, error) {
	q := r.URL.Query()
	f := airlock.Filter{CreatorUserID: q.Get("creator_user_id"), Type: tre.AirlockType(q.Get("type")),
		Status: tre.AirlockStatus(q.Get("status")), OrderBy: q.Get("order_by")}
	if q.Get("order_ascending") != "" {
		asc, err := queryBool(r, "order_ascending")
		if err != nil {
			return f, err
		}
		f.Descending = !asc
	}
	return f, f.Check()
}

// withActions is one request with what the caller may do with it.
func (a *API) withActions(r *http.Request, req *tre.AirlockRequest) AirlockRequestWithActions {
	return AirlockRequestWithActions{AirlockRequest: airlockRequestOf(req),
		AllowedUserActions: a.Airlock.AllowedActions(req, workspaceRolesOf(r.Context()), userOf(r.Context()).ID)}
}

func (a *API) createAirlockRequest(w http.ResponseWriter, r *http.Request) error {
	if err := a.Airlock.Available(); err != nil {
		return err
	}
	var body airlockBody
	if err := a.decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	req, err := a.Airlock.Create(r.Context(), r.PathValue("workspace_id"), airlock.NewRequest{Type: body.Type, Title: body.Title,
		BusinessJustification: body.BusinessJustification}, userOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.withActions(r, req))
	return nil
}

func (a *API) listAirlockRequests(w http.ResponseWriter, r *http.Request) error {
	f, err := airlockFilter(r)
	if err != nil {
		return err
	}
	list, err := a.Airlock.List(r.Context(), r.PathValue("workspace_id"), f)
	if err != nil {
		return err
	}
	out := make([]AirlockRequestWithActions, len(list))
	for i, req := range list {
		out[i] = a.withActions(r, req)
	}
	writeJSON(w, http.StatusOK, map[string]any{"airlockRequests": out})
	return nil
}

func (a *API) getAirlockRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := a.Airlock.Get(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.withActions(r, req))
	return nil
}

func (a *API) changeAirlockRequest(action string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		change := a.Airlock.Submit
		if action == "cancel" {
			change = a.Airlock.Cancel
		}
		req, err := change(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id"), userOf(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.withActions(r, req))
		return nil
	}
}

func (a *API) reviewAirlockRequest(w http.ResponseWriter, r *http.Request) error {
	if err := a.Airlock.Available(); err != nil {
		return err
	}
	var body reviewBody
	if err := a.decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Approval == nil {
		return tre.FieldErrorf(tre.CodeInvalid, "approval", "approval is required: true to approve, false to reject")
	}
	if body.DecisionExplanation == "" {
		body.DecisionExplanation = "Decision Explanation"
	}
	req, err := a.Airlock.Review(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id"), bool(*body.Approval),
		body.DecisionExplanation, userOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.withActions(r, req))
	return nil
}

func (a *API) revokeAirlockRequest(w http.ResponseWriter, r *http.Request) error {
	if err := a.Airlock.Available(); err != nil {
		return err
	}
	var body revokeBody
	if err := a.decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if strings.TrimSpace(body.Reason) == "" {
		return tre.FieldErrorf(tre.CodeInvalid, "reason", "reason is required: why the approval is withdrawn")
	}
	req, err := a.Airlock.Revoke(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id"), body.Reason, userOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.withActions(r, req))
	return nil
}

func (a *API) reviewUserResource(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.Airlock.Get(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id")); err != nil {
		return err
	}
	return tre.Errorf(tre.CodeNotImplemented, "Review VMs (AzureTRE's review-user-resource) are not implemented: "+
		"open the request's files read-only with GET .../requests/{airlock_request_id}/link")
}

func (a *API) airlockLink(w http.ResponseWriter, r *http.Request) error {
	u, err := a.Airlock.Link(r.Context(), r.PathValue("workspace_id"), r.PathValue("airlock_request_id"), workspaceRolesOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"containerUrl": u})
	return nil
}

// myAirlockRequests answers AzureTRE's GET /api/requests: a list of
// requests (a JSON array), without actions.
func (a *API) myAirlockRequests(w http.ResponseWriter, r *http.Request) error {
	f, err := airlockFilter(r)
	if err != nil {
		return err
	}
	asManager, err := queryBool(r, "airlock_manager")
	if err != nil {
		return err
	}
	list, err := a.Airlock.ListForUser(r.Context(), userOf(r.Context()), asManager, f)
	if err != nil {
		return err
	}
	out := make([]AirlockRequest, len(list))
	for i, req := range list {
		out[i] = airlockRequestOf(req)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// airlockStatusChanged is the airlock processor's function: it does the
// work of one status change. A message a retry cannot help is kept for
// admins and answered 200; a transient failure is answered 500, so the
// host abandons the message and Service Bus delivers it again (and
// dead-letters it after the queue's max delivery count).
func (a *API) airlockStatusChanged(w http.ResponseWriter, r *http.Request) error {
	inv, err := a.decodeInvocation(w, r)
	if err != nil {
		return err
	}
	log := loggerOf(r.Context(), a.log()).With("message_id", inv.String("MessageId"), "session_id", inv.String("SessionId"),
		"delivery_count", inv.Int("DeliveryCount"))
	reject := func(reason string, body []byte) error {
		if err := a.retryUnavailable(r.Context(), log, func() error {
			return a.DeadLetters.Reject(r.Context(), deadletter.RejectedMessage{Queue: tre.QueueAirlockStatus,
				MessageID: inv.String("MessageId"), SessionID: inv.String("SessionId"), DeliveryCount: inv.Int("DeliveryCount"),
				Reason: reason, Body: string(body)})
		}); err != nil {
			return err
		}
		funchost.WriteResponse(w, http.StatusOK, "rejected: "+reason)
		return nil
	}
	body, err := inv.Body(TriggerBindings()[FunctionAirlockStatusChanged])
	if err != nil {
		raw, _ := json.Marshal(inv.Data)
		return reject("the message body is not JSON: "+err.Error(), raw)
	}
	var ev struct {
		Data tre.AirlockStatusChanged `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return reject("the message is not a statusChanged event: "+err.Error(), body)
	}
	annotate(r, "airlock_request_id", ev.Data.RequestID, "workspace_id", ev.Data.WorkspaceID)
	log = log.With("status", ev.Data.NewStatus)
	var out airlock.Outcome
	err = a.retryUnavailable(r.Context(), log, func() (err error) {
		out, err = a.Airlock.Process(r.Context(), ev.Data)
		return err
	})
	switch tre.ErrorCode(err) {
	case "":
		log.Info("airlock status change processed", "outcome", out)
		funchost.WriteResponse(w, http.StatusOK, string(out))
		return nil
	case tre.CodeInvalid:
		return reject(tre.ErrorMessage(err), body)
	default:
		log.Error("airlock processing failed; the host will deliver it again", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "retry: "+tre.ErrorMessage(err))
		return nil
	}
}

// airlockSweep is the airlock's timer: unsent messages, pending scan
// verdicts, requests the processor left in progress too long.
func (a *API) airlockSweep(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.decodeInvocation(w, r); err != nil {
		return err
	}
	if err := a.Airlock.Available(); err != nil {
		funchost.WriteResponse(w, http.StatusOK, "airlock off: "+tre.ErrorMessage(err))
		return nil
	}
	rep, err := a.Airlock.Sweep(r.Context())
	if err != nil {
		loggerOf(r.Context(), a.log()).Warn("airlock sweep incomplete", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "airlock sweep incomplete: "+tre.ErrorMessage(err))
		return nil
	}
	funchost.WriteResponse(w, http.StatusOK, fmt.Sprintf("airlock sweep: %d sent, %d rescanned, %d decided, %d failed",
		rep.Sent, rep.Rescanned, rep.Decided, rep.Failed))
	return nil
}
