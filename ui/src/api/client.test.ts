import { describe, expect, it, vi } from "vitest";
import { ApiError, Client, apiURL, toApiError } from "./client";

describe("toApiError", () => {
  it("reads the API's problem+json: detail, fields, request id", async () => {
    const e = await toApiError(
      new Response(
        JSON.stringify({
          detail: "Invalid properties",
          code: "invalid",
          field: "properties.a",
          errors: [{ field: "properties.a", message: "a is required" }],
          requestId: "r-1",
        }),
        { status: 400, headers: { "Content-Type": "application/problem+json", "X-Request-Id": "r-1" } },
      ),
    );
    expect(e).toMatchObject({ status: 400, detail: "Invalid properties", code: "invalid", field: "properties.a", requestId: "r-1" });
    expect(e.errors).toEqual([{ field: "properties.a", message: "a is required" }]);
  });
  it("reads a plain text answer (AzureTRE's, or a proxy's) with the request id header", async () => {
    const e = await toApiError(new Response("Workspace does not exist", { status: 404, headers: { "X-Request-Id": "r-2" } }));
    expect(e).toMatchObject({ status: 404, detail: "Workspace does not exist", requestId: "r-2", errors: [] });
  });
  it("says something for an empty answer", async () => {
    const e = await toApiError(new Response(null, { status: 502, statusText: "Bad Gateway" }));
    expect(e.detail).toBe("502 Bad Gateway");
  });
});

describe("Client", () => {
  it("sends the token, JSON and If-Match, and reads Location", async () => {
    const fetcher = vi.fn(
      async () => new Response(JSON.stringify({ operation: { id: "o" } }), { status: 202, headers: { Location: "/api/x/operations/o" } }),
    );
    const c = new Client(() => "tok", undefined, fetcher as unknown as typeof fetch);
    const a = await c.call("PATCH", "/workspaces/w", { body: { isEnabled: false }, etag: "e1" });
    expect(a).toEqual({ data: { operation: { id: "o" } }, status: 202, location: "/api/x/operations/o" });
    const [url, init] = fetcher.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/workspaces/w");
    expect(init.headers).toMatchObject({ Authorization: "Bearer tok", "If-Match": "e1", "Content-Type": "application/json" });
    expect(init.body).toBe('{"isEnabled":false}');
  });
  it("tells the app when the API refuses the token", async () => {
    const onUnauthorized = vi.fn();
    const c = new Client(
      () => "old",
      onUnauthorized,
      (async () => new Response(JSON.stringify({ detail: "Expired token signature" }), { status: 401, headers: { "Content-Type": "application/problem+json" } })) as unknown as typeof fetch,
    );
    await expect(c.get("/api/workspaces")).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized.mock.calls[0]![0].detail).toBe("Expired token signature");
  });
  it("turns a network failure into an error the page can show", async () => {
    const c = new Client(() => "t", undefined, (async () => Promise.reject(new TypeError("Failed to fetch"))) as unknown as typeof fetch);
    await expect(c.get("/api/health")).rejects.toMatchObject({ status: 0, detail: "The API could not be reached: Failed to fetch" });
  });
  it("maps resource paths to the API", () => {
    expect(apiURL("/workspaces/w")).toBe("/api/workspaces/w");
    expect(apiURL("/api/health")).toBe("/api/health");
  });
});
