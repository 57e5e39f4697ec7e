import type { FieldError } from "./types";

// ApiError is a failed API call as the user should see it: the API's
// detail, the field(s) at fault and the request id to quote.
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly code?: string;
  readonly field?: string;
  readonly errors: FieldError[];
  readonly requestId?: string;

  constructor(init: {
    status: number;
    detail: string;
    code?: string;
    field?: string;
    errors?: FieldError[];
    requestId?: string;
  }) {
    super(init.detail);
    this.name = "ApiError";
    this.status = init.status;
    this.detail = init.detail;
    this.code = init.code;
    this.field = init.field;
    this.errors = init.errors ?? (init.field ? [{ field: init.field, message: init.detail }] : []);
    this.requestId = init.requestId;
  }
}

// toApiError reads an error answer: a problem+json body (ours), a plain text
// (AzureTRE's, or a proxy's), or nothing.
export async function toApiError(resp: Response): Promise<ApiError> {
  const requestId = resp.headers.get("X-Request-Id") ?? undefined;
  const text = await resp.text().catch(() => "");
  const type = resp.headers.get("Content-Type") ?? "";
  if (type.includes("json") && text) {
    try {
      const p = JSON.parse(text) as Record<string, unknown>;
      if (typeof p.detail === "string") {
        return new ApiError({
          status: resp.status,
          detail: p.detail,
          code: typeof p.code === "string" ? p.code : undefined,
          field: typeof p.field === "string" ? p.field : undefined,
          errors: Array.isArray(p.errors) ? (p.errors as FieldError[]) : undefined,
          requestId: typeof p.requestId === "string" ? p.requestId : requestId,
        });
      }
    } catch {
      // not JSON after all: shown as text below
    }
  }
  const detail = text.trim() || `${resp.status} ${resp.statusText || "error"}`;
  return new ApiError({ status: resp.status, detail: detail.slice(0, 2000), requestId });
}

export interface RequestOptions {
  body?: unknown;
  // etag is sent as If-Match (the standard header; the API also takes
  // AzureTRE's etag header).
  etag?: string;
  signal?: AbortSignal;
}

export interface Answer<T> {
  data: T;
  status: number;
  location?: string;
}

// Client calls the API of the page's own origin with the signed-in user's
// bearer token.
export class Client {
  constructor(
    private readonly token: () => string | undefined,
    private readonly onUnauthorized: (e: ApiError) => void = () => {},
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  async call<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const tok = this.token();
    if (tok) headers.Authorization = `Bearer ${tok}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.etag) headers["If-Match"] = opts.etag;
    let resp: Response;
    try {
      resp = await this.fetcher(apiURL(path), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError({ status: 0, detail: `The API could not be reached: ${(e as Error).message}` });
    }
    if (!resp.ok) {
      const err = await toApiError(resp);
      if (resp.status === 401) this.onUnauthorized(err);
      throw err;
    }
    const text = await resp.text();
    const data = (text ? JSON.parse(text) : undefined) as T;
    return { data, status: resp.status, location: resp.headers.get("Location") ?? undefined };
  }

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return (await this.call<T>("GET", path, { signal })).data;
  }

  bearer(): string | undefined {
    return this.token();
  }
}

// apiURL turns an API path (/api/..., or a resourcePath such as
// /workspaces/{id}) into a URL of the page's origin.
export function apiURL(path: string): string {
  return path.startsWith("/api/") || path === "/api" ? path : `/api${path.startsWith("/") ? "" : "/"}${path}`;
}
