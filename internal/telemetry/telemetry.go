// Package telemetry gives the handler its traces and the context of its
// log lines: OpenTelemetry spans exported over OTLP/HTTP (off unless an
// endpoint is configured), a bridge that makes the Azure SDK's own spans
// (Cosmos DB, Key Vault, ARM, Storage) OpenTelemetry spans, and a slog
// handler that puts an invocation's ids (the Functions invocation id, the
// request id, the TRE operation id) and its trace on every log line logged
// with its context.
//
// Why OTLP: the Functions host exports its own telemetry over OTLP when
// OpenTelemetry is enabled, Azure Monitor has no exporter for Go, and an
// OpenTelemetry Collector (or Azure Monitor's OTLP ingestion) takes OTLP
// and forwards it to Application Insights. One protocol reaches any
// backend; docs/monitoring.md says how to route it.
package telemetry

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where traces go.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318); traces
	// are posted to Endpoint + "/v1/traces". Empty: tracing is off.
	Endpoint string
	// Headers are sent with every export (an ingestion key, say).
	Headers map[string]string
	// ServiceName and Version name the program in the traces
	// (service.name, service.version); InstanceID the instance
	// (service.instance.id).
	ServiceName, Version, InstanceID string
}

// Telemetry is the program's tracer provider: a no-op one when tracing is
// off.
type Telemetry struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
}

// New starts exporting spans to cfg.Endpoint in batches; with no endpoint
// it returns a Telemetry whose spans go nowhere.
func New(cfg Config) (*Telemetry, error) {
	if cfg.Endpoint == "" {
		return &Telemetry{provider: noop.NewTracerProvider()}, nil
	}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"),
		otlptracehttp.WithHeaders(cfg.Headers))
	if err != nil {
		return nil, errors.Join(errors.New("telemetry: OTLP exporter"), err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.Version),
		attribute.String("service.instance.id", cfg.InstanceID),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Telemetry{provider: tp, sdk: tp}, nil
}

// Enabled reports whether spans are exported.
func (t *Telemetry) Enabled() bool { return t.sdk != nil }

// Provider is the OpenTelemetry tracer provider.
func (t *Telemetry) Provider() trace.TracerProvider { return t.provider }

// Tracer is the tracer of one component of the program.
func (t *Telemetry) Tracer(name string) trace.Tracer { return t.provider.Tracer(name) }

// Shutdown exports the spans not yet sent and stops; it waits until ctx
// ends at most.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
