// Statuses of resources, operations and steps (AzureTRE's values) and how
// the UI groups and names them.

export type Phase = "awaiting" | "running" | "succeeded" | "failed" | "unknown";

const phases: Record<string, Phase> = {
  awaiting_deployment: "awaiting",
  deploying: "running",
  deployed: "succeeded",
  deployment_failed: "failed",
  awaiting_update: "awaiting",
  updating: "running",
  updated: "succeeded",
  updating_failed: "failed",
  awaiting_deletion: "awaiting",
  deleting: "running",
  deleted: "succeeded",
  deleting_failed: "failed",
  awaiting_action: "awaiting",
  invoking_action: "running",
  action_succeeded: "succeeded",
  action_failed: "failed",
  pipeline_running: "running",
};

export function phaseOf(status: string | undefined): Phase {
  return (status && phases[status]) || "unknown";
}

export function isTerminal(status: string | undefined): boolean {
  const p = phaseOf(status);
  return p === "succeeded" || p === "failed";
}

export function inProgress(status: string | undefined): boolean {
  const p = phaseOf(status);
  return p === "awaiting" || p === "running";
}

// statusLabel is a status for people: "deployment_failed" -> "Deployment failed".
export function statusLabel(status: string | undefined): string {
  if (!status) return "Not deployed yet";
  const s = status.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// allStatuses are the values a status filter offers.
export const allStatuses = Object.keys(phases).filter((s) => s !== "pipeline_running");

// installed mirrors the API's rule (tre.Resource.Installed): the bundle is
// installed when an install succeeded and no uninstall has started since.
// Only installed resources hold children and run custom actions.
const installedStatuses = [
  "deployed",
  "awaiting_update",
  "updating",
  "updated",
  "updating_failed",
  "awaiting_action",
  "invoking_action",
  "action_succeeded",
  "action_failed",
];

export function installed(status: string | undefined): boolean {
  return !!status && installedStatuses.includes(status);
}
