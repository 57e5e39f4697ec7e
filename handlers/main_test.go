package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/funchost"
)

// handler is a running tre-handler for a test.
type handler struct {
	t    testing.TB
	dir  string
	url  string
	stop func()
	logs *syncBuffer
}

type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced on each write (changed)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// changed returns a channel closed by the next write.
func (s *syncBuffer) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = make(chan struct{})
	}
	return s.written
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(dir string, extra map[string]string) func(string) (string, bool) {
	env := map[string]string{"TRE_DATA_DIR": dir, "FUNCTIONS_CUSTOMHANDLER_PORT": "0", "LOG_LEVEL": "debug",
		"TRE_TEMPLATES_DIR": "../templates", "TRE_REGISTER_TEMPLATES": "false", "TRE_DRAIN_TIMEOUT": "2s"}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// start runs the real Main on port 0 in dir until the test ends or stop.
func start(t testing.TB, dir string) *handler {
	t.Helper()
	cfg, err := loadConfig(envOf(dir, nil))
	require.NoError(t, err)
	return startConfig(t, dir, cfg)
}

func startConfig(t testing.TB, dir string, cfg Config) *handler {
	t.Helper()
	logs := &syncBuffer{}
	m := &Main{Config: cfg, Log: newLogger(logs, "debug")}
	require.NoError(t, m.Open(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	h := &handler{t: t, dir: dir, url: m.URL(), logs: logs}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "Run returns nil on a graceful stop")
			case <-time.After(10 * time.Second):
				t.Fatal("handler did not stop")
			}
			require.NoError(t, m.Close())
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *handler) token(roles, user string) string {
	h.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"token", "--roles", roles, "--user", user}, envOf(h.dir, nil), &out, &errb)
	require.Equal(h.t, 0, code, errb.String())
	return strings.TrimSpace(out.String())
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (h *handler) do(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}

	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	require.NotEmpty(h.t, resp.Header.Get("X-Request-Id"), "every response carries a request id")
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// requireProblem checks a 4xx problem+json answer and returns it.
func requireProblem(t testing.TB, r response, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	p := r.json(t)
	require.EqualValues(t, status, p["status"])
	require.NotEmpty(t, p["detail"])
	require.Equal(t, r.header.Get("X-Request-Id"), p["requestId"])
	return p
}

func template(name, version string, current bool) map[string]any {
	return map[string]any{
		"name": name, "version": version, "current": current,
		"json_schema": map[string]any{
			"$schema": "http://json-schema.org/draft-07/schema", "title": "Base " + version, "description": "A workspace",
			"type": "object", "required": []any{"address_space_size"},
			"properties": map[string]any{
				"address_space_size": map[string]any{"type": "string", "enum": []any{"small", "medium"}, "default": "small"},
			},
		},
		// Registration scripts post the whole `porter explain` output; extra members are ignored.
		"customActions": []any{map[string]any{"name": "restart", "description": "Restart", "stateless": false}},
		"parameters":    []any{map[string]any{"name": "tre_id"}},
	}
}

func TestHealthAndMetadata(t *testing.T) {
	h := start(t, t.TempDir())
	// The processor is healthy once its first heartbeat went through the
	// deploymentstatus queue: a moment after the start.
	var r response
	require.Eventually(t, func() bool {
		r = h.do("GET", "/api/health", "", nil)
		return r.status == 200
	}, 10*time.Second, 20*time.Millisecond)
	// AzureTRE's names and shape (its e2e test_health compares the list),
	// with what stands in for each service named apart.
	require.Equal(t, []any{
		map[string]any{"service": "Cosmos DB", "status": "OK", "message": ""},
		map[string]any{"service": "Service Bus", "status": "OK", "message": ""},
		map[string]any{"service": "Resource Processor", "status": "OK", "message": ""},
	}, r.json(t)["services"])
	require.Equal(t, map[string]any{
		"Cosmos DB": "SQLite (embedded configuration store)", "Service Bus": "SQLite (embedded queues)",
		"Resource Processor": "in-process Resource Processor (local runner)",
	}, r.json(t)["backends"])

	r = h.do("GET", "/", "", nil)
	require.Equal(t, 200, r.status, "the Functions host's readiness probe (the web UI's page)")
	r = h.do("GET", "/api/", "", nil)
	require.Equal(t, "\"pong\"\n", string(r.body), "AzureTRE's ping")

	r = h.do("GET", "/api/.metadata", "", nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "dev", r.json(t)["auth_mode"])

	r = h.do("GET", "/api/health", "", nil, "X-Request-Id", "my-trace-1")
	require.Equal(t, "my-trace-1", r.header.Get("X-Request-Id"), "a sane caller request id is kept")
	require.Contains(t, h.logs.String(), `"request_id":"my-trace-1"`)
}

