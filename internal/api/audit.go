package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Audit is the audit trail; *audit.Service implements it.
type Audit interface {
	// Write appends a record.
	Write(ctx context.Context, rec audit.Record) error
	// List returns a page of records. Returns CodeInvalid.
	List(ctx context.Context, f audit.Filter) (*audit.Page, error)
}

// Not in AzureTRE (#4686, #1633): who did what, when.
func (a *API) auditRoutes() []Route {
	const q = " (?user_id=&resource_id=&workspace_id=&action=&from=&to=&limit=&continuation=; newest first)"
	return []Route{
		{Method: "GET", Pattern: "/api/audit", Access: treAdmin, Status: 200,
			Summary: "The audit trail: every accepted change and every operation's outcome" + q, Handle: a.listAudit(false)},
		{Method: "GET", Pattern: "/api/workspaces/{workspace_id}/audit", Access: wsOwnAdmin, Status: 200,
			Summary: "The audit trail of a workspace and what is in it" + q, Handle: a.listAudit(true)},
	}
}

// AuditRecord is one record of the trail.
type AuditRecord struct {
	ID              string    `json:"id"`
	Time            string    `json:"time"`
	When            float64   `json:"when"`
	Kind            string    `json:"kind"`
	User            AuditUser `json:"user"`
	Action          string    `json:"action"`
	Method          string    `json:"method,omitempty"`
	Route           string    `json:"route,omitempty"`
	Path            string    `json:"path,omitempty"`
	Status          int       `json:"status,omitempty"`
	ResourceID      string    `json:"resourceId,omitempty"`
	ResourceType    string    `json:"resourceType,omitempty"`
	ResourcePath    string    `json:"resourcePath,omitempty"`
	WorkspaceID     string    `json:"workspaceId,omitempty"`
	OperationID     string    `json:"operationId,omitempty"`
	OperationStatus string    `json:"operationStatus,omitempty"`
	Changed         []string  `json:"changed,omitempty"`
	RequestID       string    `json:"requestId,omitempty"`
	ClientIP        string    `json:"clientIp,omitempty"`
}

// AuditUser is who acted.
type AuditUser struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func auditRecordOf(r audit.Record) AuditRecord {
	roles := append([]string{}, r.User.Roles...)
	return AuditRecord{ID: r.ID, Time: r.Time, When: r.When, Kind: r.Kind, User: AuditUser{ID: r.User.ID, Name: r.User.Name, Roles: roles},
		Action: r.Action, Method: r.Method, Route: r.Route, Path: r.Path, Status: r.Status, ResourceID: r.ResourceID,
		ResourceType: r.ResourceType, ResourcePath: r.ResourcePath, WorkspaceID: r.WorkspaceID, OperationID: r.OperationID,
		OperationStatus: r.OperationStatus, Changed: append([]string(nil), r.Changed...), RequestID: r.RequestID, ClientIP: r.ClientIP}
}

func (a *API) listAudit(inWorkspace bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f := audit.Filter{UserID: q.Get("user_id"), ResourceID: q.Get("resource_id"), WorkspaceID: q.Get("workspace_id"),
			Action: q.Get("action"), Continuation: q.Get("continuation")}
		if inWorkspace {
			ws, err := a.workspaceOf(r)
			if err != nil {
				return err
			}
			if f.WorkspaceID != "" && f.WorkspaceID != ws.ID {
				return tre.FieldErrorf(tre.CodeInvalid, "workspace_id", "workspace_id must be the path's workspace here")
			}
			f.WorkspaceID = ws.ID
		}
		var err error
		for _, p := range []struct {
			name string
			into *time.Time
		}{{"from", &f.From}, {"to", &f.To}} {
			if v := q.Get(p.name); v != "" {
				if *p.into, err = time.Parse(time.RFC3339, v); err != nil {
					return tre.FieldErrorf(tre.CodeInvalid, p.name, "%s must be an RFC 3339 time (2026-01-31T00:00:00Z), not %q", p.name, v)
				}
			}
		}
		if v := q.Get("limit"); v != "" {
			if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
				return tre.FieldErrorf(tre.CodeInvalid, "limit", "limit must be a number from 1 to 1000, not %q", v)
			}
		}
		page, err := a.Audit.List(r.Context(), f)
		if err != nil {
			return err
		}
		out := make([]AuditRecord, len(page.Records))
		for i, rec := range page.Records {
			out[i] = auditRecordOf(rec)
		}
		body := map[string]any{"records": out}
		if page.Continuation != "" {
			body["continuation"] = page.Continuation
		}
		writeJSON(w, http.StatusOK, body)
		return nil
	}
}

// audited reports whether a route's accepted requests are recorded: every
// API route that may change state.
func audited(rt Route) bool {
	return !rt.Trigger && !rt.Access.Public && rt.Method != http.MethodGet && rt.Method != http.MethodHead
}

// maxCaptured bounds what the audit keeps of a request's and an answer's
// body while it works out what changed.
const maxCaptured = 256 << 10

// capture keeps the beginning of what passes through.
type capture struct{ bytes.Buffer }

func (c *capture) keep(p []byte) {
	if room := maxCaptured - c.Len(); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		c.Write(p)
	}
}

type teeBody struct {
	io.ReadCloser
	c *capture
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.c.keep(p[:n])
	return n, err
}

type captureWriter struct {
	http.ResponseWriter
	c *capture
}

func (c captureWriter) Write(p []byte) (int, error) {
	c.c.keep(p)
	return c.ResponseWriter.Write(p)
}

