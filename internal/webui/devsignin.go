package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// DevPrefix is the path under which DevSignIn answers.
const DevPrefix = "/api/dev/"

// DevSignIn is the UI's sign-in with the local dev issuer:
//
//	POST /api/dev/token        {"user": "alice", "roles": ["TREAdmin"]}
//	GET  /api/dev/users/{name} the user id (oid) the dev issuer gives a name
//
// Mount it only when the dev issuer is the one the API trusts. It answers
// loopback callers only (see the package doc).
type DevSignIn struct {
	// Mint signs a token for a user name with TRE roles (auth.DevKeys.Mint).
	Mint func(name string, roles []string, ttl time.Duration, now time.Time) (string, error)
	// UserID is the user id the dev issuer gives a name (auth.DevUserID).
	UserID func(name string) string
	// TTL is how long a token is valid; 8 hours when zero.
	TTL time.Duration
	Log *slog.Logger
	Now func() time.Time
}

// DevToken is the answer of POST /api/dev/token.
type DevToken struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   int     `json:"expires_in"`
	User        DevUser `json:"user"`
}

// DevUser is a user of the dev issuer.
type DevUser struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
}

type devTokenRequest struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
}

var devUserName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`) })

func (d *DevSignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := uuid.NewString()
	w.Header().Set("X-Request-Id", rid)
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("request_id", rid, "method", r.Method, "path", r.URL.Path)
	if err := localOnly(r); err != nil {
		log.Warn("dev sign-in refused", "remote_addr", r.RemoteAddr, "host", r.Host, "error", err.Error())
		writeProblem(w, rid, r, err)
		return
	}
	var err error
	rest := strings.TrimPrefix(r.URL.Path, DevPrefix)
	switch {
	case rest == "token":
		err = d.token(w, r)
	case strings.HasPrefix(rest, "users/") && !strings.Contains(strings.TrimPrefix(rest, "users/"), "/"):
		err = d.user(w, r, strings.TrimPrefix(rest, "users/"))
	default:
		err = tre.Errorf(tre.CodeNotFound, "No route matches %s %s", r.Method, r.URL.Path)
	}
	if err != nil {
		if _, known := statusOf[tre.ErrorCode(err)]; !known {
			log.Error("dev sign-in failed", "error", err.Error())
		} else {
			log.Debug("dev sign-in rejected", "error", err.Error())
		}
		writeProblem(w, rid, r, err)
		return
	}
	log.Info("dev sign-in")
}

func (d *DevSignIn) token(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return tre.Errorf(tre.CodeMethodNotAllowed, "Method %s is not allowed here; allowed: POST", r.Method)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return tre.Errorf(tre.CodeUnsupportedMedia, "Send the body as application/json")
	}
	var req devTokenRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return tre.Errorf(tre.CodeInvalid, "The body must be {\"user\": NAME, \"roles\": [ROLE, ...]}: %s", err.Error())
	}
	if !devUserName().MatchString(req.User) {
		return tre.FieldErrorf(tre.CodeInvalid, "user", "user must be 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)")
	}
	roles := []string{}
	for _, role := range req.Roles {
		if role != string(tre.RoleTREAdmin) && role != string(tre.RoleTREUser) {
			return tre.FieldErrorf(tre.CodeInvalid, "roles",
				"unknown role %q: tokens carry TRE roles (TREAdmin, TREUser); workspace roles are assigned in a workspace's Users", role)
		}
		roles = append(roles, role)
	}
	ttl := d.TTL
	if ttl <= 0 {
		ttl = 8 * time.Hour
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	tok, err := d.Mint(req.User, roles, ttl, now())
	if err != nil {
		return fmt.Errorf("webui: mint a dev token: %w", err)
	}
	writeJSON(w, http.StatusOK, DevToken{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds()),
		User: DevUser{ID: d.UserID(req.User), Name: req.User, Roles: roles}})
	return nil
}

func (d *DevSignIn) user(w http.ResponseWriter, r *http.Request, name string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return tre.Errorf(tre.CodeMethodNotAllowed, "Method %s is not allowed here; allowed: GET, HEAD", r.Method)
	}
	if !devUserName().MatchString(name) {
		return tre.FieldErrorf(tre.CodeInvalid, "name", "a user name is 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)")
	}
	writeJSON(w, http.StatusOK, DevUser{ID: d.UserID(name), Name: name})
	return nil
}

// localOnly refuses a request unless it comes from this machine, directly:
// a loopback peer, addressed by a loopback host name, from a page of the
// same origin, through no proxy and no Functions host. Returns
// CodeForbidden.
func localOnly(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.Unmap().IsLoopback() {
		return tre.Errorf(tre.CodeForbidden, "The dev sign-in answers only this machine (a loopback address), not %s", host)
	}
	for _, h := range []string{"X-Azure-Functions-InvocationId", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded"} {
		if r.Header.Get(h) != "" {
			return tre.Errorf(tre.CodeForbidden, "The dev sign-in answers only direct requests from this machine; this one came through a proxy or the Functions host (%s)", h)
		}
	}
	if !loopbackHost(r.Host) {
		return tre.Errorf(tre.CodeForbidden, "The dev sign-in answers only requests to localhost or a loopback address, not %q", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return tre.Errorf(tre.CodeForbidden, "The dev sign-in answers only the TRE's own page, not %q", origin)
		}
	}
	return nil
}

// loopbackHost reports whether a Host header names this machine: localhost
// (or a name under .localhost) or a loopback address, with any port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// problem is the API's problem+json body (internal/api), for the dev
// sign-in's errors.
type problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	Detail    string   `json:"detail"`
	Instance  string   `json:"instance,omitempty"`
	Code      tre.Code `json:"code"`
	Field     string   `json:"field,omitempty"`
	RequestID string   `json:"requestId,omitempty"`
}

var statusOf = map[tre.Code]int{
	tre.CodeInvalid:          http.StatusBadRequest,
	tre.CodeForbidden:        http.StatusForbidden,
	tre.CodeNotFound:         http.StatusNotFound,
	tre.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	tre.CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
}

func writeProblem(w http.ResponseWriter, rid string, r *http.Request, err error) {
	code := tre.ErrorCode(err)
	status, ok := statusOf[code]
	p := problem{Type: "about:blank", Status: status, Detail: tre.ErrorMessage(err), Instance: r.URL.Path, Code: code, RequestID: rid}
	if !ok {
		p.Status, p.Code = http.StatusInternalServerError, tre.CodeInternal
		p.Detail = "An internal error occurred. Quote request id " + rid + " when you report it."
	}
	var e *tre.Error
	if ok && errors.As(err, &e) {
		p.Field = e.Field
	}
	p.Title = http.StatusText(p.Status)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