func TestTemplateAuth(t *testing.T) {
	h := start(t, t.TempDir())
	p := requireProblem(t, h.do("POST", "/api/workspace-templates", "", template("base", "1.0.0", true)), 401)
	require.Equal(t, "Could not validate credentials", p["detail"])
	require.Equal(t, "Bearer", h.do("GET", "/api/workspace-templates", "", nil).header.Get("WWW-Authenticate"))
	requireProblem(t, h.do("GET", "/api/workspace-templates", "not.a.token", nil), 401)

	user := h.token("TREUser", "ursula")
	p = requireProblem(t, h.do("POST", "/api/workspace-templates", user, template("base", "1.0.0", true)), 403)
	require.Equal(t, "The user is missing a required role: ['TREAdmin']", p["detail"])
	requireProblem(t, h.do("GET", "/api/workspace-templates", user, nil), 403)

	admin := h.token("TREAdmin", "alice")
	require.Equal(t, 201, h.do("POST", "/api/workspace-templates", admin, template("base", "1.0.0", true)).status)
	// TREUser may read the other kinds.
	require.Equal(t, 200, h.do("GET", "/api/shared-service-templates", user, nil).status)

	// A token from another issuer's key (another data directory) is refused.
	other := start(t, t.TempDir())
	requireProblem(t, h.do("GET", "/api/shared-service-templates", other.token("TREAdmin", "eve"), nil), 401)
}

func TestTemplateLifecycle(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir)
	admin := h.token("TREAdmin", "alice")
	base := "/api/workspace-templates"

	r := h.do("POST", base, admin, template("tre-workspace-base", "1.0.0", false))
	require.Equal(t, 201, r.status, "body: %s", r.body)
	v := r.json(t)
	require.Equal(t, true, v["current"], "the first registration of a name is current")
	require.Equal(t, "/api/workspace-templates/tre-workspace-base?version=1.0.0", r.header.Get("Location"))
	require.Contains(t, v["properties"], "display_name", "base schema merged")
	require.Contains(t, v, "system_properties")
	require.Equal(t, []any{map[string]any{"name": "restart", "description": "Restart"}}, v["customActions"])

	require.Equal(t, 201, h.do("POST", base, admin, template("tre-workspace-base", "1.1.0", false)).status)
	p := requireProblem(t, h.do("POST", base, admin, template("tre-workspace-base", "1.1.0", true)), 409)
	require.Equal(t, "A template with the same version, or a newer version already exists", p["detail"])

	r = h.do("GET", base+"/tre-workspace-base", admin, nil)
	require.Equal(t, "1.0.0", r.json(t)["version"])
	r = h.do("GET", base+"/tre-workspace-base?version=1.1.0", admin, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, false, r.json(t)["current"])
	r = h.do("GET", base+"/tre-workspace-base?version=1.1.0&is_update=true", admin, nil)
	props := r.json(t)["properties"].(map[string]any)
	require.Equal(t, true, props["address_space_size"].(map[string]any)["readOnly"])
	requireProblem(t, h.do("GET", base+"/tre-workspace-base?version=9.0.0", admin, nil), 404)
	requireProblem(t, h.do("GET", base+"/nope", admin, nil), 404)
	requireProblem(t, h.do("GET", base+"/tre-workspace-base?is_update=maybe", admin, nil), 400)

	// Make 1.1.0 current, then deprecate 1.0.0.
	r = h.do("PATCH", base+"/tre-workspace-base/versions/1.1.0", admin, map[string]any{"current": true})
	require.Equal(t, 200, r.status, "body: %s", r.body)
	require.Equal(t, "1.1.0", h.do("GET", base+"/tre-workspace-base", admin, nil).json(t)["version"])
	r = h.do("PATCH", base+"/tre-workspace-base/versions/1.0.0", admin, map[string]any{"deprecated": true, "deprecationReason": "old"})
	require.Equal(t, 200, r.status)
	require.Equal(t, true, r.json(t)["deprecated"])
	requireProblem(t, h.do("PATCH", base+"/tre-workspace-base/versions/1.0.0", admin, map[string]any{"current": true}), 409)
	p = requireProblem(t, h.do("PATCH", base+"/tre-workspace-base/versions/1.0.0", admin, map[string]any{"curent": true}), 400)
	require.Equal(t, "curent", p["field"])

	r = h.do("GET", base+"/tre-workspace-base/versions", admin, nil)
	require.Equal(t, 200, r.status)
	versions := r.json(t)["versions"].([]any)
	require.Len(t, versions, 2)
	require.Equal(t, true, versions[0].(map[string]any)["deprecated"])
	require.Equal(t, true, versions[1].(map[string]any)["current"])

	list := h.do("GET", base, admin, nil).json(t)["templates"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "1.1.0", list[0].(map[string]any)["version"])

	// User-resource templates hang under a workspace-service template.
	svc := "/api/workspace-service-templates"
	p = requireProblem(t, h.do("POST", svc+"/guac/user-resource-templates", admin, template("vm", "1.0.0", true)), 404)
	require.Equal(t, "Could not retrieve the workspace service template specified", p["detail"])
	require.Equal(t, 201, h.do("POST", svc, admin, template("guac", "1.0.0", true)).status)
	require.Equal(t, 201, h.do("POST", svc+"/guac/user-resource-templates", admin, template("vm", "1.0.0", true)).status)
	require.Len(t, h.do("GET", svc+"/guac/user-resource-templates", admin, nil).json(t)["templates"], 1)
	require.Equal(t, "vm", h.do("GET", svc+"/guac/user-resource-templates/vm", admin, nil).json(t)["name"])

	// Stop and start again: everything is still there.
	h.stop()
	h2 := start(t, dir)
	admin = h2.token("TREAdmin", "alice")
	require.Equal(t, "1.1.0", h2.do("GET", base+"/tre-workspace-base", admin, nil).json(t)["version"])
	require.Len(t, h2.do("GET", base+"/tre-workspace-base/versions", admin, nil).json(t)["versions"], 2)
	require.Len(t, h2.do("GET", svc+"/guac/user-resource-templates", admin, nil).json(t)["templates"], 1)
}

