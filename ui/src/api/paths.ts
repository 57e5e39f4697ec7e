import type { ResourceRef } from "../router";
import type { ResourceType } from "./types";

// Template routes per resource type (AzureTRE's).

export function templateBase(type: ResourceType, parentTemplate?: string): string {
  switch (type) {
    case "workspace":
      return "/api/workspace-templates";
    case "workspace-service":
      return "/api/workspace-service-templates";
    case "user-resource":
      return `/api/workspace-service-templates/${encodeURIComponent(parentTemplate ?? "")}/user-resource-templates`;
    case "shared-service":
      return "/api/shared-service-templates";
  }
}

// templateListPath lists the templates the caller may create from: in a
// workspace, the ones its roles there allow.
export function templateListPath(type: ResourceType, parent: ResourceRef, parentTemplate?: string): string {
  switch (type) {
    case "workspace-service":
      return `/api/workspaces/${parent.workspaceId}/workspace-service-templates`;
    case "user-resource":
      return `/api/workspaces/${parent.workspaceId}/workspace-service-templates/${encodeURIComponent(parentTemplate ?? "")}/user-resource-templates`;
    default:
      return templateBase(type);
  }
}

export function templatePath(type: ResourceType, name: string, parentTemplate?: string): string {
  return `${templateBase(type, parentTemplate)}/${encodeURIComponent(name)}`;
}

// collectionPath is where resources of the type are created.
export function collectionPath(type: ResourceType, parent: ResourceRef): string {
  switch (type) {
    case "workspace":
      return "/api/workspaces";
    case "workspace-service":
      return `/api/workspaces/${parent.workspaceId}/workspace-services`;
    case "user-resource":
      return `/api/workspaces/${parent.workspaceId}/workspace-services/${parent.serviceId}/user-resources`;
    case "shared-service":
      return "/api/shared-services";
  }
}

export const typeNoun: Record<ResourceType, string> = {
  workspace: "workspace",
  "workspace-service": "workspace service",
  "user-resource": "user resource",
  "shared-service": "shared service",
};

// singleKey is the JSON member of one resource in a GET answer.
export const singleKey: Record<ResourceType, string> = {
  workspace: "workspace",
  "workspace-service": "workspaceService",
  "user-resource": "userResource",
  "shared-service": "sharedService",
};
