import { afterEach } from "vitest";

// Component tests (jsdom) start from a clean page and session.
afterEach(async () => {
  if (typeof window === "undefined") return;
  const { cleanup } = await import("@testing-library/react");
  cleanup();
  sessionStorage.clear();
  window.location.hash = "";
});
