package api

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tre-go/tre/internal/telemetry"
)

// startSpan starts the server span of a request or a trigger invocation,
// and the log fields every line about it carries: the request id and, from
// the Functions host, the invocation id. The route names the span once it
// is known; the TRE operation id is added when a handler learns it
// (annotate).
func (a *API) startSpan(r *http.Request, requestID string) (context.Context, trace.Span) {
	fields := []any{"request_id", requestID}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("tre.request_id", requestID),
	}
	if inv := r.Header.Get("X-Azure-Functions-InvocationId"); inv != "" {
		fields = append(fields, "invocation_id", inv)
		attrs = append(attrs, attribute.String("faas.invocation_id", inv))
	}
	ctx := telemetry.WithFields(r.Context(), fields...)
	tracer := a.Tracer
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	return tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

func endSpan(span trace.Span, status int) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}

// annotate adds ids learnt while handling a request (operation_id,
// resource_id, ...) to its log lines from then on and to its span.
func annotate(r *http.Request, args ...any) {
	telemetry.Annotate(r.Context(), args...)
}
