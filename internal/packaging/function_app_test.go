package packaging

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/tre"
)

// readZip returns the files of a zip by name.
func readZip(t *testing.T, path string) (map[string][]byte, map[string]os.FileMode) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	data, modes := map[string][]byte{}, map[string]os.FileMode{}
	for _, f := range zr.File {
		require.NotContains(t, data, f.Name, "duplicate entry")
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err, f.Name)
		data[f.Name], modes[f.Name] = b, f.Mode()
	}
	return data, modes
}

// sourceFunctions lists the function folders of functions/.
func sourceFunctions(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "functions"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names)
	return names
}

func TestFunctionAppZip(t *testing.T) {
	dir := packages(t, "handler")
	root := repoRoot(t)
	files, modes := readZip(t, filepath.Join(dir, "function-app.zip"))

	functions := sourceFunctions(t)
	want := []string{"host.json", "tre-handler"}
	for _, name := range functions {
		want = append(want, name+"/function.json")
	}
	var got []string
	for name := range files {
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "the zip holds host.json, the binary and the function.json files, nothing else")

	require.Equal(t, os.FileMode(0o755), modes["tre-handler"], "the Functions host executes the binary")
	for name, mode := range modes {
		if name != "tre-handler" {
			require.Equal(t, os.FileMode(0o644), mode, name)
		}
	}
	checkBinary(t, files["tre-handler"], "handlers")

	// The zip carries the sources unchanged.
	src, err := os.ReadFile(filepath.Join(root, "host.json"))
	require.NoError(t, err)
	require.Equal(t, string(src), string(files["host.json"]))
	for _, name := range functions {
		src, err := os.ReadFile(filepath.Join(root, "functions", name, "function.json"))
		require.NoError(t, err)
		require.Equal(t, string(src), string(files[name+"/function.json"]), name)
	}
}

