package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const testIndex = `<!doctype html><html><head><title>Azure TRE</title>` + configMarker +
	`<script type="module" src="/assets/index-abc.js"></script></head><body></body></html>`

func testApp(t *testing.T, cfg Config) *App {
	t.Helper()
	app, err := newApp(fstest.MapFS{
		"index.html":           {Data: []byte(testIndex)},
		"assets/index-abc.js":  {Data: bytes.Repeat([]byte("console.log('tre');\n"), 200)},
		"assets/index-abc.css": {Data: []byte("body{}")},
		"assets/sub/x.svg":     {Data: []byte("<svg/>")},
	}, cfg)
	require.NoError(t, err)
	return app
}

func get(t *testing.T, h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestIndexCarriesConfig(t *testing.T) {
	app := testApp(t, Config{AuthMode: "entra", ClientID: "c1", TenantID: "t1", Authority: "https://login.microsoftonline.com",
		Scope: "api://c1/user_impersonation", Version: "v1</script><script>alert(1)</script>"})
	w := get(t, app, "GET", "/")
	require.Equal(t, 200, w.Code)
	body := w.Body.String()
	require.Contains(t, body, "<title>Azure TRE</title>", "AzureTRE's e2e test_ui checks the title")
	require.Contains(t, body, `"authMode":"entra","clientId":"c1","tenantId":"t1"`)
	require.NotContains(t, body, configMarker, "the marker is replaced")
	require.NotContains(t, body, "</script><script>alert", "the config cannot end its script element")
	require.Contains(t, body, `v1\u003c/script\u003e`)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, "no-cache", w.Header().Get("Cache-Control"), "a new deployment's page is picked up at once")
	csp := w.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self';")
	require.Contains(t, csp, "connect-src 'self' https://login.microsoftonline.com;", "the PKCE token request goes to the authority")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))

	dev := testApp(t, Config{AuthMode: "dev"})
	require.Contains(t, get(t, dev, "GET", "/").Header().Get("Content-Security-Policy"), "connect-src 'self';")
}

func TestAssets(t *testing.T) {
	app := testApp(t, Config{AuthMode: "dev"})
	w := get(t, app, "GET", "/assets/index-abc.js")
	require.Equal(t, 200, w.Code)
	require.Equal(t, "text/javascript; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, "public, max-age=31536000, immutable", w.Header().Get("Cache-Control"))
	require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	require.Empty(t, w.Header().Get("Content-Encoding"), "no gzip unless asked")
	plain := w.Body.Bytes()

	w = get(t, app, "GET", "/assets/index-abc.js", "Accept-Encoding", "br, gzip")
	require.Equal(t, "gzip", w.Header().Get("Content-Encoding"))
	require.Less(t, w.Body.Len(), len(plain))
	zr, err := gzip.NewReader(w.Body)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, plain, unzipped)
	require.Empty(t, get(t, app, "GET", "/assets/index-abc.js", "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding"))
	require.Empty(t, get(t, app, "GET", "/assets/index-abc.css", "Accept-Encoding", "gzip").Header().Get("Content-Encoding"), "too small to be worth it")

	w = get(t, app, "HEAD", "/assets/sub/x.svg")
	require.Equal(t, 200, w.Code)
	require.Equal(t, "image/svg+xml", w.Header().Get("Content-Type"))
	require.Equal(t, "6", w.Header().Get("Content-Length"))
	require.Empty(t, w.Body.String(), "HEAD has no body")

	for _, p := range []string{"/assets/", "/assets/missing.js", "/assets/../index.html", "/assets/sub/../index-abc.js",
		"/assets/sub", "/assets//index-abc.js", `/assets/sub\x.svg`} {
		r := httptest.NewRequest("GET", "/assets/x", nil)
		r.URL.Path = p // as a client could send it, uncleaned
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		require.Equal(t, 404, w.Code, p)
	}
}

func TestServes(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true}, {"HEAD", "/", true}, {"GET", "/assets/a.js", true},
		{"POST", "/", false}, {"GET", "/api/health", false}, {"GET", "/index.html", false},
		{"GET", "/deployment-status", false}, {"GET", "/assetsx", false},
	} {
		require.Equal(t, c.want, Serves(httptest.NewRequest(c.method, c.path, nil)), "%s %s", c.method, c.path)
	}
}

func TestBuiltIndexNeedsItsMarker(t *testing.T) {
	_, err := newApp(fstest.MapFS{"index.html": {Data: []byte("<title>Azure TRE</title>")}}, Config{})
	require.ErrorContains(t, err, "make ui")
}

// TestNew serves whichever page this binary was built with: the UI when
// make ui ran before the build, else the placeholder that says how.
func TestNew(t *testing.T) {
	app, err := New(Config{AuthMode: "dev"})
	require.NoError(t, err)
	w := get(t, app, "GET", "/")
	require.Equal(t, 200, w.Code)
	require.Contains(t, w.Body.String(), "<title>Azure TRE</title>")
	if Built() {
		require.Contains(t, w.Body.String(), `<script type="application/json" id="tre-config">{"authMode":"dev"}</script>`)
	} else {
		require.Contains(t, w.Body.String(), "make ui")
		require.Equal(t, 404, get(t, app, "GET", "/assets/index.js").Code)
	}
	require.True(t, strings.HasPrefix(w.Body.String(), "<!doctype html>"))
}
