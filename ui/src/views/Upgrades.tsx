import { useState } from "react";
import { apiURL } from "../api/client";
import type { Operation, Resource } from "../api/types";
import { Confirm, ErrorPanel, Link, Loading, StatusBadge } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";
import { inProgress } from "../status";
import { nameOf } from "./ResourceList";

// Upgrades is one view of what can be upgraded (AzureTRE #4723): every
// workspace and shared service with a newer template version, upgraded
// from here one at a time. Workspace services and user resources show
// their upgrades on their own pages (to the workspace's owners).
export function Upgrades() {
  const ws = useGet<{ workspaces: Resource[] }>("/api/workspaces");
  const ss = useGet<{ sharedServices: Resource[] }>("/api/shared-services");
  const all = [...(ws.data?.workspaces ?? []), ...(ss.data?.sharedServices ?? [])].filter(
    (r) => (r.availableUpgrades ?? []).length > 0,
  );
  const reload = () => {
    ws.reload();
    ss.reload();
  };
  // An upgraded resource leaves the list (its version changed): what was
  // started here stays listed, with its operation.
  const [started, setStarted] = useState<{ name: string; op: Operation }[]>([]);
  const onStarted = (r: Resource, op: Operation) => {
    setStarted((s) => [{ name: nameOf(r), op }, ...s]);
    reload();
  };
  return (
    <>
      <div className="page-head">
        <h1>Upgrades</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Workspaces and shared services whose template has a newer version. A major version needs a forced upgrade.
      </p>
      {started.length > 0 && (
        <section className="notice" aria-labelledby="started-title">
          <h2 id="started-title">Upgrades started</h2>
          <ul>
            {started.map((u) => (
              <li key={u.op.id}>
                {u.name}: <Link to={`${u.op.resourcePath}/operations/${u.op.id}`}>follow the operation</Link>
              </li>
            ))}
          </ul>
        </section>
      )}
      <ErrorPanel error={ws.error ?? ss.error} title="The resources could not be read" />
      {(ws.loading || ss.loading) && !(ws.data && ss.data) && <Loading what="resources" />}
      {ws.data && ss.data && all.length === 0 && <p>Everything is on its template's newest version.</p>}
      {all.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Resource</th>
                <th scope="col">Template</th>
                <th scope="col">Status</th>
                <th scope="col">Upgrade</th>
              </tr>
            </thead>
            <tbody>
              {all.map((r) => (
                <UpgradeRow key={r.id} r={r} onStarted={onStarted} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function UpgradeRow({ r, onStarted }: { r: Resource; onStarted: (r: Resource, op: Operation) => void }) {
  const { client } = useApp();
  const action = useAction();
  const ups = r.availableUpgrades ?? [];
  const [version, setVersion] = useState(ups[0]?.version ?? "");
  const [asking, setAsking] = useState(false);
  const chosen = ups.find((u) => u.version === version);
  const go = async () => {
    setAsking(false);
    const q = chosen?.forceUpdateRequired ? "?force_version_update=true" : "";
    const answer = await action.run(() =>
      client.call<{ operation: Operation }>("PATCH", apiURL(r.resourcePath) + q, { body: { templateVersion: version }, etag: r._etag }),
    );
    if (answer) onStarted(r, answer.data.operation);
  };
  return (
    <tr>
      <td>
        <Link to={r.resourcePath}>{nameOf(r)}</Link>
        <div className="muted small">{r.resourceType}</div>
      </td>
      <td>
        {r.templateName} {r.templateVersion}
      </td>
      <td>
        <StatusBadge status={r.deploymentStatus} enabled={r.isEnabled} />
      </td>
      <td>
        <label className="field inline">
          <span className="visually-hidden">Version for {nameOf(r)}</span>
          <select value={version} onChange={(e) => setVersion(e.target.value)}>
            {ups.map((u) => (
              <option key={u.version} value={u.version}>
                {u.version}
                {u.forceUpdateRequired ? " (major)" : ""}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={action.busy || inProgress(r.deploymentStatus)} onClick={() => setAsking(true)}>
          Upgrade
        </button>
        {asking && chosen && (
          <Confirm
            question={`Upgrade ${nameOf(r)} from ${r.templateVersion} to ${chosen.version}?${chosen.forceUpdateRequired ? " Major version: forced." : ""}`}
            confirmLabel="Upgrade"
            onConfirm={go}
            onCancel={() => setAsking(false)}
          />
        )}
        <ErrorPanel error={action.error} title="The upgrade was refused" onDismiss={action.clear} />
      </td>
    </tr>
  );
}
