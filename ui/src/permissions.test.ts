import { describe, expect, it } from "vitest";
import { allowed, type Action, type Caller } from "./permissions";
import type { ResourceType } from "./api/types";

// The matrix as internal/api/access_test.go writes it: one string per
// resource type and action, caller:allowed for admin (A), TRE user without
// workspace role (U), owner (O), researcher (R), airlock manager (M).
const callers: Record<string, Caller> = {
  A: { id: "a", roles: ["TREAdmin"], workspaceRoles: [] },
  U: { id: "u", roles: ["TREUser"], workspaceRoles: [] },
  O: { id: "o", roles: ["TREUser"], workspaceRoles: ["WorkspaceOwner"] },
  R: { id: "r", roles: ["TREUser"], workspaceRoles: ["WorkspaceResearcher"] },
  M: { id: "m", roles: ["TREUser"], workspaceRoles: ["AirlockManager"] },
};

const matrix: Record<ResourceType, Record<Action, string>> = {
  workspace: { list: "A U O R M", create: "A", update: "A", records: "A O", retry: "A", fail: "A" },
  "workspace-service": { list: "O R M", create: "O", update: "O", records: "O M", retry: "A O", fail: "A" },
  "user-resource": { list: "O R M", create: "O R M", update: "O R", records: "O R", retry: "A O R", fail: "A" },
  "shared-service": { list: "A U O R M", create: "A", update: "A", records: "A", retry: "A", fail: "A" },
};

describe("allowed", () => {
  for (const [type, actions] of Object.entries(matrix)) {
    for (const [action, who] of Object.entries(actions)) {
      it(`${type} ${action}: ${who}`, () => {
        // The user resource is the researcher's own, not the airlock manager's.
        const res = { ownerId: "r" };
        const got = Object.keys(callers).filter((k) => allowed(action as Action, type as ResourceType, callers[k]!, res));
        expect(got.join(" ")).toBe(who);
      });
    }
  }
});
