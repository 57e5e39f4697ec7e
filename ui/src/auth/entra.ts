import type { Config } from "../config";
import { sessionFromToken, type Session } from "./session";

// Sign-in with Entra ID: the authorization code flow with PKCE (RFC 7636),
// as a public client (the API's app registration, with this page's origin
// as a single-page-application redirect URI). The code comes back in the
// query string, which leaves the fragment to the page's routes.

const pendingKey = "tre.pkce";

interface Pending {
  verifier: string;
  state: string;
  returnTo: string;
}

interface TokenAnswer {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  error?: string;
  error_description?: string;
}

export function redirectURI(loc: Location = window.location): string {
  return `${loc.origin}/`;
}

function base(cfg: Config): string {
  if (!cfg.authority || !cfg.tenantId || !cfg.clientId || !cfg.scope) {
    throw new Error("The page lacks its Entra ID settings (client id, tenant, authority, scope): check the handler's AAD_* settings");
  }
  return `${cfg.authority.replace(/\/+$/, "")}/${encodeURIComponent(cfg.tenantId)}/oauth2/v2.0`;
}

function scopes(cfg: Config): string {
  return `${cfg.scope} openid profile offline_access`;
}

export function base64url(bytes: Uint8Array): string {
  let s = "";
  bytes.forEach((b) => (s += String.fromCharCode(b)));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function random(n: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// authorizeURL starts a sign-in: it remembers the verifier and state in
// sessionStorage and returns the URL to send the browser to.
export async function authorizeURL(cfg: Config, returnTo: string, redirect = redirectURI()): Promise<string> {
  const pending: Pending = { verifier: random(32), state: random(16), returnTo };
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const q = new URLSearchParams({
    client_id: cfg.clientId ?? "",
    response_type: "code",
    redirect_uri: redirect,
    response_mode: "query",
    scope: scopes(cfg),
    state: pending.state,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  });
  return `${base(cfg)}/authorize?${q}`;
}

// completeSignIn finishes a sign-in when the page was opened with Entra
// ID's answer (?code=&state=, or ?error=): it redeems the code and returns
// the session and where to go back to. It returns null when the URL holds
// no answer.
export async function completeSignIn(
  cfg: Config,
  url: URL,
  now = Date.now(),
  fetcher: typeof fetch = (...a) => fetch(...a),
  redirect = redirectURI(),
): Promise<{ session: Session; returnTo: string } | null> {
  const code = url.searchParams.get("code");
  const error = url.searchParams.get("error");
  if (!code && !error) return null;
  const raw = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey);
  if (error) {
    throw new Error(`Entra ID did not sign you in: ${url.searchParams.get("error_description") || error}`);
  }
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  if (!pending || pending.state !== url.searchParams.get("state")) {
    throw new Error("This sign-in answer does not belong to a sign-in started from this page: sign in again.");
  }
  const answer = await tokenRequest(cfg, fetcher, {
    grant_type: "authorization_code",
    code: code ?? "",
    redirect_uri: redirect,
    code_verifier: pending.verifier,
  });
  return {
    session: sessionFromToken("entra", answer.access_token ?? "", answer.expires_in ?? 3600, now, answer.refresh_token),
    returnTo: pending.returnTo,
  };
}

// refresh gets a new access token with the session's refresh token.
export async function refresh(
  cfg: Config,
  s: Session,
  now = Date.now(),
  fetcher: typeof fetch = (...a) => fetch(...a),
): Promise<Session> {
  if (!s.refreshToken) throw new Error("The session has expired: sign in again.");
  const answer = await tokenRequest(cfg, fetcher, { grant_type: "refresh_token", refresh_token: s.refreshToken });
  return sessionFromToken("entra", answer.access_token ?? "", answer.expires_in ?? 3600, now, answer.refresh_token ?? s.refreshToken);
}

async function tokenRequest(cfg: Config, fetcher: typeof fetch, params: Record<string, string>): Promise<TokenAnswer> {
  const body = new URLSearchParams({ client_id: cfg.clientId ?? "", scope: scopes(cfg), ...params });
  const resp = await fetcher(`${base(cfg)}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  const answer = (await resp.json().catch(() => ({}))) as TokenAnswer;
  if (!resp.ok || !answer.access_token) {
    throw new Error(`Entra ID refused the token request: ${answer.error_description || answer.error || resp.status}`);
  }
  return answer;
}

// signOutURL ends the Entra ID session too, and comes back to the page.
export function signOutURL(cfg: Config, redirect = redirectURI()): string {
  return `${base(cfg)}/logout?post_logout_redirect_uri=${encodeURIComponent(redirect)}`;
}
