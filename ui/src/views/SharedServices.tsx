import type { Resource } from "../api/types";
import { ErrorPanel, Link, Loading } from "../components/common";
import { useApp } from "../context";
import { useGet } from "../hooks";
import { allowed } from "../permissions";
import { ResourceList } from "./ResourceList";

// SharedServices lists the TRE's shared services (TRE users see a
// restricted view of each); admins create them.
export function SharedServices() {
  const { session } = useApp();
  const caller = { id: session.user.id, roles: session.user.roles, workspaceRoles: [] };
  const list = useGet<{ sharedServices: Resource[] }>("/api/shared-services");
  return (
    <>
      <div className="page-head">
        <h1>Shared services</h1>
        {allowed("create", "shared-service", caller) && (
          <Link to="/shared-services/new" className="button primary">
            Create shared service
          </Link>
        )}
      </div>
      <ErrorPanel error={list.error} title="The shared services could not be read" />
      {list.loading && !list.data && <Loading what="shared services" />}
      {list.data && <ResourceList items={list.data.sharedServices} noun="shared service" empty={<p>No shared services.</p>} />}
    </>
  );
}
