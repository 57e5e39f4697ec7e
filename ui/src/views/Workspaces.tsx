import type { Resource } from "../api/types";
import { ErrorPanel, Link, Loading } from "../components/common";
import { useApp } from "../context";
import { useGet } from "../hooks";
import { allowed } from "../permissions";
import { ResourceList } from "./ResourceList";

export function Workspaces() {
  const { session } = useApp();
  const list = useGet<{ workspaces: Resource[] }>("/api/workspaces");
  const caller = { id: session.user.id, roles: session.user.roles, workspaceRoles: [] };
  return (
    <>
      <div className="page-head">
        <h1>Workspaces</h1>
        {allowed("create", "workspace", caller) && (
          <Link to="/workspaces/new" className="button primary">
            Create workspace
          </Link>
        )}
      </div>
      <ErrorPanel error={list.error} title="The workspaces could not be read" />
      {list.loading && !list.data && <Loading what="workspaces" />}
      {list.data && (
        <ResourceList
          items={list.data.workspaces}
          noun="workspace"
          empty={
            allowed("create", "workspace", caller) ? (
              <p>No workspaces yet. Create one from a workspace template.</p>
            ) : (
              <p>You have no role in any workspace yet. A TRE admin gives you one in the workspace's Users.</p>
            )
          }
        />
      )}
    </>
  );
}