func TestBadInputIs4xx(t *testing.T) {
	h := start(t, t.TempDir())
	admin := h.token("TREAdmin", "alice")
	base := "/api/shared-service-templates"
	broken := template("fw", "1.0.0", true)
	broken["json_schema"].(map[string]any)["properties"].(map[string]any)["x"] = map[string]any{"type": "strin"}
	big := template("big", "1.0.0", true)
	big["json_schema"].(map[string]any)["description"] = strings.Repeat("x", 2<<20)

	for name, tc := range map[string]struct {
		body   any
		status int
		field  string
	}{
		"malformed JSON":    {`{"name": "x",`, 400, ""},
		"not an object":     {`[1,2]`, 400, ""},
		"empty body":        {` `, 400, ""},
		"trailing data":     {`{"name":"x"} {}`, 400, ""},
		"wrong type":        {map[string]any{"name": "x", "version": "1.0.0", "current": "maybe", "json_schema": map[string]any{}}, 400, "current"},
		"schema not object": {map[string]any{"name": "x", "version": "1.0.0", "json_schema": "{}"}, 400, "json_schema"},
		"invalid schema":    {broken, 400, "json_schema"},
		"no title":          {map[string]any{"name": "x", "version": "1.0.0", "json_schema": map[string]any{"description": "d"}}, 400, "json_schema.title"},
		"bad version":       {map[string]any{"name": "x", "version": "latest", "json_schema": map[string]any{"title": "t", "description": "d"}}, 400, "version"},
		"bad name":          {map[string]any{"name": "../x", "version": "1.0.0", "json_schema": map[string]any{"title": "t", "description": "d"}}, 400, "name"},
		"too large":         {big, 413, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := requireProblem(t, h.do("POST", base, admin, tc.body), tc.status)
			if tc.field != "" {
				require.Equal(t, tc.field, p["field"], "problem: %v", p)
			}
		})
	}
	r := h.do("POST", base, admin, nil, "Content-Type", "text/plain")
	requireProblem(t, r, 415)
	requireProblem(t, h.do("DELETE", base, admin, nil), 405)
	require.Equal(t, "GET, HEAD, POST", h.do("DELETE", base, admin, nil).header.Get("Allow"), "HEAD is GET without the body")
	requireProblem(t, h.do("GET", "/api/nowhere", admin, nil), 404)

	// None of it was stored: the only shared-service template is the
	// firewall's, which the control plane registers itself.
	templates := h.do("GET", base, admin, nil).json(t)["templates"].([]any)
	require.Len(t, templates, 1)
	require.Equal(t, "tre-shared-service-firewall", templates[0].(map[string]any)["name"])
	require.NotContains(t, h.logs.String(), `"level":"ERROR"`, "bad input is never logged as an error")
}

