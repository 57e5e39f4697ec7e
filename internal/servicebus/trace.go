package servicebus

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The Service Bus SDK for Go (azservicebus v1.11) makes no spans of its
// own, unlike the HTTP-based Azure SDKs: the adapter makes them, one per
// call to the namespace, with OpenTelemetry's messaging attributes, so
// that Service Bus shows as a dependency beside Cosmos DB and Key Vault.

// SetTracing makes the queue's spans with tp; none until it is called. Call
// it before the queue is used.
func (q *Queue) SetTracing(tp trace.TracerProvider) {
	q.tracer = tp.Tracer("github.com/tre-go/tre/internal/servicebus")
}

func (q *Queue) tracerOrNoop() trace.Tracer {
	if q.tracer == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return q.tracer
}

// span starts the client span of one operation on a queue; end records
// its error, if any, and ends it.
func (q *Queue) span(ctx context.Context, op, queue string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	attrs = append(attrs,
		attribute.String("messaging.system", "servicebus"),
		attribute.String("messaging.operation.name", op),
		attribute.String("messaging.destination.name", queue),
		attribute.String("az.namespace", "Microsoft.ServiceBus"),
	)
	if q.host != "" {
		attrs = append(attrs, attribute.String("server.address", q.host))
	}
	ctx, span := q.tracerOrNoop().Start(ctx, op+" "+queue, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
