import { useState } from "react";
import type { Resource, Role, WorkspaceUser } from "../api/types";
import { devNames, devUserID } from "../auth/dev";
import { Confirm, ErrorPanel, Loading } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";
import { canAssignRoles, type Caller } from "../permissions";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// UsersTab lists a workspace's users and their roles; TRE admins assign
// and remove roles.
export function UsersTab({ workspace, caller, onChanged }: { workspace: Resource; caller: Caller; onChanged: () => void }) {
  const { client, config, session } = useApp();
  const users = useGet<{ users: WorkspaceUser[] }>(`/api/workspaces/${workspace.id}/users`);
  const admin = canAssignRoles(caller);
  const roles = useGet<{ roles: Role[] }>(admin ? `/api/workspaces/${workspace.id}/roles` : null);
  const action = useAction();
  const [who, setWho] = useState("");
  const [role, setRole] = useState("WorkspaceOwner");
  const [removing, setRemoving] = useState<{ user: WorkspaceUser; role: Role }>();
  const dev = config.authMode === "dev";

  const changed = () => {
    users.reload();
    onChanged();
  };
  const assign = async (e: React.FormEvent) => {
    e.preventDefault();
    const done = await action.run(async () => {
      const id = uuid.test(who.trim()) || !dev ? who.trim() : await devUserID(who.trim());
      return client.call("POST", `/api/workspaces/${workspace.id}/users/assign`, { body: { role_id: role, user_ids: [id] } });
    });
    if (done) {
      setWho("");
      changed();
    }
  };
  const remove = async () => {
    if (!removing) return;
    const q = new URLSearchParams({ user_id: removing.user.id, role_id: removing.role.id });
    const done = await action.run(() => client.call("DELETE", `/api/workspaces/${workspace.id}/users/assign?${q}`));
    setRemoving(undefined);
    if (done) changed();
  };

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <ErrorPanel error={users.error} title="The users could not be read" />
      {users.loading && !users.data && <Loading what="users" />}
      {users.data && users.data.users.length === 0 && <p>Nobody has a role in this workspace yet.</p>}
      {users.data && users.data.users.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">User id</th>
                <th scope="col">Roles</th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => (
                <tr key={u.id}>
                  <td>{userLabel(u, session.user.id, dev)}</td>
                  <td>
                    <code>{u.id}</code>
                  </td>
                  <td>
                    <ul className="role-list">
                      {u.roles.map((r) => (
                        <li key={r.id}>
                          {r.displayName}
                          {admin && (
                            <button
                              type="button"
                              className="link-button"
                              aria-label={`Remove ${r.displayName} from ${u.displayName || u.id}`}
                              onClick={() => setRemoving({ user: u, role: r })}
                            >
                              remove
                            </button>
                          )}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {removing && (
        <Confirm
          question={`Remove ${removing.role.displayName} from ${removing.user.displayName || removing.user.id}?`}
          confirmLabel="Remove role"
          danger
          onConfirm={remove}
          onCancel={() => setRemoving(undefined)}
        />
      )}
      {admin && (
        <form className="assign-form" onSubmit={assign} aria-labelledby="assign-title">
          <h3 id="assign-title">Assign a role</h3>
          <div className="field-block">
            <label className="field" htmlFor="assign-who">
              {dev ? "User name or user id" : "User id (object id in Entra ID)"}
            </label>
            <input id="assign-who" value={who} onChange={(e) => setWho(e.target.value)} required aria-describedby="who-help" />
            <span id="who-help" className="help">
              {dev ? "With the dev sign-in, a user name is turned into the id the dev issuer gives it." : "The user's object id (oid)."}
            </span>
          </div>
          <div className="field-block">
            <label className="field" htmlFor="assign-role">
              Role
            </label>
            <select id="assign-role" value={role} onChange={(e) => setRole(e.target.value)}>
              {(roles.data?.roles ?? [{ id: "WorkspaceOwner", displayName: "Workspace Owner" }]).map((r) => (
                <option key={r.id} value={r.id}>
                  {r.displayName}
                </option>
              ))}
            </select>
          </div>
          <div className="button-row">
            <button type="submit" className="primary" disabled={action.busy}>
              Assign
            </button>
          </div>
        </form>
      )}
      <ErrorPanel error={action.error} title="The role change was refused" onDismiss={action.clear} />
    </section>
  );
}

// userLabel names a user: as the API does, or (dev sign-in, where the API
// knows ids only) by the name this page looked up; "you" for oneself.
function userLabel(u: WorkspaceUser, me: string, dev: boolean): string {
  const known = dev ? devNames()[u.id] : undefined;
  const name = known ?? (u.displayName && u.displayName !== u.id ? u.displayName : u.userPrincipalName !== u.id ? u.userPrincipalName : "");
  const label = name || "—";
  return u.id === me ? `${label} (you)` : label;
}
