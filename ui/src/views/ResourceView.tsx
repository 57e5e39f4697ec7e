import { Suspense, lazy, useCallback, useMemo, useRef, useState } from "react";
import { singleKey, typeNoun } from "../api/paths";
import type { Operation, Resource, ResourceType, WorkspaceUser } from "../api/types";
import { ErrorPanel, Link, Loading, PropertyList, StatusBadge, Tabs } from "../components/common";
import { OperationView } from "../components/OperationView";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";
import { allowed, canSeeWorkspaceUsers, type Caller } from "../permissions";
import { href, resourcePath, type ResourceRef, type ResourceTab } from "../router";
import { inProgress, installed } from "../status";
import { ResourceActions } from "./ResourceActions";
import { ResourceList, nameOf } from "./ResourceList";
import { HistoryTab, OperationsTab } from "./Records";
import { UsersTab } from "./Users";

// The update form (and its form library) loads when first opened.
const EditResource = lazy(() => import("./EditResource").then((m) => ({ default: m.EditResource })));

export function typeOf(ref: ResourceRef): ResourceType {
  if (ref.sharedServiceId) return "shared-service";
  if (ref.userResourceId) return "user-resource";
  if (ref.serviceId) return "workspace-service";
  return "workspace";
}

// useCaller is the signed-in user with their roles in the workspace of ref
// (from the workspace's users; none outside a workspace).
export function useCaller(ref: ResourceRef): { caller: Caller; loading: boolean; reload: () => void } {
  const { session } = useApp();
  const users = useGet<{ users: WorkspaceUser[] }>(ref.workspaceId ? `/api/workspaces/${ref.workspaceId}/users` : null);
  const caller = useMemo(() => {
    const me = users.data?.users.find((u) => u.id === session.user.id);
    return { id: session.user.id, roles: session.user.roles, workspaceRoles: me?.roles.map((r) => r.id) ?? [] };
  }, [users.data, session.user]);
  return { caller, loading: users.loading, reload: users.reload };
}

// ResourceView is the page of a workspace, workspace service, user
// resource or shared service: its status, properties and what the caller
// may do with it, its children, operations, history and (workspaces) users.
export function ResourceView({ refTo, path, tab }: { refTo: ResourceRef; path: string; tab: ResourceTab }) {
  const type = typeOf(refTo);
  const res = useGet<Record<string, Resource>>(`/api${path}`);
  const { caller, reload: reloadCaller } = useCaller(refTo);
  // A deleted resource is gone from the API (404), but the page keeps what
  // it knew, to show the end of the operation that deleted it.
  const known = useRef<Resource>(undefined);
  if (res.data?.[singleKey[type]]) known.current = res.data[singleKey[type]];
  const gone = res.error?.status === 404 && !!known.current;
  const resource = gone ? known.current : res.data?.[singleKey[type]];
  const canRecords = allowed("records", type, caller, resource);
  const ops = useGet<{ operations: Operation[] }>(canRecords ? `/api${path}/operations` : null);
  const [started, setStarted] = useState<Operation>();

  const latest = useMemo(() => {
    if (started) return started;
    const list = [...(ops.data?.operations ?? [])].sort((a, b) => b.createdWhen - a.createdWhen);
    return list[0];
  }, [ops.data, started]);

  const reload = useCallback(() => {
    res.reload();
    ops.reload();
  }, [res, ops]);

  if (gone && resource) {
    return (
      <>
        <Breadcrumbs refTo={refTo} name={nameOf(resource)} />
        <div className="page-head">
          <h1>{nameOf(resource)}</h1>
          <StatusBadge status="deleted" />
        </div>
        <p className="notice" role="status">
          This {typeNoun[type]} has been deleted. Its operations and history stay readable through the API.
        </p>
        {latest && (
          <section className="panel" aria-label="Latest operation">
            <OperationView key={latest.id} path={`${latest.resourcePath}/operations/${latest.id}`} initial={latest} compact canRetry={false} canFail={false} />
          </section>
        )}
      </>
    );
  }
  if (res.error && !resource) return <ErrorPanel error={res.error} title={`The ${typeNoun[type]} could not be read`} />;
  if (!resource) return <Loading what={`the ${typeNoun[type]}`} />;

  const tabs = [{ id: "overview", label: "Overview" }];
  if (canRecords) tabs.push({ id: "operations", label: "Operations" }, { id: "history", label: "History" });
  if (type === "workspace" && canSeeWorkspaceUsers(caller)) tabs.push({ id: "users", label: "Users" });
  if (allowed("update", type, caller, resource)) tabs.push({ id: "edit", label: "Update" });

  const onStarted = (op: Operation) => {
    setStarted(op);
    res.reload();
  };

  return (
    <>
      <Breadcrumbs refTo={refTo} name={nameOf(resource)} />
      <div className="page-head">
        <h1>{nameOf(resource)}</h1>
        <StatusBadge status={resource.deploymentStatus} enabled={resource.isEnabled} />
      </div>
      <p className="muted">
        {typeNoun[type]} · {resource.templateName} {resource.templateVersion} · <code>{resource.id}</code>
      </p>
      {typeof resource.properties.description === "string" && <p>{resource.properties.description}</p>}
      <ResourceActions type={type} resource={resource} caller={caller} onStarted={onStarted} />
      {latest && canRecords && (
        <section className="panel" aria-label="Latest operation">
          <OperationView
            key={latest.id}
            path={`${latest.resourcePath}/operations/${latest.id}`}
            initial={latest}
            compact
            canRetry={allowed("retry", type, caller, resource)}
            canFail={allowed("fail", type, caller)}
            onStatus={res.reload}
            onEnd={reload}
          />
        </section>
      )}
      {!canRecords && inProgress(resource.deploymentStatus) && (
        <p className="notice" role="status">
          An operation is in progress; its steps are shown to those who may read this {typeNoun[type]}'s operations.{" "}
          <button type="button" className="link-button" onClick={res.reload}>
            Refresh
          </button>
        </p>
      )}
      <Tabs tabs={tabs} current={tab} base={path} />
      {tab === "overview" && (
        <>
          <Children type={type} refTo={refTo} resource={resource} caller={caller} onRoleChanged={reloadCaller} />
          <section aria-labelledby="props-title">
            <h2 id="props-title">Properties</h2>
            <PropertyList props={resource.properties} />
          </section>
        </>
      )}
      {tab === "operations" && canRecords && <OperationsTab path={path} />}
      {tab === "history" && canRecords && <HistoryTab path={path} />}
      {tab === "users" && type === "workspace" && <UsersTab workspace={resource} caller={caller} onChanged={reloadCaller} />}
      {tab === "edit" && (
        <Suspense fallback={<Loading what="the form" />}>
          <EditResource type={type} resource={resource} onStarted={onStarted} />
        </Suspense>
      )}
    </>
  );
}

