package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tre-go/tre/internal/funchost"
)

// Fuzz targets of the API (docs: README, Development, "Fuzzing"). Each
// drives the real handler with a body of the fuzzer's choosing and requires
// an answer below 500: bad input is the caller's fault, never a crash or an
// internal error (a panic is recovered into a 500, so it fails too).

// fuzzRoutes are the routes FuzzRequestBody posts to: creation, patch,
// assignment, registration, actions with bodies.
func fuzzRoutes(w world) []struct{ method, path string } {
	ws := "/api/workspaces/" + w.ws
	return []struct{ method, path string }{
		{"POST", "/api/workspaces"},
		{"PATCH", ws},
		{"POST", ws + "/users/assign"},
		{"POST", "/api/workspace-templates"},
		{"POST", ws + "/workspace-services"},
		{"POST", ws + "/requests"},
		{"PATCH", "/api/shared-services/" + w.ss},
		{"POST", "/api/upgrades"},
	}
}

// FuzzRequestBody: request decoding and validation, through the handler.
func FuzzRequestBody(f *testing.F) {
	dir, w := buildWorld(f, worldEnabled)
	e := openEnv(f, copyDir(f, dir))
	e.api.MaxBodyBytes = 1 << 20
	admin := e.token("admin", "TREAdmin")
	routes := fuzzRoutes(w)
	for i := range routes {
		f.Add(uint8(i), []byte(`{"templateName":"ws","properties":{"display_name":"a","description":"b"}}`))
	}
	f.Add(uint8(1), []byte(`{"properties":{"display_name":"x"},"isEnabled":false}`))
	f.Add(uint8(2), []byte(`{"role_id":"WorkspaceResearcher","user_ids":["00000000-0000-4000-8000-000000000001"]}`))
	f.Add(uint8(0), []byte(`{"templateName":"ws","properties":{"display_name":"a\u0000","description":[[[[[]]]]]}}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("If-Match", "*")
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s answered %d to %q: %s", rt.method, rt.path, rec.Code, body, rec.Body.String())
		}
	})
}

// FuzzStatusMessage: the deployment-status trigger's parsing of a status
// message (or an agent heartbeat), as the Functions host delivers it. With
// the store up, every message is applied, ignored or rejected: 200.
func FuzzStatusMessage(f *testing.F) {
	dir, _ := buildWorld(f, worldRunning)
	e := openEnv(f, copyDir(f, dir))
	e.api.MaxBodyBytes = 1 << 20
	for _, seed := range []string{
		`{"operationId":"op","stepId":"s","id":"r","status":"deployed","message":"m","outputs":[{"Name":"a","Value":"1","Type":"string"}]}`,
		`{"kind":"agent_heartbeat","agent":"vm-0","workers":2,"healthy":true}`,
		`{"operationId":"","status":"deploying","attempt":-1}`,
		`[1,2,3]`, `"text"`, `null`,
	} {
		f.Add(seed, "m-1", "s-1", "1")
	}
	f.Fuzz(func(t *testing.T, msg, messageID, sessionID, deliveryCount string) {
		meta := map[string]json.RawMessage{}
		for k, v := range map[string]string{"MessageId": messageID, "SessionId": sessionID, "DeliveryCount": deliveryCount} {
			meta[k], _ = json.Marshal(v)
		}
		inv := funchost.Invocation{Data: map[string]json.RawMessage{"msg": funchost.StringData([]byte(msg))}, Metadata: meta}
		payload, err := json.Marshal(inv)
		if err != nil {
			t.Skip("not encodable")
		}
		req := httptest.NewRequest(http.MethodPost, "/deployment-status", strings.NewReader(string(payload)))
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("deployment-status answered %d to %q: %s", rec.Code, msg, rec.Body.String())
		}
	})
}
