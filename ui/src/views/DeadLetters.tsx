import { useState } from "react";
import type { DeadLetter } from "../api/types";
import { Confirm, ErrorPanel, Link, Loading, Pager, When } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet, usePage } from "../hooks";

// DeadLetters lists the messages that could not be processed (both queues'
// dead letters and the status messages the control plane refused), with
// why; an admin replays one (its operation is retried) or discards it.
export function DeadLetters() {
  const { client } = useApp();
  const list = useGet<{ deadLetters: DeadLetter[] }>("/api/admin/dead-letters?limit=1000");
  const action = useAction();
  const [done, setDone] = useState<string>();
  const [discarding, setDiscarding] = useState<DeadLetter>();
  const items = list.data?.deadLetters ?? [];
  const { page, index, pages, setIndex } = usePage(items, 10);
  const act = async (d: DeadLetter, verb: "replay" | "discard") => {
    const path = `/api/admin/dead-letters/${encodeURIComponent(d.queue)}/${encodeURIComponent(d.id)}`;
    const ok = await action.run(() => (verb === "replay" ? client.call("POST", `${path}/replay`) : client.call("DELETE", path)));
    setDiscarding(undefined);
    if (ok) {
      setDone(`${verb === "replay" ? "Replayed" : "Discarded"} message ${d.messageId || d.id}.`);
      list.reload();
    }
  };
  return (
    <>
      <div className="page-head">
        <h1>Dead letters</h1>
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Messages that could not be processed: requests to the Resource Processor and status reports that reached their
        delivery limit, and status reports the control plane refused.
      </p>
      {done && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <ErrorPanel error={list.error ?? action.error} title="The dead letters could not be handled" />
      {list.loading && !list.data && <Loading what="dead letters" />}
      {list.data && items.length === 0 && <p>No dead letters.</p>}
      <ul className="dead-letters">
        {page.map((d) => (
          <li key={`${d.queue}/${d.id}`} className="card">
            <h2>
              {d.queue} · <code>{d.messageId || d.id}</code>
            </h2>
            <p>
              <strong>{d.reason}</strong>
              {d.description && <> — {d.description}</>}
            </p>
            <p className="muted small">
              Delivered {d.deliveryCount} times · dead-lettered <When t={d.deadLetteredAt} />
              {d.operationId && (
                <>
                  {" "}
                  · operation <code>{d.operationId}</code>
                </>
              )}
              {d.resourceId && (
                <>
                  {" "}
                  · resource <code>{d.resourceId}</code>
                </>
              )}
            </p>
            <details>
              <summary>Message body</summary>
              <pre className="log">{pretty(d.body)}</pre>
            </details>
            <div className="button-row">
              <button type="button" className="primary" disabled={action.busy} onClick={() => act(d, "replay")}>
                Replay
              </button>
              <button type="button" className="danger" disabled={action.busy} onClick={() => setDiscarding(d)}>
                Discard…
              </button>
            </div>
            {discarding === d && (
              <Confirm
                question="Discard this message for good?"
                confirmLabel="Discard"
                danger
                onConfirm={() => act(d, "discard")}
                onCancel={() => setDiscarding(undefined)}
              />
            )}
          </li>
        ))}
      </ul>
      <Pager index={index} pages={pages} setIndex={setIndex} label="dead letters" />
      <p className="muted small">
        Operations stuck in progress are failed by hand from their page (<Link to="/operations">your operations</Link>, or a
        resource's Operations).
      </p>
    </>
  );
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}