function Breadcrumbs({ refTo, name }: { refTo: ResourceRef; name: string }) {
  const crumbs: { to: string; label: string }[] = [];
  if (refTo.sharedServiceId) crumbs.push({ to: "/shared-services", label: "Shared services" });
  else {
    crumbs.push({ to: "/workspaces", label: "Workspaces" });
    if (refTo.serviceId) crumbs.push({ to: resourcePath({ workspaceId: refTo.workspaceId }), label: "Workspace" });
    if (refTo.userResourceId) {
      crumbs.push({ to: resourcePath({ workspaceId: refTo.workspaceId, serviceId: refTo.serviceId }), label: "Service" });
    }
  }
  return (
    <nav aria-label="Breadcrumb" className="breadcrumbs">
      <ol>
        {crumbs.map((c) => (
          <li key={c.to}>
            <a href={href(c.to)}>{c.label}</a>
          </li>
        ))}
        <li aria-current="page">{name}</li>
      </ol>
    </nav>
  );
}

// Children lists a workspace's services or a service's user resources.
function Children({
  type,
  refTo,
  resource,
  caller,
  onRoleChanged,
}: {
  type: ResourceType;
  refTo: ResourceRef;
  resource: Resource;
  caller: Caller;
  onRoleChanged: () => void;
}) {
  if (type === "workspace") {
    return <ChildList kind="workspace-service" listPath={`/api${resourcePath(refTo)}/workspace-services`} listKey="workspaceServices" parent={resource} caller={caller} onRoleChanged={onRoleChanged} />;
  }
  if (type === "workspace-service") {
    return <ChildList kind="user-resource" listPath={`/api${resourcePath(refTo)}/user-resources`} listKey="userResources" parent={resource} caller={caller} onRoleChanged={onRoleChanged} />;
  }
  return null;
}

function ChildList({
  kind,
  listPath,
  listKey,
  parent,
  caller,
  onRoleChanged,
}: {
  kind: "workspace-service" | "user-resource";
  listPath: string;
  listKey: string;
  parent: Resource;
  caller: Caller;
  onRoleChanged: () => void;
}) {
  const { client, session } = useApp();
  const canList = allowed("list", kind, caller);
  const list = useGet<Record<string, Resource[]>>(canList ? listPath : null);
  const assign = useAction();
  const title = kind === "workspace-service" ? "Workspace services" : "User resources";
  // AzureTRE's UI, not its API, refuses children of a parent that is not
  // deployed; here the API refuses them too (deployed and enabled).
  const ready = installed(parent.deploymentStatus);
  const blocked = !parent.isEnabled ? "it is disabled" : !ready ? "it is not deployed" : "";
  const makeMeOwner = async () => {
    const ok = await assign.run(() =>
      client.call("POST", `/api/workspaces/${parent.id}/users/assign`, { body: { role_id: "WorkspaceOwner", user_ids: [session.user.id] } }),
    );
    if (ok) onRoleChanged();
  };
  return (
    <section aria-labelledby={`${kind}-title`}>
      <div className="section-head">
        <h2 id={`${kind}-title`}>{title}</h2>
        {allowed("create", kind, caller) &&
          (blocked ? (
            <span className="muted">New {typeNoun[kind]}s can be added once the {typeNoun[parent.resourceType]} is deployed and enabled: {blocked}.</span>
          ) : (
            <Link to={`${parent.resourcePath}/${kind === "workspace-service" ? "workspace-services" : "user-resources"}/new`} className="button primary">
              Add {typeNoun[kind]}
            </Link>
          ))}
      </div>
      {!canList && (
        <div className="notice">
          <p>
            {title} are shown to the workspace's members (owners, researchers, airlock managers). You have no role in this
            workspace.
          </p>
          {caller.roles.includes("TREAdmin") && kind === "workspace-service" && (
            <button type="button" onClick={makeMeOwner} disabled={assign.busy}>
              Make me a Workspace Owner
            </button>
          )}
          <ErrorPanel error={assign.error} title="The role could not be assigned" />
        </div>
      )}
      <ErrorPanel error={list.error} title={`The ${title.toLowerCase()} could not be read`} />
      {list.loading && !list.data && <Loading what={title.toLowerCase()} />}
      {list.data && <ResourceList items={list.data[listKey] ?? []} noun={typeNoun[kind]} empty={<p>No {typeNoun[kind]}s yet.</p>} />}
    </section>
  );
}
