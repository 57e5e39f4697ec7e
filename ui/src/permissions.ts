import type { Resource, ResourceType } from "./api/types";

// Who may do what: the API's role matrix (internal/api: resources.go,
// operations_admin.go, templates.go), so that the page offers only what
// the caller may do. The API decides; the page only avoids offering a
// button whose answer would be 403.

export interface Caller {
  id: string;
  roles: string[]; // TRE roles, from the token
  workspaceRoles: string[]; // roles in the workspace in view, from its users
}

export type Action =
  | "list" // see the resources of this type (in the workspace or service in view)
  | "create"
  | "update" // update, enable/disable, upgrade, delete, custom actions
  | "records" // operations and history
  | "retry" // retry or cancel an operation
  | "fail"; // fail an operation in progress by hand

const admin = (c: Caller) => c.roles.includes("TREAdmin");
const treUser = (c: Caller) => c.roles.includes("TREUser") || admin(c);
const ws = (c: Caller, ...roles: string[]) => c.workspaceRoles.some((r) => roles.includes(r));
const member = (c: Caller) => ws(c, "WorkspaceOwner", "WorkspaceResearcher", "AirlockManager");
const owner = (c: Caller) => ws(c, "WorkspaceOwner");

// ownsOrOwner: user resources are their owner's; a workspace owner acts on all.
const ownsOrOwner = (c: Caller, r?: Pick<Resource, "ownerId">) => owner(c) || (member(c) && (!r || r.ownerId === c.id));

export function allowed(action: Action, type: ResourceType, c: Caller, r?: Pick<Resource, "ownerId">): boolean {
  if (action === "fail") return admin(c);
  switch (type) {
    case "workspace":
      if (action === "list") return treUser(c);
      if (action === "records") return admin(c) || owner(c);
      return admin(c); // create, update, retry
    case "workspace-service":
      if (action === "list") return member(c);
      if (action === "records") return owner(c) || ws(c, "AirlockManager");
      if (action === "retry") return owner(c) || admin(c);
      return owner(c);
    case "user-resource":
      if (action === "list" || action === "create") return member(c);
      if (action === "retry") return ownsOrOwner(c, r) || admin(c);
      return ownsOrOwner(c, r);
    case "shared-service":
      if (action === "list") return treUser(c);
      return admin(c);
  }
}

// canSeeWorkspaceUsers: the workspace's users and their roles.
export function canSeeWorkspaceUsers(c: Caller): boolean {
  return admin(c) || member(c);
}

// canAssignRoles: assigning workspace roles is the TRE admins'.
export function canAssignRoles(c: Caller): boolean {
  return admin(c);
}