func TestHostJSON(t *testing.T) {
	dir := packages(t, "handler")
	files, _ := readZip(t, filepath.Join(dir, "function-app.zip"))
	var host struct {
		Version       string `json:"version"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
			EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	require.NoError(t, json.Unmarshal(files["host.json"], &host))
	require.Equal(t, "2.0", host.Version)
	require.Equal(t, "tre-handler", host.CustomHandler.Description.DefaultExecutablePath, "the binary the zip holds")
	require.Contains(t, files, host.CustomHandler.Description.DefaultExecutablePath)
	require.True(t, host.CustomHandler.EnableProxyingHTTPRequest,
		"the HTTP functions are proxied to the handler's mux, answers streamed (Server-Sent Events)")
	require.False(t, host.CustomHandler.EnableForwardingHTTPRequest, "the legacy forwarding, which buffers answers, is off")
	require.NotNil(t, host.Extensions.HTTP.RoutePrefix)
	require.Equal(t, "", *host.Extensions.HTTP.RoutePrefix,
		"the web UI is at the root: each HTTP function's route says its prefix (api/ for AzureTRE's routes)")
}

// httpFunctions are the HTTP functions and their routes (host.json's
// routePrefix is empty): the API under /api/ (a catch-all: every API path
// reaches the handler's mux), the web UI's page at the root only (the
// optional parameter with maxlength(0) matches nothing else: an empty
// route is not allowed, Azure/Azure-Functions#2473) and its assets. No
// route may take a trigger's path (/deployment-status, the timers): the
// host posts those to the handler itself (TestPackagedAppThroughHost).
var httpFunctions = map[string]string{
	"api":       "api/{*path}",
	"ui":        "{page:maxlength(0)?}",
	"ui-assets": "assets/{*path}",
}

// binding is one binding of a function.json.
type binding struct {
	Type              string   `json:"type"`
	Direction         string   `json:"direction"`
	Name              string   `json:"name"`
	AuthLevel         string   `json:"authLevel"`
	Methods           []string `json:"methods"`
	Route             string   `json:"route"`
	QueueName         string   `json:"queueName"`
	TopicName         string   `json:"topicName"`
	Connection        string   `json:"connection"`
	IsSessionsEnabled *bool    `json:"isSessionsEnabled"`
	Schedule          string   `json:"schedule"`
}

// connectionPrefix is an app setting prefix for an identity-based
// connection (<prefix>__fullyQualifiedNamespace), not a connection string.
var connectionPrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// TestFunctions checks every packaged function.json: a trigger of a type
// the handler serves, bound under the name the handler reads.
func TestFunctions(t *testing.T) {
	dir := packages(t, "handler")
	files, _ := readZip(t, filepath.Join(dir, "function-app.zip"))
	bindings := api.TriggerBindings()
	var triggerFunctions []string
	for _, name := range sourceFunctions(t) {
		t.Run(name, func(t *testing.T) {
			var fn struct {
				Bindings []binding `json:"bindings"`
			}
			dec := json.NewDecoder(strings.NewReader(string(files[name+"/function.json"])))
			require.NoError(t, dec.Decode(&fn), "function.json is JSON")
			var triggers []binding
			for _, b := range fn.Bindings {
				require.NotEmpty(t, b.Name, "every binding has a name")
				if strings.HasSuffix(b.Type, "Trigger") {
					triggers = append(triggers, b)
				}
			}
			require.Len(t, triggers, 1, "one trigger per function")
			trig := triggers[0]
			require.Equal(t, "in", trig.Direction)

			if trig.Type != "httpTrigger" {
				// Recorded first: the cross-check below must not repeat a
				// failure of this subtest.
				triggerFunctions = append(triggerFunctions, name)
			}
			switch trig.Type {
			case "httpTrigger":
				route, ok := httpFunctions[name]
				require.True(t, ok, "the HTTP functions are api, ui and ui-assets, forwarded to the handler's mux; not %s", name)
				require.Equal(t, route, trig.Route, "see httpFunctions")
				require.Equal(t, "anonymous", trig.AuthLevel, "the handler authenticates bearer tokens itself")
				require.NotEmpty(t, trig.Methods)
				for _, m := range trig.Methods {
					require.Contains(t, []string{"get", "post", "put", "patch", "delete", "head", "options"}, strings.ToLower(m))
					if name != "api" {
						require.Contains(t, []string{"get", "head"}, strings.ToLower(m), "the web UI's page and assets are read only")
					}
				}
				// Forwarding applies only to HTTP in + HTTP out functions.
				require.Len(t, fn.Bindings, 2, "httpTrigger and an http out binding, nothing else")
				out := fn.Bindings[slices.IndexFunc(fn.Bindings, func(b binding) bool { return b.Direction == "out" })]
				require.Equal(t, "http", out.Type)
				return
			case "serviceBusTrigger":
				require.True(t, trig.IsSessionsEnabled != nil && *trig.IsSessionsEnabled,
					"status messages carry the operation id as session id, airlock messages the request's: sessions must be enabled")
				require.Contains(t, []string{tre.QueueStatus, tre.QueueAirlockStatus}, trig.QueueName)
				require.Empty(t, trig.TopicName)
				require.Regexp(t, connectionPrefix, trig.Connection,
					"connection names an app setting prefix (<prefix>__fullyQualifiedNamespace for the managed identity)")
				require.NotContains(t, trig.Connection, "__", "a prefix, not the full setting name")
			case "timerTrigger":
				require.NoError(t, checkNCRONTAB(trig.Schedule))
			default:
				t.Fatalf("trigger type %q is not one the handler serves (httpTrigger, serviceBusTrigger, timerTrigger)", trig.Type)
			}
			require.Len(t, fn.Bindings, 1, "the handler answers triggers by HTTP status; no output bindings")
			want, ok := bindings[name]
			require.True(t, ok, "function %s has no trigger route in the handler (api.TriggerBindings)", name)
			require.Equal(t, want, trig.Name, "the handler reads Data[%q] of %s's invocations", want, name)
		})
	}
	var routed []string
	for name := range bindings {
		routed = append(routed, name)
	}
	sort.Strings(routed)
	sort.Strings(triggerFunctions)
	require.Equal(t, routed, triggerFunctions, "every trigger route of the handler has its function, and the reverse")
}
