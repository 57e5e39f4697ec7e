import { useEffect, useState } from "react";

// The page routes by the URL's fragment (#/workspaces/...): every view is
// the one page at /, which the handler serves without a catch-all route.
// A resource's route is its API resourcePath, so links and the API agree.

export interface ResourceRef {
  workspaceId?: string;
  serviceId?: string;
  userResourceId?: string;
  sharedServiceId?: string;
}

export type Route =
  | { view: "workspaces" }
  | { view: "create"; kind: "workspace" | "workspace-service" | "user-resource" | "shared-service"; parent: ResourceRef }
  | { view: "resource"; ref: ResourceRef; path: string; tab: ResourceTab }
  | { view: "operation"; ref: ResourceRef; path: string; operationId: string }
  | { view: "shared-services" }
  | { view: "templates"; kind?: string; parent?: string; name?: string }
  | { view: "operations" }
  | { view: "upgrades" }
  | { view: "firewall" }
  | { view: "dead-letters" }
  | { view: "health" }
  | { view: "not-found"; path: string };

export const resourceTabs = ["overview", "operations", "history", "users", "edit"] as const;
export type ResourceTab = (typeof resourceTabs)[number];

const simple: Record<string, Route> = {
  "": { view: "workspaces" },
  workspaces: { view: "workspaces" },
  "shared-services": { view: "shared-services" },
  operations: { view: "operations" },
  upgrades: { view: "upgrades" },
  firewall: { view: "firewall" },
  "dead-letters": { view: "dead-letters" },
  health: { view: "health" },
};

// parseRoute reads a fragment (with or without its leading #).
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").split("?")[0] ?? "";
  const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
  const joined = segs.join("/");
  if (joined in simple) return simple[joined]!;
  const notFound: Route = { view: "not-found", path };
  if (segs[0] === "templates") {
    // templates[/kind[/name]] or templates/user-resource/{parent}[/name]
    if (segs[1] === "user-resource") return { view: "templates", kind: segs[1], parent: segs[2], name: segs[3] };
    return { view: "templates", kind: segs[1], name: segs[2] };
  }
  let ref: ResourceRef = {};
  let rest: string[];
  if (segs[0] === "shared-services") {
    if (segs[1] === "new" && segs.length === 2) return { view: "create", kind: "shared-service", parent: {} };
    ref = { sharedServiceId: segs[1] };
    rest = segs.slice(2);
  } else if (segs[0] === "workspaces" && segs[1]) {
    if (segs[1] === "new" && segs.length === 2) return { view: "create", kind: "workspace", parent: {} };
    ref = { workspaceId: segs[1] };
    rest = segs.slice(2);
    if (rest[0] === "workspace-services" && rest[1]) {
      if (rest[1] === "new" && rest.length === 2) return { view: "create", kind: "workspace-service", parent: ref };
      ref = { ...ref, serviceId: rest[1] };
      rest = rest.slice(2);
      if (rest[0] === "user-resources" && rest[1]) {
        if (rest[1] === "new" && rest.length === 2) return { view: "create", kind: "user-resource", parent: ref };
        ref = { ...ref, userResourceId: rest[1] };
        rest = rest.slice(2);
      }
    }
  } else {
    return notFound;
  }
  const rpath = resourcePath(ref);
  if (rest.length === 0) return { view: "resource", ref, path: rpath, tab: "overview" };
  if (rest[0] === "operations" && rest.length === 2) return { view: "operation", ref, path: rpath, operationId: rest[1]! };
  if (rest.length === 1 && (resourceTabs as readonly string[]).includes(rest[0]!)) {
    return { view: "resource", ref, path: rpath, tab: rest[0] as ResourceTab };
  }
  return notFound;
}

// resourcePath is the API's resourcePath of a reference.
export function resourcePath(ref: ResourceRef): string {
  if (ref.sharedServiceId) return `/shared-services/${ref.sharedServiceId}`;
  let p = `/workspaces/${ref.workspaceId}`;
  if (ref.serviceId) p += `/workspace-services/${ref.serviceId}`;
  if (ref.userResourceId) p += `/user-resources/${ref.userResourceId}`;
  return p;
}

export function href(path: string): string {
  return `#${path.startsWith("/") ? path : `/${path}`}`;
}

export function navigate(path: string): void {
  window.location.hash = href(path);
}

// useRoute is the current route; it changes with the fragment.
export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parseRoute(hash);
}