func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"token", "--roles", "TREAdmin"}, envOf(dir, map[string]string{
		"AAD_TENANT_ID": "tenant", "API_CLIENT_ID": "client"}), &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "dev issuer is not in use")
	require.Empty(t, out.String())

	errb.Reset()
	code = run(context.Background(), []string{"token", "--roles", "Wizard"}, envOf(dir, nil), &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), `unknown role "Wizard"`)
}

func TestConfigProblemsReportedTogether(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), nil, envOf(t.TempDir(), map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": "http", "LOG_LEVEL": "chatty", "AAD_TENANT_ID": "t", "TRE_SHUTDOWN_TIMEOUT": "forever",
	}), &out, &errb)
	require.Equal(t, 1, code)
	for _, want := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "LOG_LEVEL", "API_CLIENT_ID", "TRE_SHUTDOWN_TIMEOUT", "4 problem(s)"} {
		require.Contains(t, errb.String(), want)
	}
}

// The sample app settings list exactly the handler's settings (the port is
// set by the Functions host itself) plus the host's own keys.
func TestLocalSettingsSampleMatchesTable(t *testing.T) {
	data, err := os.ReadFile("../local.settings.sample.json")
	require.NoError(t, err)
	var sample struct {
		Values map[string]string `json:"Values"`
	}
	require.NoError(t, json.Unmarshal(data, &sample))
	require.Equal(t, "Custom", sample.Values["FUNCTIONS_WORKER_RUNTIME"])
	want := map[string]bool{"FUNCTIONS_WORKER_RUNTIME": true, "AzureWebJobsStorage": true}
	for _, s := range settings {
		if s.Name != "FUNCTIONS_CUSTOMHANDLER_PORT" && !s.Platform {
			want[s.Name] = true
		}
	}
	for name := range sample.Values {
		require.True(t, want[name], "local.settings.sample.json has %s, which the handler does not read", name)
	}
	for name := range want {
		require.Contains(t, sample.Values, name, "local.settings.sample.json lacks %s", name)
	}
}

// The README documents every setting the handler reads.
func TestReadmeListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, s := range settings {
		require.True(t, strings.Contains(string(data), "| `"+s.Name+"` |"), "README.md's settings table lacks %s", s.Name)
	}
}

func TestUserIDCommand(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"user-id", "olivia"}, envOf(t.TempDir(), nil), &out, &errb))
	dir := t.TempDir()
	h := &handler{t: t, dir: dir}
	tok := h.token("TREUser", "olivia")
	keys, err := auth.LoadDevKeys(dir)
	require.NoError(t, err)
	u, err := (&auth.Validator{Issuer: auth.DevIssuer, Audience: auth.DevAudience, Keys: keys}).Validate(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, u.ID, strings.TrimSpace(out.String()), "the printed id is the token's oid")
	require.Equal(t, 1, run(context.Background(), []string{"user-id"}, envOf(t.TempDir(), nil), &out, &errb))
}

