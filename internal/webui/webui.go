package webui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/google/uuid"
)

//go:embed all:dist
var dist embed.FS

//go:embed placeholder.html
var placeholder []byte

// appDir is where make ui writes the built UI, inside dist.
const appDir = "dist/app"

// configMarker is the element of the built index.html whose content the
// handler replaces with the page's Config.
const configMarker = `<script type="application/json" id="tre-config">{}</script>`

// Config is what the page needs to know before its first request: how to
// sign in, and the version it runs against.
type Config struct {
	// AuthMode is "dev" (the local dev issuer: the page offers the dev
	// sign-in) or "entra" (authorization code with PKCE against Entra ID).
	AuthMode string `json:"authMode"`
	// ClientID is the application (client) id the page signs in with: the
	// API's app registration.
	ClientID string `json:"clientId,omitempty"`
	// TenantID is the Entra ID tenant.
	TenantID string `json:"tenantId,omitempty"`
	// Authority is the Entra ID authority, https://login.microsoftonline.com
	// in the public cloud.
	Authority string `json:"authority,omitempty"`
	// Scope is the API scope the page asks a token for.
	Scope string `json:"scope,omitempty"`
	// Version is the handler's version, shown in the page's footer.
	Version string `json:"version,omitempty"`
}

// Built reports whether the binary holds the built UI; without it, the page
// at / says how to build it.
func Built() bool {
	_, err := fs.Stat(dist, appDir+"/index.html")
	return err == nil
}

// App serves the page at / and its assets under /assets/.
type App struct {
	index  []byte
	csp    string
	assets fs.FS // nil when the UI is not built
	gz     sync.Map
}

// New returns the UI of the binary with cfg filled into the page.
func New(cfg Config) (*App, error) {
	if !Built() {
		return &App{index: placeholder, csp: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"}, nil
	}
	app, err := fs.Sub(dist, appDir)
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	return newApp(app, cfg)
}

// newApp serves the built UI in app (index.html and assets/).
func newApp(app fs.FS, cfg Config) (*App, error) {
	index, err := fs.ReadFile(app, "index.html")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	if bytes.Count(index, []byte(configMarker)) != 1 {
		return nil, errors.New("webui: the built index.html lacks its tre-config element: rebuild the UI (make ui)")
	}
	js, err := json.Marshal(cfg) // escapes <, > and &: safe inside a script element
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	index = bytes.Replace(index, []byte(configMarker),
		[]byte(`<script type="application/json" id="tre-config">`+string(js)+`</script>`), 1)
	assets, err := fs.Sub(app, "assets")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	return &App{index: index, csp: contentSecurityPolicy(cfg), assets: assets}, nil
}

// contentSecurityPolicy allows the page's own scripts and styles only, and
// requests to its own origin and, with Entra ID, to the authority's token
// endpoint.
func contentSecurityPolicy(cfg Config) string {
	connect := "'self'"
	if u, err := url.Parse(cfg.Authority); err == nil && cfg.AuthMode == "entra" && u.Scheme == "https" && u.Host != "" {
		connect += " https://" + u.Host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// Serves reports whether the request is the UI's: GET or HEAD of / or of
// a path under /assets/. Everything else is the API's.
func Serves(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/assets/")
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Request-Id", uuid.NewString()) // as every answer of the handler
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the sign-in's code and state travel in the URL
	if r.URL.Path == "/" {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", a.csp)
		h.Set("X-Frame-Options", "DENY")
		a.write(w, r, "index.html", a.index)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	data, err := a.asset(name)
	if err != nil {
		h.Set("Cache-Control", "no-store")
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	// Asset names carry a hash of their content.
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	a.write(w, r, name, data)
}

// asset reads a file under assets/; a name that is not a plain relative
// path (.., empty or backslashed segments) is not found.
func (a *App) asset(name string) ([]byte, error) {
	if a.assets == nil || !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) {
		return nil, fs.ErrNotExist
	}
	return fs.ReadFile(a.assets, name)
}

// write sends data, gzipped when the client takes it and it is worth it.
// The gzipped copy is made once per file.
func (a *App) write(w http.ResponseWriter, r *http.Request, name string, data []byte) {
	w.Header().Add("Vary", "Accept-Encoding")
	if len(data) >= 1024 && compressible(name) && acceptsGzip(r) {
		if z, ok := a.gzipped(name, data); ok {
			w.Header().Set("Content-Encoding", "gzip")
			data = z
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

func (a *App) gzipped(name string, data []byte) ([]byte, bool) {
	if z, ok := a.gz.Load(name); ok {
		return z.([]byte), true
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(data); err != nil {
		return nil, false
	}
	if err := zw.Close(); err != nil {
		return nil, false
	}
	z, _ := a.gz.LoadOrStore(name, buf.Bytes())
	return z.([]byte), true
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".js", ".css", ".svg", ".json", ".map", ".txt":
		return true
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
