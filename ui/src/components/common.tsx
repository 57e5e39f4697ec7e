import { useEffect, useId, useRef, type ReactNode } from "react";
import type { ApiError } from "../api/client";
import { phaseOf, statusLabel } from "../status";
import { href } from "../router";

// ErrorPanel shows a failed call as the API explained it: its detail, every
// field at fault, and the request id to quote (AzureTRE #3257, #2456).
export function ErrorPanel({ error, title, onDismiss }: { error?: ApiError; title?: string; onDismiss?: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (error) ref.current?.focus();
  }, [error]);
  if (!error) return null;
  const fieldErrors = error.errors.filter((e) => e.message !== error.detail || error.errors.length > 1);
  return (
    <div className="error-panel" role="alert" tabIndex={-1} ref={ref}>
      <p className="error-title">
        <strong>{title ?? "The request failed"}</strong>
        {error.status > 0 && <span className="error-status"> ({error.status})</span>}
      </p>
      <p className="error-detail">{error.detail}</p>
      {fieldErrors.length > 0 && (
        <ul className="error-fields">
          {fieldErrors.map((e, i) => (
            <li key={i}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {error.requestId && (
        <p className="error-request">
          Request id: <code data-testid="request-id">{error.requestId}</code>
        </p>
      )}
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

export function StatusBadge({ status, enabled = true }: { status?: string; enabled?: boolean }) {
  const phase = phaseOf(status);
  return (
    <span className="badges">
      <span className={`badge badge-${phase}`} data-status={status ?? ""}>
        {phase === "running" && <span className="spinner" aria-hidden="true" />}
        {statusLabel(status)}
      </span>
      {!enabled && <span className="badge badge-disabled">Disabled</span>}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <a href={href(to)} className={className}>
      {children}
    </a>
  );
}

// Pager moves through a list a page at a time.
export function Pager({ index, pages, setIndex, label }: { index: number; pages: number; setIndex: (i: number) => void; label: string }) {
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={() => setIndex(index - 1)} disabled={index === 0}>
        Previous
      </button>
      <span aria-live="polite">
        Page {index + 1} of {pages}
      </span>
      <button type="button" onClick={() => setIndex(index + 1)} disabled={index >= pages - 1}>
        Next
      </button>
    </nav>
  );
}

// Confirm asks before a consequential action, in place: the question and
// its two buttons take the focus, Escape cancels.
export function Confirm({
  question,
  confirmLabel,
  onConfirm,
  onCancel,
  danger,
  children,
}: {
  question: string;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  danger?: boolean;
  children?: ReactNode;
}) {
  const ref = useRef<HTMLButtonElement>(null);
  const id = useId();
  useEffect(() => ref.current?.focus(), []);
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-labelledby={id}
      onKeyDown={(e) => {
        if (e.key === "Escape") onCancel();
      }}
    >
      <p id={id}>{question}</p>
      {children}
      <div className="button-row">
        <button type="button" ref={ref} className={danger ? "danger" : "primary"} onClick={onConfirm}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

// When shows a time of the API (seconds since the epoch) in the user's
// locale, with the exact ISO time on hover.
export function When({ t }: { t?: number }) {
  if (!t) return <span>—</span>;
  const d = new Date(t * 1000);
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

// Value shows a property value: text as is, the rest as JSON.
export function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span className="muted">—</span>;
  if (typeof v === "string") {
    if (/^https?:\/\//.test(v)) {
      return (
        <a href={v} target="_blank" rel="noreferrer noopener">
          {v}
        </a>
      );
    }
    return <span className="value">{v}</span>;
  }
  if (typeof v === "number" || typeof v === "boolean") return <span className="value">{String(v)}</span>;
  return <pre className="value-json">{JSON.stringify(v, null, 2)}</pre>;
}

export function PropertyList({ props, hide = [] }: { props: Record<string, unknown>; hide?: string[] }) {
  const keys = Object.keys(props)
    .filter((k) => !hide.includes(k))
    .sort();
  return (
    <dl className="properties">
      {keys.map((k) => (
        <div key={k} className="property">
          <dt>{k}</dt>
          <dd>
            <Value v={props[k]} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function Tabs({ tabs, current, base }: { tabs: { id: string; label: string }[]; current: string; base: string }) {
  return (
    <nav className="tabs" aria-label="Sections">
      <ul>
        {tabs.map((t) => (
          <li key={t.id}>
            <a href={href(t.id === "overview" ? base : `${base}/${t.id}`)} aria-current={t.id === current ? "page" : undefined}>
              {t.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
