package api_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of this package")

// response is one answer of one route, as the shapes test saw it.
type response struct {
	route string // "METHOD pattern"
	role  string
	body  string
}

// everyResponse calls every route of the table once, in worlds where each
// has something to answer with (the access test's), as the first role of
// the access table the route admits, and returns the answers of the API
// routes by route. Trigger routes are called with host payloads. extra
// adds to the world where the routes that read find their data.
func everyResponse(t *testing.T, extra ...func(*env, *world)) []response {
	t.Helper()
	dirs := map[string]string{}
	byKey := map[string]accessCase{}
	var enabled world
	for _, mode := range []string{worldEnabled, worldDisabled, worldRunning, worldFailed} {
		var more []func(*env, *world)
		if mode == worldEnabled {
			more = extra
		}
		dir, w := buildWorld(t, mode, more...)
		dirs[mode] = dir
		if mode == worldEnabled {
			enabled = w
		}
		for _, c := range accessCases(w) {
			if c.world == mode {
				byKey[c.method+" "+named(c.path, w)] = c
			}
		}
	}
	probe := openEnv(t, t.TempDir())
	var out []response
	seen := map[string]bool{}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		c := byKey[key]
		route := c.method + " " + probe.patternOf(c.method, c.path)
		want := expectations(c.want)
		role := ""
		for _, r := range roleNames {
			// A route not implemented yet answers 501: its answer is its shape.
			if want[r] >= 200 && want[r] < 300 || want[r] == 501 {
				role = r
				break
			}
		}
		if c.shapeAs != "" {
			role = c.shapeAs
		}
		if role == "" || seen[route] {
			continue
		}
		seen[route] = true
		e := openEnv(t, copyDir(t, dirs[c.world]))
		var headers []string
		if c.etag != "" {
			headers = []string{"If-Match", `"` + c.etag + `"`}
		}
		status, body, _ := e.do(c.method, c.path, e.tokenFor(role), c.body, headers...)
		require.Equal(t, want[role], status, "%s as %s: %s", key, role, body)
		out = append(out, response{route: route, role: role, body: body})
		e.close()
	}
	out = append(out, triggerResponses(t, dirs[worldEnabled], enabled)...)
	for _, rt := range probe.api.Routes() {
		require.True(t, seen[rt.Method+" "+rt.Pattern] || rt.Trigger, "route %s %s was not called", rt.Method, rt.Pattern)
	}
	return out
}

// triggerResponses invokes every trigger route once, as the host would.
func triggerResponses(t *testing.T, dir string, w world) []response {
	t.Helper()
	e := openEnv(t, copyDir(t, dir))
	defer e.close()
	timer, err := os.ReadFile("../funchost/testdata/timer.json")
	require.NoError(t, err)
	var out []response
	for _, rt := range e.api.Routes() {
		if !rt.Trigger {
			continue
		}
		payload := timer
		switch rt.Pattern {
		case "/deployment-status":
			payload = statusPayload(t, map[string]any{"operationId": w.wsOp, "stepId": "unknown", "id": w.ws, "status": "deployed"}, "m-shape", w.wsOp)
		case "/airlock-status-changed":
			payload = statusPayload(t, map[string]any{"eventType": "statusChanged", "data": map[string]any{"request_id": w.arDraft,
				"new_status": "draft", "type": "import", "workspace_id": w.ws[len(w.ws)-4:]}}, "m-airlock", w.arDraft)
		}
		_, resp := e.invoke(strings.TrimPrefix(rt.Pattern, "/"), payload)
		b, err := json.Marshal(resp)
		require.NoError(t, err)
		out = append(out, response{route: rt.Method + " " + rt.Pattern, body: string(b)})
	}
	return out
}

// tokenFor returns a token of a role of the access table ("" for "-").
func (e *env) tokenFor(role string) string {
	switch role {
	case "A":
		return e.token("admin", "TREAdmin")
	case "U":
		return e.token("user", "TREUser")
	case "O":
		return e.token("owner", "TREUser")
	case "R":
		return e.token("researcher", "TREUser")
	case "M":
		return e.token("airlock", "TREUser")
	}
	return ""
}

// jsonValues returns the JSON values of a body: the body itself, or the
// data of each event of a Server-Sent Events stream.
func jsonValues(t *testing.T, body string) []any {
	t.Helper()
	var v any
	if json.Unmarshal([]byte(body), &v) == nil {
		return []any{v}
	}
	var out []any
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		require.NoError(t, json.Unmarshal([]byte(data), &v), "event data %s", data)
		out = append(out, v)
	}
	require.NotEmpty(t, out, "neither JSON nor an event stream: %s", body)
	return out
}

// shape adds the key paths of v to paths, each with the JSON type of its
// value: "operation.steps[].status string". Array elements share a path.
func shape(v any, path string, paths map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			shape(e, path+"."+k, paths)
		}
		paths[path+" object"] = true
	case []any:
		for _, e := range x {
			shape(e, path+"[]", paths)
		}
		paths[path+" array"] = true
	case string:
		paths[path+" string"] = true
	case float64:
		paths[path+" number"] = true
	case bool:
		paths[path+" boolean"] = true
	case nil:
		paths[path+" null"] = true
	}
}

// The key paths and value types of every route's answer are pinned by
// testdata/response-shapes.golden: the API's wire shape (AzureTRE's field
// names, and ours) cannot change unnoticed. go test -run TestResponseShapes
// -update rewrites it after a deliberate change.
func TestResponseShapes(t *testing.T) {
	var b strings.Builder
	for _, r := range everyResponse(t) {
		if r.route == "GET /api/openapi.json" {
			continue // generated from the route table; openapi_test.go checks it
		}
		fmt.Fprintf(&b, "%s\n", r.route)
		for _, p := range shapeOf(t, r.body) {
			fmt.Fprintf(&b, "\t%s\n", p)
		}
	}
	const golden = "testdata/response-shapes.golden"
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "go test -run TestResponseShapes -update writes it")
	wantRoutes, gotRoutes := byRoute(string(want)), byRoute(b.String())
	for route, got := range gotRoutes {
		require.Equal(t, wantRoutes[route], got, "the shape of %s changed; if on purpose, go test -run TestResponseShapes -update", route)
	}
	require.Len(t, gotRoutes, len(wantRoutes), "routes were added or removed; if on purpose, go test -run TestResponseShapes -update")
}

// shapeOf lists the key paths of a body, sorted.
func shapeOf(t *testing.T, body string) []string {
	t.Helper()
	paths := map[string]bool{}
	for _, v := range jsonValues(t, body) {
		shape(v, "", paths)
	}
	list := make([]string, 0, len(paths))
	for p := range paths {
		list = append(list, p)
	}
	sort.Strings(list) // the root (" object") first
	for i := range list {
		list[i] = strings.TrimSpace(list[i])
	}
	return list
}

// byRoute splits a golden file into its routes' blocks.
func byRoute(golden string) map[string]string {
	out := map[string]string{}
	route := ""
	for _, line := range strings.SplitAfter(golden, "\n") {
		if line != "" && !strings.HasPrefix(line, "\t") {
			route = strings.TrimSpace(line)
			continue
		}
		out[route] += line
	}
	return out
}
