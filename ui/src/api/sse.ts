import { ApiError, apiURL, toApiError, type Client } from "./client";
import type { Operation } from "./types";
import { isTerminal } from "../status";

export interface SSEvent {
  event: string;
  data: string;
  id?: string;
}

// SSEParser splits a Server-Sent Events stream into events, chunk by chunk
// (a chunk may end anywhere, even inside a line).
export class SSEParser {
  private buf = "";
  private event = "";
  private data: string[] = [];
  private id?: string;

  feed(chunk: string): SSEvent[] {
    this.buf += chunk;
    const out: SSEvent[] = [];
    for (;;) {
      const nl = this.buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(this.buf.startsWith("\r\n", nl) ? nl + 2 : nl + 1);
      if (line === "") {
        if (this.data.length > 0) out.push({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
      else if (field === "id") this.id = value;
    }
    return out;
  }
}

export interface WatchOptions {
  client: Client;
  // operation is the operation's API path: /api/workspaces/{id}/operations/{op}.
  operation: string;
  onUpdate: (op: Operation) => void;
  onError?: (e: ApiError) => void;
  // onMode tells whether updates stream or are polled.
  onMode?: (mode: "stream" | "poll") => void;
  signal: AbortSignal;
  // firstEventWithin: the stream's first event comes at once; a stream
  // that is silent longer is buffered by something on the way (the
  // Functions host when it only forwards), and polling takes over.
  firstEventWithin?: number;
  pollEvery?: number;
  fetcher?: typeof fetch;
}

// watchOperation follows an operation until it ends or signal aborts: one
// Server-Sent Events stream (the API's /events route), or polling every
// pollEvery where the stream cannot come through.
// A stream ends at the API's limit (the Functions host cuts an HTTP
// invocation after a few minutes) with a reconnect event: a new stream
// follows on.
export async function watchOperation(o: WatchOptions): Promise<void> {
  let streamed: "ended" | "fallback" | "reconnect" = "reconnect";
  while (streamed === "reconnect" && !o.signal.aborted) {
    streamed = await stream(o).catch((e: unknown) => {
      if (o.signal.aborted) return "ended" as const;
      if (e instanceof ApiError && e.status !== 0 && e.status < 500) {
        o.onError?.(e);
        return "ended" as const;
      }
      return "fallback" as const;
    });
  }
  if (streamed === "ended" || o.signal.aborted) return;
  o.onMode?.("poll");
  await poll(o);
}

async function stream(o: WatchOptions): Promise<"ended" | "fallback" | "reconnect"> {
  const fetcher = o.fetcher ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const ctl = new AbortController();
  let reader: ReadableStreamDefaultReader<string> | undefined;
  // stop ends the request and the reading of its body, whichever is under way.
  const stop = () => {
    ctl.abort();
    reader?.cancel().catch(() => undefined);
  };
  o.signal.addEventListener("abort", stop);
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  const tok = o.client.bearer();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  // The first event comes at once. A host that buffers answers (the
  // Functions host when it only forwards) sends nothing, not even the
  // headers, until the stream ends: silence means polling takes over.
  const silent = setTimeout(stop, o.firstEventWithin ?? 4000);
  try {
    let resp: Response;
    try {
      resp = await fetcher(apiURL(o.operation) + "/events", { headers, signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted && !o.signal.aborted) return "fallback";
      throw e;
    }
    if (!resp.ok) throw await toApiError(resp);
    if (!resp.body) return "fallback";
    o.onMode?.("stream");
    reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SSEParser();
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (ctl.signal.aborted) return "fallback";
        throw e;
      }
      // Closed before its end event (or stopped): poll for the rest.
      if (chunk.done) return "fallback";
      for (const ev of parser.feed(chunk.value)) {
        clearTimeout(silent);
        if (ev.event === "operation") o.onUpdate(JSON.parse(ev.data) as Operation);
        else if (ev.event === "end") return "ended";
        else if (ev.event === "reconnect") return "reconnect";
        else if (ev.event === "error") return "fallback";
      }
    }
  } finally {
    clearTimeout(silent);
    o.signal.removeEventListener("abort", stop);
    if (!ctl.signal.aborted) ctl.abort(); // ends the connection of a stream left early
  }
}

async function poll(o: WatchOptions): Promise<void> {
  let wait = o.pollEvery ?? 2000;
  while (!o.signal.aborted) {
    try {
      const { operation } = await o.client.get<{ operation: Operation }>(o.operation, o.signal);
      o.onUpdate(operation);
      if (isTerminal(operation.status)) return;
      wait = o.pollEvery ?? 2000;
    } catch (e) {
      if (o.signal.aborted) return;
      if (e instanceof ApiError && e.status > 0 && e.status < 500) {
        o.onError?.(e);
        return;
      }
      wait = Math.min(wait * 2, 30000); // the API is away: back off
    }
    await sleep(wait, o.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
