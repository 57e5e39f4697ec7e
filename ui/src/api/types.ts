// The API's payloads (AzureTRE's shapes, plus our additions), as the UI
// reads them. Only the members the UI uses are typed.

export type ResourceType = "workspace" | "workspace-service" | "user-resource" | "shared-service";

export interface User {
  id: string;
  name?: string;
  email?: string;
  roles?: string[];
}

export interface AvailableUpgrade {
  version: string;
  forceUpdateRequired: boolean;
}

export interface Resource {
  id: string;
  templateName: string;
  templateVersion: string;
  properties: Record<string, unknown>;
  availableUpgrades?: AvailableUpgrade[] | null;
  isEnabled: boolean;
  resourceType: ResourceType;
  deploymentStatus: string;
  _etag?: string;
  resourcePath: string;
  resourceVersion: number;
  user?: User;
  updatedWhen: number;
  workspaceId?: string;
  parentWorkspaceServiceId?: string;
  ownerId?: string;
}

export interface OperationStep {
  id: string;
  templateStepId: string;
  stepTitle: string;
  resourceId: string;
  resourceTemplateName: string;
  resourceType: ResourceType | string;
  resourceAction: string;
  status: string;
  message: string;
  updatedWhen: number;
  sourceTemplateResourceId?: string;
  dispatchedWhen?: number;
  attempt?: number;
  startedWhen?: number;
  heartbeatWhen?: number;
  agent?: string;
  logTail?: string;
  cancelRequested?: { when?: number; by?: User } | null;
  kind?: string;
}

export interface OperationAttempt {
  number: number;
  startedWhen: number;
  startedBy: User;
  fromStep: number;
  endedWhen?: number;
  outcome?: string;
  message?: string;
}

export interface Operation {
  id: string;
  resourceId: string;
  resourcePath: string;
  resourceVersion: number;
  status: string;
  action: string;
  message: string;
  createdWhen: number;
  updatedWhen: number;
  user: User;
  steps: OperationStep[];
  _etag?: string;
  attempts?: OperationAttempt[];
}

export interface HistoryItem {
  id: string;
  resourceId: string;
  properties: Record<string, unknown>;
  isEnabled: boolean;
  resourceVersion: number;
  updatedWhen: number;
  user: User;
  templateVersion: string;
}

export interface TemplateInfo {
  name: string;
  version?: string;
  title: string;
  description: string;
  authorizedRoles?: string[];
}

export interface CustomAction {
  name: string;
  description?: string;
}

// JSONSchema is a JSON Schema document or fragment; the form library reads
// the keywords, the UI a few of them (title, sensitive, updateable).
export type JSONSchema = Record<string, unknown>;

export interface Template extends JSONSchema {
  id: string;
  name: string;
  title: string;
  description: string;
  version: string;
  resourceType: ResourceType;
  current: boolean;
  deprecated?: boolean;
  type: "object";
  required?: string[];
  properties: Record<string, JSONSchema>;
  allOf?: JSONSchema[];
  uiSchema?: Record<string, unknown>;
  customActions?: CustomAction[];
  authorizedRoles?: string[];
}

export interface TemplateVersion {
  version: string;
  current: boolean;
  deprecated: boolean;
  deprecationReason?: string;
  registeredWhen?: number;
  registeredBy?: string;
  customActions?: CustomAction[];
}

export interface Role {
  id: string;
  displayName: string;
}

export interface WorkspaceUser {
  id: string;
  displayName?: string;
  userPrincipalName?: string;
  email?: string;
  roles: Role[];
}

export interface ServiceStatus {
  service: string;
  status: string;
  message: string;
}

export interface DeadLetter {
  queue: string;
  id: string;
  messageId: string;
  sessionId: string;
  reason: string;
  description?: string;
  deliveryCount: number;
  operationId?: string;
  stepId?: string;
  resourceId?: string;
  deadLetteredAt?: number;
  body: string;
}

export interface FieldError {
  field: string;
  message: string;
}
