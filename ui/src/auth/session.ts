// A Session is the signed-in user: the API token and what its claims say.
export interface Session {
  mode: "dev" | "entra";
  token: string;
  expiresAt: number; // ms since the epoch
  refreshToken?: string;
  user: { id: string; name: string; roles: string[] };
}

const key = "tre.session";

export interface Claims {
  oid?: string;
  sub?: string;
  name?: string;
  preferred_username?: string;
  roles?: string[];
  exp?: number;
}

// claimsOf reads a JWT's payload. The API validates the token; the page
// only reads who it names and which TRE roles it carries.
export function claimsOf(token: string): Claims {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Claims;
}

export function sessionFromToken(
  mode: Session["mode"],
  token: string,
  expiresIn: number,
  now: number,
  refreshToken?: string,
): Session {
  const c = claimsOf(token);
  const exp = c.exp ? c.exp * 1000 : now + expiresIn * 1000;
  return {
    mode,
    token,
    refreshToken,
    expiresAt: Math.min(exp, now + expiresIn * 1000),
    user: { id: c.oid ?? c.sub ?? "", name: c.name ?? c.preferred_username ?? "", roles: c.roles ?? [] },
  };
}

// The session lives in sessionStorage: one per tab, gone with the tab.
export function saveSession(s: Session | null, store: Storage = sessionStorage): void {
  if (s) store.setItem(key, JSON.stringify(s));
  else store.removeItem(key);
}

export function loadSession(now: number, store: Storage = sessionStorage): Session | null {
  try {
    const s = JSON.parse(store.getItem(key) ?? "null") as Session | null;
    if (!s || typeof s.token !== "string") return null;
    if (s.expiresAt <= now && !s.refreshToken) return null;
    return s;
  } catch {
    return null;
  }
}

export function isAdmin(s: Session | null): boolean {
  return !!s?.user.roles.includes("TREAdmin");
}
