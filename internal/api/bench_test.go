package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// The read paths of the API in-process, each beside its floor: the same
// bytes served from memory by a bare net/http server, measured in the same
// run; the ratio is reported (x-floor).
//
//	go test -run '^$' -bench . -benchtime 50x ./internal/api

// benchWorld is an API over n deployed workspaces.
func benchWorld(b *testing.B, n int) (*env, string) {
	b.Helper()
	e := openEnv(b, b.TempDir())
	// As the handler has it: verified tokens cached.
	e.api.Auth = &auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: e.keys, Cache: &auth.TokenCache{}}
	ctx := context.Background()
	if _, err := e.reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true, JSONSchema: minimal("ws")}, adminUser); err != nil {
		b.Fatal(err)
	}
	for range n {
		_, op, err := e.svc.Create(ctx, lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: adminUser,
			Properties: map[string]any{"display_name": "a workspace", "description": "one of many, for the benchmark"}})
		if err != nil {
			b.Fatal(err)
		}
		e.complete(op)
	}
	return e, e.token("admin", "TREAdmin")
}

// timeGet times n GETs of url and returns the mean.
func timeGet(b *testing.B, url, token string, n int) (time.Duration, []byte) {
	b.Helper()
	var body []byte
	start := time.Now()
	for range n {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
	}
	return time.Since(start) / time.Duration(n), body
}

func floorServer(body []byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
}

// BenchmarkListWorkspaces: the unpaged list of 1,000 workspaces.
func BenchmarkListWorkspaces(b *testing.B) {
	e, token := benchWorld(b, 1000)
	_, body := timeGet(b, e.srv.URL+"/api/workspaces", token, 1)
	floor := floorServer(body)
	defer floor.Close()
	var subject, bare time.Duration
	b.ResetTimer()
	for b.Loop() {
		d, _ := timeGet(b, e.srv.URL+"/api/workspaces", token, 1)
		f, _ := timeGet(b, floor.URL, "", 1)
		subject, bare = subject+d, bare+f
	}
	b.ReportMetric(float64(subject)/float64(bare), "x-floor")
	b.ReportMetric(float64(len(body))/1e6, "MB")
}

// BenchmarkGetWorkspace: one workspace, 1,000 in the store.
func BenchmarkGetWorkspace(b *testing.B) {
	e, token := benchWorld(b, 1000)
	page, err := e.svc.ListPage(context.Background(), lifecycle.Ref{Type: tre.TypeWorkspace}, lifecycle.ListOptions{PageSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	listed, err := page.Resources()
	if err != nil {
		b.Fatal(err)
	}
	url := e.srv.URL + "/api/workspaces/" + listed[0].ID
	_, body := timeGet(b, url, token, 1)
	floor := floorServer(body)
	defer floor.Close()
	var subject, bare time.Duration
	b.ResetTimer()
	for b.Loop() {
		d, _ := timeGet(b, url, token, 20)
		f, _ := timeGet(b, floor.URL, "", 20)
		subject, bare = subject+d, bare+f
	}
	b.ReportMetric(float64(subject)/float64(bare), "x-floor")
}
