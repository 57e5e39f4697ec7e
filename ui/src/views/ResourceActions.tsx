import { useState } from "react";
import { apiURL } from "../api/client";
import { templatePath, typeNoun } from "../api/paths";
import type { Operation, Resource, ResourceType, Template } from "../api/types";
import { Confirm, ErrorPanel } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";
import { allowed, type Caller } from "../permissions";
import { inProgress, installed } from "../status";

// ResourceActions are the buttons of a resource the caller may act on:
// enable or disable, delete (once disabled), the template's custom actions
// and an upgrade to a newer template version.
export function ResourceActions({
  type,
  resource,
  caller,
  onStarted,
}: {
  type: ResourceType;
  resource: Resource;
  caller: Caller;
  onStarted: (op: Operation) => void;
}) {
  const { client } = useApp();
  const action = useAction();
  const [confirm, setConfirm] = useState<"delete" | "disable" | "upgrade">();
  const [version, setVersion] = useState("");
  const parentTemplate = useParentTemplate(type, resource);
  const tplPath =
    type !== "user-resource" || parentTemplate
      ? `${templatePath(type, resource.templateName, parentTemplate)}?version=${encodeURIComponent(resource.templateVersion)}`
      : null;
  const may = allowed("update", type, caller, resource);
  const tpl = useGet<Template>(may ? tplPath : null);
  if (!may) return null;

  const busy = action.busy || inProgress(resource.deploymentStatus);
  const run = async (method: string, suffix: string, body?: unknown, query = "") => {
    const answer = await action.run(() =>
      client.call<{ operation: Operation }>(method, `${apiURL(resource.resourcePath)}${suffix}${query}`, { body, etag: resource._etag }),
    );
    setConfirm(undefined);
    if (answer) onStarted(answer.data.operation);
  };
  const upgrades = resource.availableUpgrades ?? [];
  const chosen = upgrades.find((u) => u.version === version);
  const noun = typeNoun[type];

  return (
    <section className="actions" aria-label="Actions">
      <div className="button-row">
        {resource.isEnabled ? (
          <button type="button" disabled={busy} onClick={() => setConfirm("disable")}>
            Disable
          </button>
        ) : (
          <button type="button" disabled={busy} onClick={() => run("PATCH", "", { isEnabled: true })}>
            Enable
          </button>
        )}
        <button
          type="button"
          className="danger"
          disabled={busy || resource.isEnabled}
          title={resource.isEnabled ? `Disable the ${noun} first` : undefined}
          onClick={() => setConfirm("delete")}
        >
          Delete
        </button>
        {(tpl.data?.customActions ?? []).map((a) => (
          <button
            type="button"
            key={a.name}
            disabled={busy || !resource.isEnabled || !installed(resource.deploymentStatus)}
            title={a.description}
            onClick={() => run("POST", "/invoke-action", undefined, `?action=${encodeURIComponent(a.name)}`)}
          >
            {a.name}
          </button>
        ))}
        {upgrades.length > 0 && (
          <span className="upgrade">
            <label className="field inline">
              Upgrade to
              <select value={version} onChange={(e) => setVersion(e.target.value)}>
                <option value="">choose a version</option>
                {upgrades.map((u) => (
                  <option key={u.version} value={u.version}>
                    {u.version}
                    {u.forceUpdateRequired ? " (major: forced)" : ""}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" disabled={busy || !chosen} onClick={() => setConfirm("upgrade")}>
              Upgrade
            </button>
          </span>
        )}
      </div>
      {resource.isEnabled && <p className="muted small">A {noun} must be disabled before it can be deleted.</p>}
      {confirm === "disable" && (
        <Confirm
          question={`Disable this ${noun}${type === "workspace" || type === "workspace-service" ? " and everything in it" : ""}? Its bundle runs an update.`}
          confirmLabel="Disable"
          onConfirm={() => run("PATCH", "", { isEnabled: false })}
          onCancel={() => setConfirm(undefined)}
        />
      )}
      {confirm === "delete" && (
        <Confirm
          question={`Delete this ${noun}${type === "workspace" || type === "workspace-service" ? " and everything in it" : ""}? Its bundle uninstalls it; this cannot be undone.`}
          confirmLabel="Delete"
          danger
          onConfirm={() => run("DELETE", "")}
          onCancel={() => setConfirm(undefined)}
        />
      )}
      {confirm === "upgrade" && chosen && (
        <Confirm
          question={`Upgrade from ${resource.templateVersion} to ${chosen.version}?${chosen.forceUpdateRequired ? " This is a major version: the upgrade is forced." : ""}`}
          confirmLabel="Upgrade"
          onConfirm={() =>
            run("PATCH", "", { templateVersion: chosen.version }, chosen.forceUpdateRequired ? "?force_version_update=true" : "")
          }
          onCancel={() => setConfirm(undefined)}
        />
      )}
      <ErrorPanel error={action.error} title="The action was refused" onDismiss={action.clear} />
      <ErrorPanel error={tpl.error} title="The template's custom actions could not be read" />
    </section>
  );
}

// useParentTemplate is the template name of a user resource's service.
export function useParentTemplate(type: ResourceType, resource: Resource): string | undefined {
  const svc = useGet<{ workspaceService: Resource }>(
    type === "user-resource" ? `/api/workspaces/${resource.workspaceId}/workspace-services/${resource.parentWorkspaceServiceId}` : null,
  );
  return svc.data?.workspaceService.templateName;
}
