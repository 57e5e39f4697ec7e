import { describe, expect, it, vi } from "vitest";
import { Client } from "./client";
import { SSEParser, watchOperation } from "./sse";
import type { Operation } from "./types";

describe("SSEParser", () => {
  it("splits events across chunks, skips comments, joins data lines", () => {
    const p = new SSEParser();
    expect(p.feed("id: e1\nevent: operation\ndata: {\"a\"")).toEqual([]);
    expect(p.feed(":1}\n\n: keep-alive\n\n")).toEqual([{ event: "operation", data: '{"a":1}', id: "e1" }]);
    expect(p.feed("data: one\r\ndata: two\r\n\r\nevent: end\ndata:{}\n\n")).toEqual([
      { event: "message", data: "one\ntwo", id: "e1" },
      { event: "end", data: "{}", id: "e1" },
    ]);
  });
});

const op = (status: string): Operation =>
  ({ id: "op1", status, steps: [], resourcePath: "/workspaces/w1", action: "install" }) as unknown as Operation;

function stream(chunks: string[], { hold = false } = {}): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      if (!hold) c.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const event = (o: Operation) => `event: operation\ndata: ${JSON.stringify(o)}\n\n`;

describe("watchOperation", () => {
  it("follows the stream until its end event: one request", async () => {
    const fetcher = vi.fn(async () => stream([event(op("deploying")), event(op("deployed")), 'event: end\ndata: {"status":"deployed"}\n\n']));
    const seen: string[] = [];
    const modes: string[] = [];
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/workspaces/w1/operations/op1",
      onUpdate: (o) => seen.push(o.status),
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
      fetcher: fetcher as unknown as typeof fetch,
    });
    expect(seen).toEqual(["deploying", "deployed"]);
    expect(modes).toEqual(["stream"]);
    expect(fetcher).toHaveBeenCalledTimes(1);
    const [url, init] = fetcher.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/workspaces/w1/operations/op1/events");
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("opens a new stream when the API ends one at its limit (reconnect)", async () => {
    const answers = [
      stream([event(op("deploying")), "event: reconnect\ndata: {}\n\n"]),
      stream([event(op("deployed")), 'event: end\ndata: {"status":"deployed"}\n\n']),
    ];
    const fetcher = vi.fn(async () => answers.shift()!);
    const seen: string[] = [];
    const modes: string[] = [];
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/workspaces/w1/operations/op1",
      onUpdate: (o) => seen.push(o.status),
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
      fetcher: fetcher as unknown as typeof fetch,
    });
    expect(seen).toEqual(["deploying", "deployed"]);
    expect(modes).toEqual(["stream", "stream"]);
    expect(fetcher).toHaveBeenCalledTimes(2);
  });

  it("polls when the stream is silent (a host that buffers it), until the operation ends", async () => {
    let polls = 0;
    const fetcher = vi.fn(async (url: string) => {
      if (url.endsWith("/events")) return stream([], { hold: true });
      polls++;
      return new Response(JSON.stringify({ operation: op(polls < 3 ? "deploying" : "deployed") }), {
        headers: { "Content-Type": "application/json" },
      });
    });
    const seen: string[] = [];
    const modes: string[] = [];
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/workspaces/w1/operations/op1",
      onUpdate: (o) => seen.push(o.status),
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
      fetcher: fetcher as unknown as typeof fetch,
      firstEventWithin: 20,
      pollEvery: 5,
    });
    expect(modes).toEqual(["stream", "poll"]);
    expect(seen).toEqual(["deploying", "deploying", "deployed"]);
    expect(polls).toBe(3);
  });

  it("polls when not even the stream's headers come (a host that buffers the whole answer)", async () => {
    let polls = 0;
    const fetcher = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith("/events")) {
        return new Promise<Response>((_, reject) =>
          init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
        );
      }
      polls++;
      return new Response(JSON.stringify({ operation: op("deployed") }), { headers: { "Content-Type": "application/json" } });
    });
    const modes: string[] = [];
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/workspaces/w1/operations/op1",
      onUpdate: vi.fn(),
      onMode: (m) => modes.push(m),
      signal: new AbortController().signal,
      fetcher: fetcher as unknown as typeof fetch,
      firstEventWithin: 20,
      pollEvery: 5,
    });
    expect(modes).toEqual(["poll"]);
    expect(polls).toBe(1);
  });

  it("stops at once when the page lets go of it", async () => {
    const ctl = new AbortController();
    const fetcher = vi.fn(async (_url: string, init?: RequestInit) => {
      ctl.abort();
      throw Object.assign(new DOMException("aborted", "AbortError"), { init });
    });
    const onUpdate = vi.fn();
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/x",
      onUpdate,
      signal: ctl.signal,
      fetcher: fetcher as unknown as typeof fetch,
    });
    expect(onUpdate).not.toHaveBeenCalled();
    expect(fetcher).toHaveBeenCalledTimes(1);
  });

  it("reports a refusal (404) instead of polling", async () => {
    const fetcher = vi.fn(
      async () =>
        new Response(JSON.stringify({ detail: "Operation does not exist", status: 404, requestId: "r1" }), {
          status: 404,
          headers: { "Content-Type": "application/problem+json" },
        }),
    );
    const onError = vi.fn();
    await watchOperation({
      client: new Client(() => "tok", undefined, fetcher as unknown as typeof fetch),
      operation: "/api/x",
      onUpdate: vi.fn(),
      onError,
      signal: new AbortController().signal,
      fetcher: fetcher as unknown as typeof fetch,
    });
    expect(onError.mock.calls[0]![0]).toMatchObject({ status: 404, detail: "Operation does not exist", requestId: "r1" });
    expect(fetcher).toHaveBeenCalledTimes(1);
  });
});
