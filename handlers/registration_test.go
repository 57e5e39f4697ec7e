package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The body AzureTRE's registration script posts (porter explain output
// with json_schema, resourceType and current as a string) registers
// through the API as it does in AzureTRE.
func TestRegisterScriptPayload(t *testing.T) {
	h := start(t, t.TempDir())
	admin := h.token("TREAdmin", "alice")
	b, err := os.ReadFile("../internal/registry/testdata/script-payload.json")
	require.NoError(t, err)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(b, &payload))

	r := h.do("POST", "/api/workspace-service-templates", admin, payload)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	v := r.json(t)
	require.Equal(t, true, v["current"])
	require.Equal(t, "workspace-service", v["resourceType"])
	require.NotContains(t, v, "parameters", "AzureTRE's template response has no bundle parameters")

	payload["version"], payload["current"] = "1.3.0", "false"
	r = h.do("POST", "/api/workspace-service-templates", admin, payload)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	require.Equal(t, false, r.json(t)["current"])

	payload["version"], payload["current"] = "1.4.0", "sometimes"
	p := requireProblem(t, h.do("POST", "/api/workspace-service-templates", admin, payload), 400)
	require.Equal(t, "current", p["field"])
}
