import { describe, expect, it } from "vitest";
import { parseRoute, resourcePath } from "./router";

const ws = "11111111-1111-4111-8111-111111111111";
const svc = "22222222-2222-4222-8222-222222222222";
const ur = "33333333-3333-4333-8333-333333333333";

describe("parseRoute", () => {
  it.each([
    ["", { view: "workspaces" }],
    ["#/", { view: "workspaces" }],
    ["#/firewall", { view: "firewall" }],
    ["#/workspaces/new", { view: "create", kind: "workspace", parent: {} }],
    ["#/shared-services/new", { view: "create", kind: "shared-service", parent: {} }],
    [`#/workspaces/${ws}`, { view: "resource", ref: { workspaceId: ws }, path: `/workspaces/${ws}`, tab: "overview" }],
    [`#/workspaces/${ws}/users`, { view: "resource", ref: { workspaceId: ws }, path: `/workspaces/${ws}`, tab: "users" }],
    [`#/workspaces/${ws}/workspace-services/new`, { view: "create", kind: "workspace-service", parent: { workspaceId: ws } }],
    [
      `#/workspaces/${ws}/workspace-services/${svc}/user-resources/new`,
      { view: "create", kind: "user-resource", parent: { workspaceId: ws, serviceId: svc } },
    ],
    [
      `#/workspaces/${ws}/workspace-services/${svc}/user-resources/${ur}/operations/op1`,
      {
        view: "operation",
        ref: { workspaceId: ws, serviceId: svc, userResourceId: ur },
        path: `/workspaces/${ws}/workspace-services/${svc}/user-resources/${ur}`,
        operationId: "op1",
      },
    ],
    [`#/shared-services/${svc}/history`, { view: "resource", ref: { sharedServiceId: svc }, path: `/shared-services/${svc}`, tab: "history" }],
    ["#/templates", { view: "templates", kind: undefined, name: undefined }],
    ["#/templates/workspace/tre-workspace-base", { view: "templates", kind: "workspace", name: "tre-workspace-base" }],
    ["#/templates/user-resource/svc-t/vm-t", { view: "templates", kind: "user-resource", parent: "svc-t", name: "vm-t" }],
  ])("%s", (hash, want) => {
    expect(parseRoute(hash)).toEqual(want);
  });

  it.each(["#/nowhere", `#/workspaces/${ws}/bogus`, `#/workspaces/${ws}/operations/a/b`])(
    "%s is not found",
    (hash) => {
      expect(parseRoute(hash).view).toBe("not-found");
    },
  );

  it("a resource's route is its API resourcePath", () => {
    expect(resourcePath({ workspaceId: ws, serviceId: svc })).toBe(`/workspaces/${ws}/workspace-services/${svc}`);
    expect(resourcePath({ sharedServiceId: svc })).toBe(`/shared-services/${svc}`);
  });
});