func (c captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// serveAudited runs an audited route and, if the request was accepted,
// appends its record: who, what (the names of the body's members, never
// their values), when, from where.
func (a *API) serveAudited(w http.ResponseWriter, r *http.Request, rt Route) error {
	var in, out capture
	if r.Body != nil {
		r.Body = teeBody{ReadCloser: r.Body, c: &in}
	}
	rec, _ := w.(*statusRecorder)
	err := rt.Handle(captureWriter{ResponseWriter: w, c: &out}, r)
	if err != nil || rec == nil || rec.status < 200 || rec.status >= 300 {
		return err
	}
	a.recordRequest(r, rt, rec.status, in.Bytes(), out.Bytes())
	return nil
}

func (a *API) recordRequest(r *http.Request, rt Route, status int, body, answer []byte) {
	u := userOf(r.Context())
	rec := audit.Record{Kind: audit.KindRequest, User: audit.Who{ID: u.ID, Name: u.Name, Roles: append([]string{}, u.Roles...)},
		Method: r.Method, Route: rt.Pattern, Path: r.URL.Path, Status: status, RequestID: requestID(r.Context()), ClientIP: clientIP(r)}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(body, &members)
	rec.Changed = changedNames(members)
	rec.Action = actionOf(r, rt, members)
	a.placeOf(r, &rec, answer)
	if err := a.Audit.Write(context.WithoutCancel(r.Context()), rec); err != nil {
		loggerOf(r.Context(), a.log()).Error("audit record of an accepted request not stored", "error", err.Error())
	}
}

// changedNames are a body's member names, a resource's properties as
// properties.<name>.
func changedNames(members map[string]json.RawMessage) []string {
	var out []string
	for k, v := range members {
		if k == "properties" {
			var props map[string]json.RawMessage
			if json.Unmarshal(v, &props) == nil {
				for p := range props {
					out = append(out, "properties."+p)
				}
				continue
			}
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// actionsByRoute names the action of a method on a route's last literal
// segment.
var actionsByRoute = map[string]string{
	"POST assign": "assign-role", "DELETE assign": "unassign-role", "POST upgrades": "bulk-upgrade",
	"PUT allowed-templates": "set-allowed-templates", "DELETE allowed-templates": "remove-allowed-templates",
	"POST workspaces": "create", "POST workspace-services": "create", "POST user-resources": "create", "POST shared-services": "create",
	"PATCH {version}": "update-template-version", "DELETE {version}": "unregister-template-version",
}

// actionOf names what a request did: a resource's patch by what it
// changes, others by the route (invoke-action, retry, cancel, fail,
// replay, reconcile, pause, resume are the route's last segment).
func actionOf(r *http.Request, rt Route, members map[string]json.RawMessage) string {
	segs := strings.Split(strings.Trim(rt.Pattern, "/"), "/")
	last := segs[len(segs)-1]
	if a, ok := actionsByRoute[r.Method+" "+last]; ok {
		return a
	}
	param := strings.HasPrefix(last, "{")
	switch {
	case r.Method == http.MethodPatch && param:
		return patchAction(members)
	case r.Method == http.MethodDelete && param:
		return "delete"
	case r.Method == http.MethodPut && param:
		return "put"
	case r.Method == http.MethodPost && strings.HasSuffix(last, "-templates"):
		return "register-template"
	}
	return last
}

// patchAction names a resource's patch: enable, disable, upgrade or update.
func patchAction(members map[string]json.RawMessage) string {
	var enabled *bool
	if v, ok := members["isEnabled"]; ok && json.Unmarshal(v, &enabled) == nil && enabled != nil {
		if *enabled {
			return "enable"
		}
		return "disable"
	}
	if _, ok := members["templateVersion"]; ok {
		return "upgrade"
	}
	return "update"
}

// placeOf fills in what a request was about: the operation it started
// (from the answer), else the resource of its path.
func (a *API) placeOf(r *http.Request, rec *audit.Record, answer []byte) {
	var ans struct {
		Operation *struct {
			ID           string `json:"id"`
			ResourceID   string `json:"resourceId"`
			ResourcePath string `json:"resourcePath"`
		} `json:"operation"`
	}
	if json.Unmarshal(answer, &ans) == nil && ans.Operation != nil && ans.Operation.ResourcePath != "" {
		rec.OperationID, rec.ResourceID, rec.ResourcePath = ans.Operation.ID, ans.Operation.ResourceID, ans.Operation.ResourcePath
		rec.ResourceType, rec.WorkspaceID = audit.PlaceOf(rec.ResourcePath)
		return
	}
	for _, p := range []struct {
		param string
		typ   tre.ResourceType
	}{{"resource_id", tre.TypeUserResource}, {"service_id", tre.TypeWorkspaceService}, {"workspace_id", tre.TypeWorkspace}, {"shared_service_id", tre.TypeSharedService}} {
		if id := r.PathValue(p.param); id != "" && lifecycle.CheckID(p.param, id) == nil {
			rec.ResourceID, rec.ResourceType = id, string(p.typ)
			rec.ResourcePath = tre.ResourcePath(p.typ, r.PathValue("workspace_id"), r.PathValue("service_id"), id)
			break
		}
	}
	rec.WorkspaceID = r.PathValue("workspace_id")
	if id := r.PathValue("operation_id"); id != "" {
		rec.OperationID = id
	}
}

// clientIP is the caller's address: the first of X-Forwarded-For (the
// Functions host forwards requests), else the connection's.
func clientIP(r *http.Request) string {
	if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		return strings.TrimSpace(first)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
