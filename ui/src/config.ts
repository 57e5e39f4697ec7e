// Config is what the handler writes into the page (internal/webui.Config).
export interface Config {
  authMode: "dev" | "entra";
  clientId?: string;
  tenantId?: string;
  authority?: string;
  scope?: string;
  version?: string;
}

// readConfig reads the page's tre-config element. Under `npm run dev`
// (Vite's server, no handler in front) it is empty: the dev issuer.
export function readConfig(doc: Document = document): Config {
  const el = doc.getElementById("tre-config");
  let raw: Partial<Config> = {};
  try {
    raw = JSON.parse(el?.textContent || "{}") as Partial<Config>;
  } catch {
    raw = {};
  }
  return { ...raw, authMode: raw.authMode === "entra" ? "entra" : "dev" };
}
