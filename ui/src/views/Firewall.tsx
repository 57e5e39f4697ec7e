import { useState } from "react";
import { ErrorPanel, Link, Loading } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";

interface Owner {
  kind: string;
  id: string;
  name?: string;
  resourceType?: string;
  resourcePath?: string;
}

interface Collection {
  name: string;
  priority: number;
  action: string;
  application_rules?: unknown[];
  network_rules?: unknown[];
  unsupported?: string;
  owner?: Owner;
  owner_collection?: string;
}

export interface Group {
  name: string;
  priority: number;
  collections: Collection[] | null;
  provisioning_state?: string;
}

interface FirewallView {
  desired: Group[] | null;
  applied: Group[] | null;
  owners: { owner: Owner; rules: Record<string, unknown> }[] | null;
  problems: { owner: Owner; message: string }[] | null;
  lastReconcile?: { at: string; written: string[] | null; deleted: string[] | null; unchanged: string[] | null; err?: string } | null;
  groupPrefix: string;
}

export type Comparison = { name: string; state: "in sync" | "to be written" | "to be removed"; desired?: Group; applied?: Group };

// compareGroups pairs the desired and applied groups by name (Azure's names
// are case-insensitive). A group is in sync when both hold the same
// collections (by name and rule count), as far as the page can tell: the
// reconcile compares every rule.
export function compareGroups(desired: Group[], applied: Group[], prefix: string): Comparison[] {
  const key = (g: Group) => g.name.toLowerCase();
  const app = new Map(applied.map((g) => [key(g), g]));
  const out: Comparison[] = desired.map((d) => {
    const a = app.get(key(d));
    return { name: d.name, desired: d, applied: a, state: a && sameShape(d, a) ? "in sync" : "to be written" };
  });
  const want = new Set(desired.map(key));
  for (const a of applied) {
    if (!want.has(key(a)) && a.name.toLowerCase().startsWith(prefix.toLowerCase())) out.push({ name: a.name, applied: a, state: "to be removed" });
  }
  return out;
}

function sameShape(a: Group, b: Group): boolean {
  const shape = (g: Group) =>
    (g.collections ?? [])
      .map((c) => `${c.name.toLowerCase()}:${c.priority}:${(c.application_rules ?? []).length}:${(c.network_rules ?? []).length}:${c.unsupported ?? ""}`)
      .sort()
      .join("|");
  return a.priority === b.priority && !b.provisioning_state && shape(a) === shape(b);
}

// Firewall shows the egress rules: what resources and admins declare
// (desired), what the firewall has (applied), by owner, and the owners left
// out with the reason.
export function Firewall() {
  const { client } = useApp();
  const fw = useGet<FirewallView>("/api/firewall");
  const action = useAction();
  const [result, setResult] = useState<string>();
  const reconcile = async () => {
    const answer = await action.run(() => client.call<{ message?: string }>("POST", "/api/firewall/reconcile"));
    if (answer) {
      setResult(answer.data?.message ?? "Reconciled.");
      fw.reload();
    }
  };
  const v = fw.data;
  const comparison = v ? compareGroups(v.desired ?? [], v.applied ?? [], v.groupPrefix) : [];
  return (
    <>
      <div className="page-head">
        <h1>Firewall</h1>
        <button type="button" className="primary" onClick={reconcile} disabled={action.busy}>
          Reconcile now
        </button>
      </div>
      {result && (
        <p className="notice" role="status">
          {result}
        </p>
      )}
      <ErrorPanel error={fw.error ?? action.error} title="The firewall could not be read" />
      {fw.loading && !v && <Loading what="the firewall" />}
      {v && (
        <>
          <p className="muted">
            The control plane manages the rule collection groups named <code>{v.groupPrefix}…</code>; others are never touched.
            {v.lastReconcile && (
              <>
                {" "}
                Last reconcile {new Date(v.lastReconcile.at).toLocaleString()}: {(v.lastReconcile.written ?? []).length} written,{" "}
                {(v.lastReconcile.deleted ?? []).length} removed, {(v.lastReconcile.unchanged ?? []).length} unchanged
                {v.lastReconcile.err && <strong> — failed: {v.lastReconcile.err}</strong>}.
              </>
            )}
          </p>
          <section aria-labelledby="fw-problems">
            <h2 id="fw-problems">Left out</h2>
            {(v.problems ?? []).length === 0 ? (
              <p>Every owner's rules are in the desired state.</p>
            ) : (
              <ul className="problems">
                {(v.problems ?? []).map((p, i) => (
                  <li key={i} className="error-panel">
                    <OwnerName o={p.owner} />: {p.message}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="fw-groups">
            <h2 id="fw-groups">Desired and applied</h2>
            {comparison.length === 0 && <p>No managed rule collection groups: no resource declares egress.</p>}
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Group</th>
                    <th scope="col">State</th>
                    <th scope="col">Desired collections</th>
                    <th scope="col">Applied collections</th>
                  </tr>
                </thead>
                <tbody>
                  {comparison.map((c) => (
                    <tr key={c.name}>
                      <td>
                        <code>{c.name}</code>
                      </td>
                      <td>
                        <span className={`badge ${c.state === "in sync" ? "badge-succeeded" : "badge-awaiting"}`}>{c.state}</span>
                      </td>
                      <td>
                        <Collections g={c.desired} />
                      </td>
                      <td>
                        <Collections g={c.applied} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <section aria-labelledby="fw-owners">
            <h2 id="fw-owners">By owner</h2>
            {(v.owners ?? []).length === 0 && <p>No owner declares egress.</p>}
            <ul className="owners">
              {(v.owners ?? []).map((o) => (
                <li key={`${o.owner.kind}/${o.owner.id}`}>
                  <details>
                    <summary>
                      <OwnerName o={o.owner} />
                    </summary>
                    <pre className="log">{JSON.stringify(o.rules, null, 2)}</pre>
                  </details>
                </li>
              ))}
            </ul>
          </section>
        </>
      )}
    </>
  );
}

function OwnerName({ o }: { o: Owner }) {
  const label = `${o.name || o.id} (${o.resourceType || o.kind})`;
  return o.resourcePath ? <Link to={o.resourcePath}>{label}</Link> : <span>{label}</span>;
}

function Collections({ g }: { g?: Group }) {
  if (!g) return <span className="muted">absent</span>;
  return (
    <ul className="collections">
      {(g.collections ?? []).map((c) => (
        <li key={c.name}>
          <code>{c.name}</code> · {(c.application_rules ?? []).length + (c.network_rules ?? []).length} rules
          {c.unsupported && <span className="tag">{c.unsupported}</span>}
        </li>
      ))}
    </ul>
  );
}