func TestFirewallSettings(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(envOf(dir, nil))
	require.NoError(t, err)
	require.Equal(t, "file", cfg.Firewall, "locally the firewall is a file")
	require.Equal(t, filepath.Join(dir, "firewall.json"), cfg.FirewallFile)
	require.Equal(t, [4]int32{300, 310, 400, 410}, cfg.FirewallPriorities)

	cfg, err = loadConfig(envOf(dir, map[string]string{"TRE_FIREWALL_POLICY_ID": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/fp",
		"TRE_FIREWALL_PRIORITIES": "300, 310, 400, 410", "TRE_DEV_ISSUER": "true"}))
	require.NoError(t, err)
	require.Equal(t, "azure", cfg.Firewall)
	require.Equal(t, "fp", cfg.FirewallPolicy.PolicyName)
	require.Equal(t, int32(310), cfg.FirewallConfig().ManualApplicationPriority)

	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"azure without policy": {map[string]string{"TRE_FIREWALL": "azure"}, []string{"TRE_FIREWALL_POLICY_ID: required with TRE_FIREWALL=azure"}},
		"not a policy id":      {map[string]string{"TRE_FIREWALL_POLICY_ID": "/subscriptions/s/resourceGroups/rg"}, []string{"TRE_FIREWALL_POLICY_ID:"}},
		"bad mode":             {map[string]string{"TRE_FIREWALL": "maybe"}, []string{"TRE_FIREWALL"}},
		"bad prefix":           {map[string]string{"TRE_FIREWALL_GROUP_PREFIX": "-x"}, []string{"TRE_FIREWALL_GROUP_PREFIX"}},
		"three priorities":     {map[string]string{"TRE_FIREWALL_PRIORITIES": "1,2,3"}, []string{"TRE_FIREWALL_PRIORITIES: \"1,2,3\" must be four"}},
		"admins after TRE":     {map[string]string{"TRE_FIREWALL_PRIORITIES": "600,610,500,510"}, []string{"ManualNetworkPriority 600 must be below TRENetworkPriority 500"}},
		"azure adapters, no firewall": {map[string]string{"STATE_STORE_ENDPOINT": "https://x.documents.azure.com:443/",
			"SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE": "x.servicebus.windows.net", "KEY_VAULT_URL": "https://kv.vault.azure.net/"},
			[]string{"TRE_FIREWALL_POLICY_ID: required with the Azure adapters"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(dir, tc.env))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// The dev issuer mints admin tokens for whoever can read TRE_DATA_DIR: it
// is refused on App Service, and beside any Azure adapter setting unless
// TRE_DEV_ISSUER=true says this is a test against local protocol servers.
func TestDevIssuerRefusedBesideAzureSettings(t *testing.T) {
	dir := t.TempDir()
	// The Azure end-to-end walk's settings: local protocol servers.
	local := map[string]string{"STATE_STORE_ENDPOINT": "https://127.0.0.1:8081/", "STATE_STORE_KEY": "k",
		"SERVICE_BUS_CONNECTION_STRING": "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
		"TRE_SECRET_STORE":              "file", "TRE_FIREWALL": "file"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, name := range azureSettings {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(dir, map[string]string{name: "https://x.vault.azure.net/"}))
			require.ErrorContains(t, err, "AAD_TENANT_ID: required with the Azure adapter settings "+name)
			require.ErrorContains(t, err, "TRE_DEV_ISSUER=true")
		})
	}

	_, err := loadConfig(envOf(dir, local))
	require.ErrorContains(t, err, "AAD_TENANT_ID: required with the Azure adapter settings STATE_STORE_ENDPOINT, STATE_STORE_KEY, SERVICE_BUS_CONNECTION_STRING, TRE_AIRLOCK_STORAGE=azure, TRE_AIRLOCK_SCANNER=defender:",
		"every setting present is named")

	cfg, err := loadConfig(envOf(dir, with(local, "TRE_DEV_ISSUER", "true")))
	require.NoError(t, err, "the opt-in of the tests")
	require.True(t, cfg.DevAuth())
	require.True(t, cfg.Azure())

	cfg, err = loadConfig(envOf(dir, nil))
	require.NoError(t, err, "no Azure setting: the dev issuer, as always")
	require.True(t, cfg.DevAuth())

	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"App Service, even with the opt-in": {with(local, "TRE_DEV_ISSUER", "true", "WEBSITE_INSTANCE_ID", "abc"),
			"AAD_TENANT_ID: required on Azure App Service"},
		"App Service alone":            {map[string]string{"WEBSITE_INSTANCE_ID": "abc"}, "AAD_TENANT_ID: required on Azure App Service"},
		"refused explicitly":           {map[string]string{"TRE_DEV_ISSUER": "false"}, "AAD_TENANT_ID: required with TRE_DEV_ISSUER=false"},
		"opt-in and Entra ID together": {map[string]string{"TRE_DEV_ISSUER": "true", "AAD_TENANT_ID": "t", "API_CLIENT_ID": "c"}, "TRE_DEV_ISSUER: true, but AAD_TENANT_ID is set"},
		"not a boolean":                {map[string]string{"TRE_DEV_ISSUER": "maybe"}, "TRE_DEV_ISSUER"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(dir, tc.env))
			require.ErrorContains(t, err, tc.want)
		})
	}

	// Entra ID beside the Azure settings is what Azure runs.
	_, err = loadConfig(envOf(dir, with(local, "AAD_TENANT_ID", "t", "API_CLIENT_ID", "c")))
	require.NoError(t, err)

	// The token command refuses to mint where the handler would refuse them.
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"token", "--roles", "TREAdmin"}, envOf(dir, map[string]string{
		"KEY_VAULT_URL": "https://x.vault.azure.net/"}), &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "Azure adapter settings KEY_VAULT_URL")
	require.Empty(t, out.String())

	// And serving refuses to start, naming the setting.
	code = run(context.Background(), nil, envOf(dir, map[string]string{"MANAGED_IDENTITY_CLIENT_ID": "id"}), &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "Azure adapter settings MANAGED_IDENTITY_CLIENT_ID")
}

