package funchost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Front stands in for the HTTP side of the Functions host, for tests: it
// routes each request by the app's HTTP functions (host.json's route
// prefix, each function.json's route template and methods) and passes a
// match to the custom handler with the same method, path, query and
// headers (plus the invocation id). A request no function matches gets the
// host's 404, so only what the function.json files route ever reaches the
// handler from outside.
//
// With Proxying, as the host with enableProxyingHttpRequest (a reverse
// proxy), the body goes as it is and the answer comes back as it is
// written: a Server-Sent Events stream streams. Without, as the host with
// the legacy enableForwardingHttpRequest, the body goes only when
// Content-Length is positive and the answer comes back whole (a stream
// arrives in one piece when it ends).
type Front struct {
	Routes     []HTTPRoute
	HandlerURL string
	Client     *http.Client
	Proxying   bool
}

// Proxying reports whether an app's host.json sets
// customHandler.enableProxyingHttpRequest.
func Proxying(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "host.json"))
	if err != nil {
		return false, err
	}
	var host struct {
		CustomHandler struct {
			EnableProxyingHTTPRequest bool `json:"enableProxyingHttpRequest"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(data, &host); err != nil {
		return false, fmt.Errorf("funchost: %s: %w", filepath.Join(dir, "host.json"), err)
	}
	return host.CustomHandler.EnableProxyingHTTPRequest, nil
}

// HTTPRoute is one HTTP-triggered function: the route template with the
// host's prefix, and its methods (lower case; none means all).
type HTTPRoute struct {
	Function string
	Template string
	Methods  []string
	segments []routeSegment
}

type routeSegment struct {
	literal   string // a fixed segment, or "" for a parameter
	name      string
	optional  bool
	catchAll  bool
	maxLength int // -1: no maxlength constraint
}

// LoadHTTPRoutes reads the HTTP functions of a Function App directory
// (host.json and <function>/function.json, as in the zip). Route templates
// use ASP.NET's syntax: literal segments, {name}, {name?}, a last {*name},
// and the constraint maxlength(n); any other constraint is refused, so a
// test cannot pass on a template this stand-in does not understand.
func LoadHTTPRoutes(dir string) ([]HTTPRoute, error) {
	prefix, err := routePrefix(filepath.Join(dir, "host.json"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	var routes []HTTPRoute
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var fn struct {
			Bindings []struct {
				Type    string   `json:"type"`
				Route   *string  `json:"route"`
				Methods []string `json:"methods"`
			} `json:"bindings"`
		}
		if err := json.Unmarshal(data, &fn); err != nil {
			return nil, fmt.Errorf("funchost: %s: %w", f, err)
		}
		name := filepath.Base(filepath.Dir(f))
		for _, b := range fn.Bindings {
			if b.Type != "httpTrigger" {
				continue
			}
			route := name // the host's default route is the function's name
			if b.Route != nil {
				route = *b.Route
			}
			r, err := newHTTPRoute(name, strings.Trim(prefix+"/"+route, "/"), b.Methods)
			if err != nil {
				return nil, fmt.Errorf("funchost: %s: %w", f, err)
			}
			routes = append(routes, r)
		}
	}
	return routes, nil
}

func routePrefix(hostJSON string) (string, error) {
	data, err := os.ReadFile(hostJSON)
	if err != nil {
		return "", err
	}
	var host struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(data, &host); err != nil {
		return "", fmt.Errorf("funchost: %s: %w", hostJSON, err)
	}
	if p := host.Extensions.HTTP.RoutePrefix; p != nil {
		return strings.Trim(*p, "/"), nil
	}
	return "api", nil // the host's default
}

func newHTTPRoute(function, template string, methods []string) (HTTPRoute, error) {
	r := HTTPRoute{Function: function, Template: template}
	for _, m := range methods {
		r.Methods = append(r.Methods, strings.ToLower(m))
	}
	if template == "" {
		return r, nil
	}
	parts := strings.Split(template, "/")
	for i, p := range parts {
		seg, err := parseSegment(p)
		if err != nil {
			return r, fmt.Errorf("route %q: %w", template, err)
		}
		if (seg.catchAll || seg.optional) && i != len(parts)-1 {
			return r, fmt.Errorf("route %q: %q must be the last segment", template, p)
		}
		r.segments = append(r.segments, seg)
	}
	return r, nil
}

func parseSegment(p string) (routeSegment, error) {
	seg := routeSegment{maxLength: -1}
	if !strings.HasPrefix(p, "{") {
		if strings.ContainsAny(p, "{}") || p == "" {
			return seg, fmt.Errorf("segment %q is not supported", p)
		}
		seg.literal = p
		return seg, nil
	}
	if !strings.HasSuffix(p, "}") {
		return seg, fmt.Errorf("segment %q is not supported", p)
	}
	body := p[1 : len(p)-1]
	if strings.HasSuffix(body, "?") {
		seg.optional, body = true, strings.TrimSuffix(body, "?")
	}
	if strings.HasPrefix(body, "*") {
		seg.catchAll, body = true, strings.TrimPrefix(body, "*")
	}
	name, constraints, _ := strings.Cut(body, ":")
	seg.name = name
	if name == "" {
		return seg, fmt.Errorf("segment %q has no parameter name", p)
	}
	for c := range strings.SplitSeq(constraints, ":") {
		if c == "" {
			continue
		}
		arg, ok := strings.CutPrefix(c, "maxlength(")
		n, err := strconv.Atoi(strings.TrimSuffix(arg, ")"))
		if !ok || !strings.HasSuffix(arg, ")") || err != nil {
			return seg, fmt.Errorf("constraint %q is not supported by the stand-in (maxlength(n) only)", c)
		}
		seg.maxLength = n
	}
	return seg, nil
}

// Match reports whether the route takes a request for path (as received,
// with its leading slash) and method.
func (r HTTPRoute) Match(method, path string) bool {
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, strings.ToLower(method)) {
		return false
	}
	var parts []string
	if p := strings.Trim(path, "/"); p != "" {
		parts = strings.Split(p, "/")
	}
	for i, seg := range r.segments {
		if seg.catchAll {
			return true
		}
		if i >= len(parts) {
			return seg.optional
		}
		if seg.literal != "" {
			if !strings.EqualFold(seg.literal, parts[i]) {
				return false
			}
			continue
		}
		if parts[i] == "" || (seg.maxLength >= 0 && len(parts[i]) > seg.maxLength) {
			return false
		}
	}
	return len(parts) == len(r.segments)
}

// Route returns the function a request goes to, if any.
func (f *Front) Route(method, path string) (HTTPRoute, bool) {
	for _, r := range f.Routes {
		if r.Match(method, path) {
			return r, true
		}
	}
	return HTTPRoute{}, false
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.Route(r.Method, r.URL.Path); !ok {
		http.Error(w, "", http.StatusNotFound)
		return
	}
	var body io.Reader
	if r.ContentLength > 0 || (f.Proxying && r.ContentLength != 0) {
		body = r.Body
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.HandlerURL+r.URL.EscapedPath(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.URL.RawQuery = r.URL.RawQuery
	for k, v := range r.Header {
		req.Header[k] = v
	}
	req.ContentLength = max(r.ContentLength, 0)
	if f.Proxying {
		req.ContentLength = r.ContentLength
	}
	req.Header.Set("X-Azure-Functions-InvocationId", uuid.NewString())
	req.Header.Set("X-Azure-Functions-HostVersion", "4.0.0-stand-in")
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if f.Proxying {
		proxyAnswer(w, resp)
		return
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(data))
}

// proxyAnswer copies an answer as it comes, flushing each piece.
func proxyAnswer(w http.ResponseWriter, resp *http.Response) {
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
