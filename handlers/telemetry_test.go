package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/telemetry/otlptest"
)

// spansNamed returns the spans of a name.
func spansNamed(spans []otlptest.Span, name string) []otlptest.Span {
	return filterSpans(spans, func(s otlptest.Span) bool { return s.Name == name })
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, each request and each trigger
// invocation is a server span exported over OTLP, with the Functions
// invocation id and the TRE operation id; every log line of an invocation
// carries both and its trace id. (Locally the store and queue are SQLite:
// the Azure dependencies' spans are TestAzureAdaptersEndToEnd's.)
func TestTracesAndLogsCarryInvocationAndOperation(t *testing.T) {
	rcv := otlptest.Start(t)
	h := startLocal(t, t.TempDir(), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL})
	admin := h.token("TREAdmin", "alice")
	loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "Traced", "description": "d", "address_space_size": "small"}})
	op := h.waitOp(loc, admin)
	require.Equal(t, "deployed", op["status"], "%v", op)
	opID := op["id"].(string)
	h.stop() // flushes the spans not yet exported

	spans := rcv.Spans()
	created := spansNamed(spans, "POST /api/workspaces")
	require.Len(t, created, 1, "%v", spans)
	require.Equal(t, opID, created[0].Attrs["tre.operation_id"])
	require.Equal(t, "SPAN_KIND_SERVER", created[0].Kind)
	require.Equal(t, "202", created[0].Attrs["http.response.status_code"])

	invocations := map[string]string{} // invocation id → trace id
	for _, s := range spansNamed(spans, "POST /deployment-status") {
		if s.Attrs["tre.operation_id"] == opID {
			require.NotEmpty(t, s.Attrs["faas.invocation_id"], "%v", s)
			invocations[s.Attrs["faas.invocation_id"]] = s.TraceID
		}
	}
	require.NotEmpty(t, invocations, "the statuses of the operation came in as invocations: %v", spans)

	// Every line logged during one of those invocations carries its
	// invocation id, the operation id and the trace id.
	lines := 0
	for _, l := range strings.Split(h.logs.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil {
			continue
		}
		inv, _ := line["invocation_id"].(string)
		traceID, ok := invocations[inv]
		if !ok {
			continue
		}
		lines++
		require.Equal(t, 1, strings.Count(l, `"operation_id"`), "one operation_id per line: %s", l)
		require.Equal(t, opID, line["operation_id"], "%s", l)
		require.Equal(t, traceID, line["trace_id"], "%s", l)
	}
	require.Greater(t, lines, len(invocations), "each invocation logged (its request line, the lifecycle's step status)")
	require.Contains(t, h.logs.String(), `"msg":"step status"`)
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, "invocation_id") {
			t.Log(l)
		}
	}
}
