package telemetry

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Azure is the tracing provider to give the Azure SDK's clients
// (ClientOptions.TracingProvider): their spans (one per SDK operation, such
// as Cosmos DB's "read_item" with its db.* attributes, and one per HTTP
// request) become OpenTelemetry spans, children of the span in the
// caller's context. It is the zero provider, which makes none, when
// tracing is off.
//
// The SDK's own adapter (sdk/tracing/azotel) does the same; it is not
// served by the module proxy this project builds from, and the bridge is
// this one file.
func (t *Telemetry) Azure() tracing.Provider {
	if !t.Enabled() {
		return tracing.Provider{}
	}
	return tracing.NewProvider(func(name, version string) tracing.Tracer {
		tr := t.provider.Tracer(name, trace.WithInstrumentationVersion(version))
		return tracing.NewTracer(func(ctx context.Context, spanName string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
			var opts []trace.SpanStartOption
			if o != nil {
				opts = append(opts, trace.WithSpanKind(spanKind(o.Kind)), trace.WithAttributes(attributes(o.Attributes)...))
			}
			ctx, span := tr.Start(ctx, spanName, opts...)
			return ctx, tracing.NewSpan(tracing.SpanImpl{
				End:           func() { span.End() },
				SetAttributes: func(a ...tracing.Attribute) { span.SetAttributes(attributes(a)...) },
				AddEvent:      func(n string, a ...tracing.Attribute) { span.AddEvent(n, trace.WithAttributes(attributes(a)...)) },
				SetStatus: func(c tracing.SpanStatus, desc string) {
					switch c {
					case tracing.SpanStatusError:
						span.SetStatus(codes.Error, desc)
					case tracing.SpanStatusOK:
						span.SetStatus(codes.Ok, desc)
					}
				},
			})
		}, &tracing.TracerOptions{
			SpanFromContext: func(ctx context.Context) tracing.Span {
				span := trace.SpanFromContext(ctx)
				return tracing.NewSpan(tracing.SpanImpl{
					End:           func() { span.End() },
					SetAttributes: func(a ...tracing.Attribute) { span.SetAttributes(attributes(a)...) },
				})
			},
		})
	}, nil)
}

func spanKind(k tracing.SpanKind) trace.SpanKind {
	switch k {
	case tracing.SpanKindServer:
		return trace.SpanKindServer
	case tracing.SpanKindClient:
		return trace.SpanKindClient
	case tracing.SpanKindProducer:
		return trace.SpanKindProducer
	case tracing.SpanKindConsumer:
		return trace.SpanKindConsumer
	}
	return trace.SpanKindInternal
}

func attributes(in []tracing.Attribute) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(in))
	for _, a := range in {
		switch v := a.Value.(type) {
		case string:
			out = append(out, attribute.String(a.Key, v))
		case int:
			out = append(out, attribute.Int(a.Key, v))
		case int64:
			out = append(out, attribute.Int64(a.Key, v))
		case int32:
			out = append(out, attribute.Int64(a.Key, int64(v)))
		case float64:
			out = append(out, attribute.Float64(a.Key, v))
		case float32:
			out = append(out, attribute.Float64(a.Key, float64(v)))
		case bool:
			out = append(out, attribute.Bool(a.Key, v))
		default:
			out = append(out, attribute.String(a.Key, fmt.Sprint(v)))
		}
	}
	return out
}
