package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/telemetry"
	"github.com/tre-go/tre/internal/telemetry/otlptest"
)

// The Azure SDK's spans, made through the bridge, are exported over OTLP
// as children of the caller's span, with the SDK's attributes.
func TestAzureSpansReachOTLP(t *testing.T) {
	rcv := otlptest.Start(t)
	tel, err := telemetry.New(telemetry.Config{Endpoint: rcv.URL, ServiceName: "tre-handler", Version: "test",
		Headers: map[string]string{"x-ingestion-key": "k1"}})
	require.NoError(t, err)
	require.True(t, tel.Enabled())

	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	defer svc.Close()
	client, err := azcore.NewClient("azsecrets", "v1.0.0", runtime.PipelineOptions{Tracing: runtime.TracingOptions{Namespace: "Microsoft.KeyVault"}},
		&policy.ClientOptions{TracingProvider: tel.Azure(), Retry: policy.RetryOptions{MaxRetries: -1}})
	require.NoError(t, err)

	ctx, parent := tel.Tracer("test").Start(context.Background(), "POST /deployment-status")
	sctx, end := runtime.StartSpan(ctx, "Client.GetSecret", client.Tracer(), nil)
	req, err := runtime.NewRequest(sctx, http.MethodGet, svc.URL+"/secrets/s1")
	require.NoError(t, err)
	resp, err := client.Pipeline().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	end(nil)
	parent.End()
	require.NoError(t, tel.Shutdown(context.Background()))

	spans := rcv.Spans()
	byName := map[string]otlptest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	root, op, http := byName["POST /deployment-status"], byName["Client.GetSecret"], byName["HTTP GET"]
	require.NotEmpty(t, op.SpanID, "the SDK operation's span: %v", spans)
	require.NotEmpty(t, http.SpanID, "the SDK's HTTP span: %v", spans)
	require.Equal(t, root.TraceID, op.TraceID)
	require.Equal(t, root.SpanID, op.ParentID, "the SDK's span is the caller's child")
	require.Equal(t, op.SpanID, http.ParentID)
	require.Equal(t, "Microsoft.KeyVault", op.Attrs["az.namespace"])
	require.Equal(t, "SPAN_KIND_CLIENT", http.Kind)
	require.Equal(t, "404", http.Attrs["http.status_code"])
	require.True(t, http.Error, "a 404 is an error status")
	require.Equal(t, "tre-handler", root.Resource["service.name"])
	require.Equal(t, "k1", rcv.Headers()[0].Get("X-Ingestion-Key"))
}

// Off (no endpoint): spans go nowhere and the SDK makes none.
func TestOffMakesNoSpans(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{})
	require.NoError(t, err)
	require.False(t, tel.Enabled())
	require.False(t, tel.Azure().NewTracer("m", "v").Enabled())
	_, span := tel.Tracer("x").Start(context.Background(), "s")
	require.False(t, span.IsRecording())
}

// A line logged with a request's context carries its fields, those
// annotated later included, and its trace; a bound logger's lines too.
func TestLogLinesCarryTheInvocation(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.Handler{Handler: slog.NewJSONHandler(&buf, nil)})
	rcv := otlptest.Start(t)
	tel, err := telemetry.New(telemetry.Config{Endpoint: rcv.URL})
	require.NoError(t, err)
	defer tel.Shutdown(context.Background())

	ctx := telemetry.WithFields(context.Background(), "invocation_id", "inv-1", "request_id", "req-1")
	ctx, span := tel.Tracer("t").Start(ctx, "s")
	defer span.End()
	log.InfoContext(ctx, "before")
	telemetry.Annotate(ctx, "operation_id", "op-1")
	log.InfoContext(ctx, "after")
	telemetry.Logger(ctx, log).With("component", "x").Warn("bound, no context")
	log.Info("no context")

	var lines []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		lines = append(lines, m)
	}
	require.Len(t, lines, 4)
	traceID := span.SpanContext().TraceID().String()
	require.Equal(t, "inv-1", lines[0]["invocation_id"])
	require.Nil(t, lines[0]["operation_id"])
	require.Equal(t, traceID, lines[0]["trace_id"])
	for _, l := range lines[1:3] {
		require.Equal(t, "inv-1", l["invocation_id"], "%v", l)
		require.Equal(t, "req-1", l["request_id"])
		require.Equal(t, "op-1", l["operation_id"])
		require.Equal(t, traceID, l["trace_id"])
	}
	require.Equal(t, "x", lines[2]["component"])
	require.Nil(t, lines[3]["invocation_id"])
}

// A line that names a field itself keeps its own, once.
func TestLogLinesKeepTheirOwnFields(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.Handler{Handler: slog.NewJSONHandler(&buf, nil)})
	ctx := telemetry.WithFields(context.Background(), "operation_id", "op-1", "invocation_id", "inv-1")
	log.InfoContext(ctx, "m", "operation_id", "op-2")
	require.Equal(t, 1, strings.Count(buf.String(), `"operation_id"`), buf.String())
	require.Contains(t, buf.String(), `"operation_id":"op-2"`)
	require.Contains(t, buf.String(), `"invocation_id":"inv-1"`)
}
