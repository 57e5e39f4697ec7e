package funchost

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAppRoutes checks what the repository's host.json and function.json
// files let through the Functions host to the handler: the web UI's page
// and assets, and the API; never a trigger route, which the host posts to
// over loopback itself.
func TestAppRoutes(t *testing.T) {
	root := filepath.Join("..", "..")
	app := t.TempDir()
	copyFile(t, filepath.Join(root, "host.json"), filepath.Join(app, "host.json"))
	fns, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	require.NoError(t, err)
	for _, f := range fns {
		copyFile(t, f, filepath.Join(app, filepath.Base(filepath.Dir(f)), "function.json"))
	}
	routes, err := LoadHTTPRoutes(app)
	require.NoError(t, err)
	front := &Front{Routes: routes}

	for _, c := range []struct {
		method, path, function string
	}{
		{"GET", "/", "ui"},
		{"HEAD", "/", "ui"},
		{"GET", "/assets/index-abc.js", "ui-assets"},
		{"GET", "/assets/sub/x.css", "ui-assets"},
		{"GET", "/api/health", "api"},
		{"POST", "/api/workspaces", "api"},
		{"PATCH", "/api/workspaces/w/workspace-services/s", "api"},
		{"GET", "/api/workspaces/w/operations/o/events", "api"},
		{"POST", "/api/dev/token", "api"}, // reaches the handler, which refuses what came through the host
		{"POST", "/", ""},
		{"GET", "/index.html", ""},
		{"GET", "/workspaces", ""},
		{"POST", "/assets/x.js", ""},
		{"POST", "/deployment-status", ""},
		{"POST", "/dispatch-redelivery", ""},
		{"POST", "/operations-watchdog", ""},
		{"POST", "/firewall-reconcile", ""},
		{"GET", "/deployment-status", ""},
	} {
		r, ok := front.Route(c.method, c.path)
		if c.function == "" {
			require.False(t, ok, "%s %s must not reach the handler, but function %s takes it", c.method, c.path, r.Function)
			continue
		}
		require.True(t, ok, "%s %s reaches no function", c.method, c.path)
		require.Equal(t, c.function, r.Function, "%s %s", c.method, c.path)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, data, 0o644))
}

func TestRouteTemplates(t *testing.T) {
	for _, c := range []struct {
		template string
		match    []string
		miss     []string
	}{
		{"", []string{"/"}, []string{"/a"}},
		{"{page:maxlength(0)?}", []string{"/", ""}, []string{"/a", "/a/b"}},
		{"{page?}", []string{"/", "/a"}, []string{"/a/b"}},
		{"api/{*path}", []string{"/api", "/api/", "/API/x/y"}, []string{"/", "/apix", "/x/api"}},
		{"a/{id}/b", []string{"/a/1/b"}, []string{"/a//b", "/a/1", "/a/1/b/c"}},
		{"a/{id:maxlength(2)}", []string{"/a/12"}, []string{"/a/123"}},
	} {
		r, err := newHTTPRoute("f", c.template, nil)
		require.NoError(t, err, c.template)
		for _, p := range c.match {
			require.True(t, r.Match("GET", p), "%q takes %q", c.template, p)
		}
		for _, p := range c.miss {
			require.False(t, r.Match("GET", p), "%q does not take %q", c.template, p)
		}
	}
	for _, bad := range []string{"{id:int}", "{*rest}/x", "{a?}/b", "a{b}", "{}"} {
		_, err := newHTTPRoute("f", bad, nil)
		require.Error(t, err, bad)
	}
}

// TestFrontForwards: as the host with enableForwardingHttpRequest, the
// request goes to the same path with its headers and query, its body only
// with a Content-Length, and the answer comes back whole.
func TestFrontForwards(t *testing.T) {
	type seen struct {
		method, uri, body, invocation, auth string
	}
	got := make(chan seen, 1)
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, string(b), r.Header.Get("X-Azure-Functions-InvocationId"), r.Header.Get("Authorization")}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Request-Id", "r1")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "event: a\n\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "event: end\n\n")
	}))
	defer handler.Close()
	routes := []HTTPRoute{mustRoute(t, "api", "api/{*path}", "get", "post")}
	front := httptest.NewServer(&Front{Routes: routes, HandlerURL: handler.URL})
	defer front.Close()

	req, _ := http.NewRequest("POST", front.URL+"/api/workspaces?x=1&y=a%20b", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := <-got
	require.Equal(t, "POST", s.method)
	require.Equal(t, "/api/workspaces?x=1&y=a%20b", s.uri)
	require.Equal(t, `{"a":1}`, s.body)
	require.Equal(t, "Bearer t", s.auth)
	require.NotEmpty(t, s.invocation)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "r1", resp.Header.Get("X-Request-Id"))
	require.Equal(t, "event: a\n\nevent: end\n\n", string(body))

	// A chunked body (no Content-Length) is not forwarded, as by the host.
	pr, pw := io.Pipe()
	go func() { _, _ = io.WriteString(pw, `{"lost":true}`); pw.Close() }()
	req, _ = http.NewRequest("POST", front.URL+"/api/x", pr)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, (<-got).body)

	resp, err = http.Get(front.URL + "/deployment-status")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func mustRoute(t *testing.T, fn, template string, methods ...string) HTTPRoute {
	t.Helper()
	r, err := newHTTPRoute(fn, template, methods)
	require.NoError(t, err)
	return r
}

// TestFrontProxies: as the host with enableProxyingHttpRequest, an event
// stream comes through as it is written (the first event arrives while
// the handler still holds the stream open), and a chunked body goes too.
func TestFrontProxies(t *testing.T) {
	release := make(chan struct{})
	bodies := make(chan string, 1)
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: a\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "event: end\n\n")
	}))
	defer handler.Close()
	routes := []HTTPRoute{mustRoute(t, "api", "api/{*path}", "get", "post")}
	front := httptest.NewServer(&Front{Routes: routes, HandlerURL: handler.URL, Proxying: true})
	defer front.Close()

	pr, pw := io.Pipe()
	go func() { _, _ = io.WriteString(pw, `{"chunked":true}`); pw.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", front.URL+"/api/events", pr)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the answer's headers came while the stream was open")
	defer resp.Body.Close()
	require.Equal(t, `{"chunked":true}`, <-bodies)
	first := make([]byte, len("event: a\n\n"))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err, "the first event came while the stream was open")
	require.Equal(t, "event: a\n\n", string(first))
	close(release)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "event: end\n\n", string(rest))

	proxying, err := Proxying("../..")
	require.NoError(t, err)
	require.True(t, proxying, "the app's host.json proxies")
}