// TRE_FUNCTION_TIMEOUT's default, what infra/ sets and host.json's
// functionTimeout are the same duration: the handler bounds its work by it.
func TestFunctionTimeoutMatchesHost(t *testing.T) {
	data, err := os.ReadFile("../host.json")
	require.NoError(t, err)
	var host struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	require.NoError(t, json.Unmarshal(data, &host))
	var h, m, s int
	_, err = fmt.Sscanf(host.FunctionTimeout, "%d:%d:%d", &h, &m, &s)
	require.NoError(t, err, "host.json functionTimeout %q", host.FunctionTimeout)
	want := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second

	cfg, err := loadConfig(envOf(t.TempDir(), nil))
	require.NoError(t, err)
	require.Equal(t, want, cfg.FunctionTimeout, "TRE_FUNCTION_TIMEOUT's default")
	tf, err := os.ReadFile("../infra/modules/functionapp/main.tf")
	require.NoError(t, err)
	got := regexp.MustCompile(`TRE_FUNCTION_TIMEOUT\s*=\s*"([^"]+)"`).FindSubmatch(tf)
	require.NotNil(t, got, "infra/modules/functionapp sets TRE_FUNCTION_TIMEOUT")
	d, err := time.ParseDuration(string(got[1]))
	require.NoError(t, err)
	require.Equal(t, want, d, "infra's TRE_FUNCTION_TIMEOUT")
}

// The local stand-in for the Functions host serves as many sessions of a
// queue at once as host.json lets the deployed host serve.
func TestLocalHostSessionsMatchHost(t *testing.T) {
	data, err := os.ReadFile("../host.json")
	require.NoError(t, err)
	var host struct {
		Extensions struct {
			ServiceBus struct {
				MaxConcurrentSessions int `json:"maxConcurrentSessions"`
			} `json:"serviceBus"`
		} `json:"extensions"`
	}
	require.NoError(t, json.Unmarshal(data, &host))
	require.Positive(t, host.Extensions.ServiceBus.MaxConcurrentSessions)
	require.Equal(t, host.Extensions.ServiceBus.MaxConcurrentSessions, funchost.DefaultSessions)
	m := &Main{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: Config{}}
	require.Zero(t, m.localHost().Sessions, "the local host takes the default")
}

// Warnings and errors go to stderr, where the Functions host logs them at
// their level; the rest to stdout (Information).
func TestLogLevelsSplitByStream(t *testing.T) {
	var out, errs bytes.Buffer
	log := newSplitLogger(&out, &errs, "debug")
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e", "error", "boom")
	require.Contains(t, out.String(), `"msg":"d"`)
	require.Contains(t, out.String(), `"msg":"i"`)
	require.NotContains(t, out.String(), `"msg":"w"`)
	require.NotContains(t, out.String(), `"msg":"e"`)
	lines := strings.Split(strings.TrimSpace(errs.String()), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], `"level":"WARN"`) // the host's Warning: the line contains "warn"
	require.Contains(t, lines[1], `"level":"ERROR"`)
	require.NotContains(t, strings.ToLower(lines[1]), "warn", "the host's Error: the line has no \"warn\"")
	require.Contains(t, lines[1], `"service":"tre-handler"`)
}
