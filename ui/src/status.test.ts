import { describe, expect, it } from "vitest";
import { inProgress, installed, isTerminal, phaseOf, statusLabel } from "./status";

describe("status", () => {
  it("groups statuses as AzureTRE's UI does", () => {
    expect(phaseOf("awaiting_deployment")).toBe("awaiting");
    expect(phaseOf("pipeline_running")).toBe("running");
    expect(isTerminal("deleting_failed")).toBe(true);
    expect(inProgress("invoking_action")).toBe(true);
    expect(phaseOf("something_new")).toBe("unknown");
    expect(statusLabel("deployment_failed")).toBe("Deployment failed");
    expect(statusLabel(undefined)).toBe("Not deployed yet");
  });
  it("knows when a bundle is installed (the API's rule for children and actions)", () => {
    expect(installed("action_succeeded")).toBe(true);
    expect(installed("updating_failed")).toBe(true);
    expect(installed("deployment_failed")).toBe(false);
    expect(installed("deleting")).toBe(false);
  });
});
