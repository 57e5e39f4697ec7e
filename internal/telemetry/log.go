package telemetry

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// fields are the ids of one request or invocation, added to as the
// handler learns them (the TRE operation id, once the message is read).
type fields struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

type fieldsKey struct{}

// WithFields returns a context that carries log fields, starting with
// attrs (key, value pairs). Annotate adds to them.
func WithFields(ctx context.Context, args ...any) context.Context {
	f := &fields{}
	f.add(args)
	return context.WithValue(ctx, fieldsKey{}, f)
}

func (f *fields) add(args []any) {
	r := slog.Record{}
	r.Add(args...)
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		f.attrs = slices.DeleteFunc(f.attrs, func(b slog.Attr) bool { return b.Key == a.Key })
		f.attrs = append(f.attrs, a)
		return true
	})
}

func fieldsOf(ctx context.Context) []slog.Attr {
	f, _ := ctx.Value(fieldsKey{}).(*fields)
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attrs)
}

// Annotate adds key, value pairs to the log fields of ctx (from then on,
// every line logged with ctx carries them) and, as "tre.<key>", to the
// attributes of its span.
func Annotate(ctx context.Context, args ...any) {
	if f, _ := ctx.Value(fieldsKey{}).(*fields); f != nil {
		f.add(args)
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	r := slog.Record{}
	r.Add(args...)
	r.Attrs(func(a slog.Attr) bool {
		span.SetAttributes(attribute.String("tre."+a.Key, a.Value.String()))
		return true
	})
}

// Handler adds to each record logged with a context that context's log
// fields and, when it has a span, its trace_id and span_id (what joins a
// log line to its trace in Application Insights).
type Handler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	decorate(ctx, &r)
	return h.Handler.Handle(ctx, r)
}

// decorate adds ctx's fields the record does not have already (a line
// that names its own operation_id keeps it, once).
func decorate(ctx context.Context, r *slog.Record) {
	have := map[string]bool{}
	r.Attrs(func(a slog.Attr) bool { have[a.Key] = true; return true })
	for _, f := range fieldsOf(ctx) {
		if !have[f.Key] {
			r.AddAttrs(f)
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Handler.WithGroup(name)} }

// Logger returns log bound to ctx: its lines carry ctx's fields and trace,
// whatever context they are logged with, and whatever log's handler.
func Logger(ctx context.Context, log *slog.Logger) *slog.Logger {
	return slog.New(bound{next: log.Handler(), ctx: ctx})
}

type bound struct {
	next slog.Handler
	ctx  context.Context
}

func (b bound) Enabled(_ context.Context, l slog.Level) bool { return b.next.Enabled(b.ctx, l) }

// Handle decorates the record itself and hands it on without its context,
// so that a Handler below does not add the fields again.
func (b bound) Handle(_ context.Context, r slog.Record) error {
	decorate(b.ctx, &r)
	return b.next.Handle(context.Background(), r)
}

func (b bound) WithAttrs(attrs []slog.Attr) slog.Handler {
	return bound{next: b.next.WithAttrs(attrs), ctx: b.ctx}
}

func (b bound) WithGroup(name string) slog.Handler {
	return bound{next: b.next.WithGroup(name), ctx: b.ctx}
}
