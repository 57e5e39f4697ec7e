import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "./api/client";
import { useApp } from "./context";

export interface Loaded<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
  reload: () => void;
}

// useGet reads an API path (nothing when path is null), again on reload;
// a change of path or unmount aborts the request in flight.
export function useGet<T>(path: string | null): Loaded<T> {
  const { client } = useApp();
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: path !== null });
  const [n, setN] = useState(0);
  useEffect(() => {
    if (path === null) {
      setState({ loading: false });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    client.get<T>(path, ctl.signal).then(
      (data) => setState({ data, loading: false }),
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setState({ error: asApiError(e), loading: false });
      },
    );
    return () => ctl.abort();
  }, [client, path, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { ...state, reload };
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError({ status: 0, detail: e instanceof Error ? e.message : String(e) });
}

// useAction runs one mutation at a time and keeps its error for display.
export function useAction(): {
  busy: boolean;
  error?: ApiError;
  run: <T>(f: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async <T,>(f: () => Promise<T>) => {
    setBusy(true);
    setError(undefined);
    try {
      return await f();
    } catch (e) {
      if (mounted.current) setError(asApiError(e));
      return undefined;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}

// usePage pages a list on the client: the API answers whole lists; the
// page shows size items at a time.
export function usePage<T>(items: T[], size = 12): { page: T[]; index: number; pages: number; setIndex: (i: number) => void } {
  const [index, setIndex] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / size));
  const i = Math.min(index, pages - 1);
  return { page: items.slice(i * size, (i + 1) * size), index: i, pages, setIndex };
}
