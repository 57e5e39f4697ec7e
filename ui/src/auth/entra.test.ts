// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";
import type { Config } from "../config";
import { authorizeURL, challengeOf, completeSignIn, refresh } from "./entra";
import { claimsOf } from "./session";

const cfg: Config = {
  authMode: "entra",
  clientId: "c1",
  tenantId: "t1",
  authority: "https://login.microsoftonline.com/",
  scope: "api://c1/user_impersonation",
};

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

describe("PKCE", () => {
  it("derives the challenge as RFC 7636's example does", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("asks Entra ID for a code, answered in the query string", async () => {
    const u = new URL(await authorizeURL(cfg, "#/workspaces", "https://tre.example/"));
    expect(u.origin + u.pathname).toBe("https://login.microsoftonline.com/t1/oauth2/v2.0/authorize");
    expect(Object.fromEntries(u.searchParams)).toMatchObject({
      client_id: "c1",
      response_type: "code",
      response_mode: "query",
      redirect_uri: "https://tre.example/",
      scope: "api://c1/user_impersonation openid profile offline_access",
      code_challenge_method: "S256",
    });
    const pending = JSON.parse(sessionStorage.getItem("tre.pkce")!);
    expect(u.searchParams.get("state")).toBe(pending.state);
    expect(u.searchParams.get("code_challenge")).toBe(await challengeOf(pending.verifier));
  });

  it("redeems the code with the verifier, once, and returns where the user was", async () => {
    await authorizeURL(cfg, "#/firewall", "https://tre.example/");
    const { state, verifier } = JSON.parse(sessionStorage.getItem("tre.pkce")!);
    const token = jwt({ oid: "u1", name: "Ada", roles: ["TREAdmin"], exp: 2_000_000_000 });
    const fetcher = vi.fn(async () => new Response(JSON.stringify({ access_token: token, expires_in: 3600, refresh_token: "rt" })));
    const done = await completeSignIn(
      cfg,
      new URL(`https://tre.example/?code=abc&state=${state}`),
      1_000_000_000_000,
      fetcher as unknown as typeof fetch,
      "https://tre.example/",
    );
    expect(done!.returnTo).toBe("#/firewall");
    expect(done!.session).toMatchObject({ mode: "entra", token, refreshToken: "rt", user: { id: "u1", name: "Ada", roles: ["TREAdmin"] } });
    const [url, init] = fetcher.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("https://login.microsoftonline.com/t1/oauth2/v2.0/token");
    expect(Object.fromEntries(init.body as URLSearchParams)).toMatchObject({
      grant_type: "authorization_code",
      code: "abc",
      code_verifier: verifier,
      client_id: "c1",
      redirect_uri: "https://tre.example/",
    });
    expect(sessionStorage.getItem("tre.pkce")).toBeNull();
  });

  it("refuses an answer to a sign-in it did not start", async () => {
    await authorizeURL(cfg, "", "https://tre.example/");
    const fetcher = vi.fn();
    await expect(
      completeSignIn(cfg, new URL("https://tre.example/?code=abc&state=forged"), 0, fetcher as unknown as typeof fetch),
    ).rejects.toThrow(/does not belong to a sign-in started from this page/);
    expect(fetcher).not.toHaveBeenCalled();
  });

  it("shows Entra ID's refusal", async () => {
    await expect(
      completeSignIn(cfg, new URL("https://tre.example/?error=access_denied&error_description=AADSTS50105%3A+not+assigned"), 0),
    ).rejects.toThrow("Entra ID did not sign you in: AADSTS50105: not assigned");
  });

  it("does nothing without an answer", async () => {
    expect(await completeSignIn(cfg, new URL("https://tre.example/#/workspaces"), 0)).toBeNull();
  });

  it("renews with the refresh token", async () => {
    const token = jwt({ oid: "u1", roles: [], exp: 2_000_000_000 });
    const fetcher = vi.fn(async () => new Response(JSON.stringify({ access_token: token, expires_in: 3600 })));
    const s = await refresh(
      cfg,
      { mode: "entra", token: "old", expiresAt: 0, refreshToken: "rt1", user: { id: "u1", name: "", roles: [] } },
      0,
      fetcher as unknown as typeof fetch,
    );
    expect(s.token).toBe(token);
    expect(s.refreshToken).toBe("rt1");
    const init = (fetcher.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect(Object.fromEntries(init.body as URLSearchParams)).toMatchObject({ grant_type: "refresh_token", refresh_token: "rt1" });
  });

  it("reads a token's claims, UTF-8 included", () => {
    expect(claimsOf(jwt({ name: "Zoë", roles: ["TREUser"] }))).toEqual({ name: "Zoë", roles: ["TREUser"] });
  });
});
