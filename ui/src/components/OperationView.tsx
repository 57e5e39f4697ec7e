import { useEffect, useState } from "react";
import { apiURL, type ApiError } from "../api/client";
import { watchOperation } from "../api/sse";
import type { Operation, OperationStep } from "../api/types";
import { useApp } from "../context";
import { useAction } from "../hooks";
import { inProgress, isTerminal, phaseOf } from "../status";
import { Confirm, ErrorPanel, Link, Loading, StatusBadge, When } from "./common";

// OperationView follows one operation live: every step with its status,
// message and the tail of the bundle's output, through one event stream
// (or polling where the stream cannot come through). Retry, cancel and
// fail are offered where the caller may use them.
export function OperationView({
  path,
  initial,
  canRetry,
  canFail,
  onEnd,
  onStatus,
  compact,
}: {
  // path is the operation's API path: {resourcePath}/operations/{id}.
  path: string;
  initial?: Operation;
  canRetry: boolean;
  canFail: boolean;
  onEnd?: (op: Operation) => void;
  // onStatus is told each new status (not each heartbeat), so that the
  // page can read again what the operation changes.
  onStatus?: (status: string) => void;
  compact?: boolean;
}) {
  const { client } = useApp();
  const [op, setOp] = useState<Operation | undefined>(initial);
  const [mode, setMode] = useState<"stream" | "poll" | "done">();
  const [watchError, setWatchError] = useState<ApiError>();
  const [generation, setGeneration] = useState(0);
  const action = useAction();
  const [failing, setFailing] = useState(false);
  const [reason, setReason] = useState("");

  useEffect(() => {
    const ctl = new AbortController();
    setWatchError(undefined);
    let last: Operation | undefined = initial;
    watchOperation({
      client,
      operation: apiURL(path),
      signal: ctl.signal,
      onUpdate: (o) => {
        const changed = o.status !== last?.status;
        last = o;
        setOp(o);
        if (changed) onStatus?.(o.status);
      },
      onMode: setMode,
      onError: setWatchError,
    }).then(() => {
      if (ctl.signal.aborted) return;
      setMode("done");
      if (last && isTerminal(last.status)) onEnd?.(last);
    });
    return () => ctl.abort();
    // onEnd and onStatus are the parent's callbacks: a new one must not
    // restart the stream.
  }, [client, path, generation]);

  const control = async (verb: "retry" | "cancel" | "fail") => {
    const answer = await action.run(() =>
      client.call<{ operation: Operation }>("POST", `${apiURL(path)}/${verb}`, verb === "fail" ? { body: { reason } } : {}),
    );
    if (answer) {
      setOp(answer.data.operation);
      setFailing(false);
      setGeneration((g) => g + 1); // follow the operation again
    }
  };

  if (!op) {
    return watchError ? <ErrorPanel error={watchError} title="The operation could not be read" /> : <Loading what="the operation" />;
  }
  const running = inProgress(op.status);
  const failed = phaseOf(op.status) === "failed";
  return (
    <section className="operation" aria-labelledby={`op-${op.id}`} data-operation={op.id} data-action={op.action} data-status={op.status}>
      <header className="operation-header">
        <h3 id={`op-${op.id}`}>
          {compact ? <Link to={`${op.resourcePath}/operations/${op.id}`}>{titleOf(op)}</Link> : titleOf(op)}
        </h3>
        <StatusBadge status={op.status} />
        <span className="live" aria-live="off">
          {mode === "stream" && running && "live"}
          {mode === "poll" && running && "polling"}
        </span>
      </header>
      <p className="operation-message" aria-live="polite">
        {op.message}
      </p>
      <p className="muted small">
        Started <When t={op.createdWhen} /> by {op.user?.name || op.user?.id}; updated <When t={op.updatedWhen} />
        {op.attempts && op.attempts.length > 1 && <> · attempt {op.attempts.length}</>}
      </p>
      <ol className="steps">
        {op.steps.map((s, i) => (
          <Step key={s.id} step={s} index={i} />
        ))}
      </ol>
      {op.attempts && op.attempts.length > 1 && (
        <details className="attempts">
          <summary>Earlier attempts ({op.attempts.length - 1})</summary>
          <ol>
            {op.attempts.slice(0, -1).map((a) => (
              <li key={a.number}>
                Attempt {a.number}, from step {a.fromStep + 1}: started <When t={a.startedWhen} /> by {a.startedBy?.name || a.startedBy?.id}
                {a.outcome && (
                  <>
                    {" "}
                    — <StatusBadge status={a.outcome} />
                  </>
                )}
                {a.message && <p className="step-message">{a.message}</p>}
              </li>
            ))}
          </ol>
        </details>
      )}
      <ErrorPanel error={action.error} title="The operation could not be changed" onDismiss={action.clear} />
      <ErrorPanel error={watchError} title="Following the operation stopped" />
      <div className="button-row">
        {canRetry && failed && (
          <button type="button" className="primary" disabled={action.busy} onClick={() => control("retry")}>
            Retry from the failed step
          </button>
        )}
        {canRetry && running && (
          <button type="button" disabled={action.busy} onClick={() => control("cancel")}>
            Cancel operation
          </button>
        )}
        {canFail && running && !failing && (
          <button type="button" className="danger" disabled={action.busy} onClick={() => setFailing(true)}>
            Mark as failed…
          </button>
        )}
      </div>
      {failing && (
        <Confirm
          question="Mark this operation as failed? Use it for an operation stuck in progress; the reason is recorded."
          confirmLabel="Mark as failed"
          danger
          onConfirm={() => control("fail")}
          onCancel={() => setFailing(false)}
        >
          <label className="field">
            Reason
            <input value={reason} onChange={(e) => setReason(e.target.value)} required />
          </label>
        </Confirm>
      )}
    </section>
  );
}

function titleOf(op: Operation): string {
  const verb: Record<string, string> = { install: "Install", upgrade: "Update", uninstall: "Uninstall" };
  return `${verb[op.action] ?? `Action “${op.action}”`} · ${op.id.slice(0, 8)}`;
}

function Step({ step, index }: { step: OperationStep; index: number }) {
  const title = step.templateStepId === "main" ? `${step.resourceAction} ${step.resourceTemplateName}` : step.stepTitle;
  return (
    <li className={`step step-${phaseOf(step.status)}`} data-step={step.templateStepId} data-status={step.status}>
      <div className="step-head">
        <span className="step-index">{index + 1}</span>
        <span className="step-title">{title}</span>
        <StatusBadge status={step.status} />
        {step.kind && <span className="tag">{step.kind}</span>}
      </div>
      {step.message && <p className="step-message">{step.message}</p>}
      <p className="muted small">
        {step.agent && <>Processor {step.agent} · </>}
        {step.startedWhen ? (
          <>
            started <When t={step.startedWhen} />
          </>
        ) : step.dispatchedWhen ? (
          <>
            sent <When t={step.dispatchedWhen} />
          </>
        ) : (
          "not sent yet"
        )}
        {step.heartbeatWhen && inProgress(step.status) && (
          <>
            {" "}
            · last heard <When t={step.heartbeatWhen} />
          </>
        )}
        {step.cancelRequested && " · cancellation requested"}
      </p>
      {step.logTail && (
        <details open={inProgress(step.status) || phaseOf(step.status) === "failed"}>
          <summary>Bundle output (last lines)</summary>
          <pre className="log" tabIndex={0}>
            {step.logTail}
          </pre>
        </details>
      )}
    </li>
  );
}
