import { Client } from "../api/client";
import { sessionFromToken, type Session } from "./session";

interface DevToken {
  access_token: string;
  expires_in: number;
}

// devSignIn asks the handler's dev issuer for a token (POST /api/dev/token,
// answered on this machine only, while no Entra ID is configured).
export async function devSignIn(user: string, roles: string[], now = Date.now()): Promise<Session> {
  const c = new Client(() => undefined);
  const { data } = await c.call<DevToken>("POST", "/api/dev/token", { body: { user, roles } });
  const s = sessionFromToken("dev", data.access_token, data.expires_in, now);
  rememberDevName(s.user.id, user);
  return s;
}

// devUserID is the user id the dev issuer gives a name. The page remembers
// the names it looked up (for this tab), to show them beside the ids: the
// API knows dev users by id only.
export async function devUserID(name: string): Promise<string> {
  const c = new Client(() => undefined);
  const id = (await c.get<{ id: string }>(`/api/dev/users/${encodeURIComponent(name)}`)).id;
  rememberDevName(id, name);
  return id;
}

const namesKey = "tre.dev-names";

export function rememberDevName(id: string, name: string): void {
  const names = devNames();
  names[id] = name;
  sessionStorage.setItem(namesKey, JSON.stringify(names));
}

export function devNames(): Record<string, string> {
  try {
    return JSON.parse(sessionStorage.getItem(namesKey) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}
