package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/telemetry"
	"github.com/tre-go/tre/internal/tre"
)

// Access says who may call a route. A route is public, or needs a valid
// token with one of the TRE roles or (when the path names a workspace) one
// of the workspace roles in that workspace.
type Access struct {
	Public    bool
	TRE       []tre.Role
	Workspace []tre.Role
}

// Common access rules, AzureTRE's names.
var (
	public         = Access{Public: true}
	treAdmin       = Access{TRE: []tre.Role{tre.RoleTREAdmin}}
	treUserOrAdmin = Access{TRE: []tre.Role{tre.RoleTREUser, tre.RoleTREAdmin}}
)

// Route is one operation of the API. The route table is the single source
// of the HTTP routing, the access rules and the OpenAPI document.
type Route struct {
	Method  string
	Pattern string // net/http pattern path: /api/workspaces/{workspace_id}
	Access  Access
	Summary string
	// Status is the success status, for the OpenAPI document.
	Status int
	// Request is a value of the request body's type, for the OpenAPI
	// document; nil when the route takes no body.
	Request any
	// Trigger marks a Functions trigger endpoint: not part of the API,
	// left out of the OpenAPI document.
	Trigger bool
	Handle  func(w http.ResponseWriter, r *http.Request) error
}

var requestIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`) })

// Handler returns the API as an http.Handler: every route of Routes, behind
// request ids, panic recovery, logging and authentication.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	byPattern := map[string]map[string]Route{}
	var patterns []string
	for _, rt := range a.Routes() {
		if byPattern[rt.Pattern] == nil {
			byPattern[rt.Pattern] = map[string]Route{}
			patterns = append(patterns, rt.Pattern)
		}
		byPattern[rt.Pattern][rt.Method] = rt
	}
	for _, p := range patterns {
		methods := byPattern[p]
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt, ok := methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				// The Functions route allows HEAD: it is GET without the
				// body (net/http drops what the handler writes).
				rt, ok = methods[http.MethodGet]
			}
			if !ok {
				allowed := make([]string, 0, len(methods)+1)
				for m := range methods {
					allowed = append(allowed, m)
				}
				if _, get := methods[http.MethodGet]; get {
					allowed = append(allowed, http.MethodHead)
				}
				sort.Strings(allowed)
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				writeProblem(w, r, tre.Errorf(tre.CodeMethodNotAllowed, "Method %s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", ")))
				return
			}
			a.serveRoute(w, r, rt)
		}))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, tre.Errorf(tre.CodeNotFound, "No route matches %s %s", r.Method, r.URL.Path))
	}))
	return a.middleware(mux)
}

func (a *API) serveRoute(w http.ResponseWriter, r *http.Request, rt Route) {
	if rt.Trigger {
		if err := a.guardTrigger(r); err != nil {
			loggerOf(r.Context(), a.log()).Warn("trigger invocation refused", "path", r.URL.Path, "peer", r.RemoteAddr, "error", err.Error())
			writeProblem(w, r, err)
			return
		}
	}
	if !rt.Access.Public {
		user, err := a.authorize(r, rt.Access)
		if err != nil {
			a.logError(r, err)
			writeProblem(w, r, err)
			return
		}
		st := stateOf(r.Context())
		st.user = user
		st.log = loggerOf(r.Context(), a.log()).With("user_id", user.ID)
	}
	trace.SpanFromContext(r.Context()).SetName(rt.Method + " " + rt.Pattern)
	if id := r.PathValue("operation_id"); id != "" {
		annotate(r, "operation_id", id)
	}
	handle := rt.Handle
	if a.Audit != nil && audited(rt) {
		handle = func(w http.ResponseWriter, r *http.Request) error { return a.serveAudited(w, r, rt) }
	}
	if err := handle(w, r); err != nil {
		a.logError(r, err)
		if rt.Trigger {
			// The host reads the protocol's answer, not problem details.
			p := problemOf(err, r)
			funchost.WriteResponse(w, p.Status, p.Detail)
			return
		}
		writeProblem(w, r, err)
	}
}

// authorize authenticates the caller and checks the route's access rule.
// Returns CodeUnauthorized, CodeForbidden.
func (a *API) authorize(r *http.Request, acc Access) (tre.User, error) {
	raw, err := auth.BearerToken(r.Header.Get("Authorization"))
	if err != nil {
		return tre.User{}, err
	}
	user, err := a.Auth.Validate(r.Context(), raw)
	if err != nil {
		return tre.User{}, err
	}
	for _, role := range acc.TRE {
		if user.HasRole(role) {
			return user, nil
		}
	}
	if len(acc.Workspace) > 0 && a.Assignments != nil {
		if wid := r.PathValue("workspace_id"); wid != "" {
			roles, err := a.Assignments.RolesOf(r.Context(), wid, user.ID)
			// A workspace that does not exist is answered as one the caller
			// has no role in (403), so that the answer does not tell a
			// TREUser which workspaces exist.
			if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
				return tre.User{}, err
			}
			stateOf(r.Context()).workspaceRoles = roles
			for _, role := range roles {
				if slices.Contains(acc.Workspace, role) {
					return user, nil
				}
			}
		}
	}
	return tre.User{}, tre.Errorf(tre.CodeForbidden, "The user is missing a required role: %s", roleList(acc))
}

func roleList(acc Access) string {
	var names []string
	for _, r := range acc.TRE {
		names = append(names, "'"+string(r)+"'")
	}
	for _, r := range acc.Workspace {
		names = append(names, "'"+string(r)+"'")
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// statusRecorder remembers the status and size of a response for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Flush lets streaming handlers (Server-Sent Events) flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// middleware gives every request an id (the caller's X-Request-Id if it is
// sane, else a new one), a logger scoped to it, panic recovery and one log
// line when it ends.
func (a *API) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern().MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		ctx, span := a.startSpan(r, id)
		defer span.End()
		log := telemetry.Logger(ctx, a.log())
		r = r.WithContext(withState(ctx, &requestState{id: id, log: log}))
		rec := &statusRecorder{ResponseWriter: w}
		if err := canonicalPath(r); err != nil {
			writeProblem(rec, r, err)
			log.Warn("non-canonical path refused", "method", r.Method, "path", r.URL.EscapedPath())
			return
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			endSpan(span, status)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			loggerOf(r.Context(), log).Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration_ms", time.Since(start).Milliseconds(), "bytes", rec.bytes)
		}()
		next.ServeHTTP(rec, r)
	})
}

// canonicalPath refuses paths with dot segments, empty segments or encoded
// separators and dots: the Functions host forwards /api/... to this
// handler, and no spelling of a path may lead from there to a trigger
// route (/deployment-status) or anywhere else than it says.
func canonicalPath(r *http.Request) error {
	raw := r.URL.EscapedPath()
	lower := strings.ToLower(raw)
	for _, bad := range []string{"%2f", "%5c", "%2e", "\\"} {
		if strings.Contains(lower, bad) {
			return tre.Errorf(tre.CodeInvalid, "The path must not contain an encoded %q", bad)
		}
	}
	for i, seg := range strings.Split(raw, "/") {
		if seg == "." || seg == ".." || (seg == "" && i > 0 && i < len(strings.Split(raw, "/"))-1) {
			return tre.Errorf(tre.CodeInvalid, "The path must not contain '.', '..' or empty segments")
		}
	}
	return nil
}

// logError logs a handler error: internal ones with their whole chain (the
// client sees only a generic text), others at debug level.
func (a *API) logError(r *http.Request, err error) {
	log := loggerOf(r.Context(), a.log())
	switch tre.ErrorCode(err) {
	case tre.CodeInternal:
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	case tre.CodeUnavailable:
		log.Warn("dependency unavailable", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	default:
		log.Debug("request rejected", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
}
