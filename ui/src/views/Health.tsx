import { useEffect, useState } from "react";
import { toApiError, type ApiError } from "../api/client";
import type { ServiceStatus } from "../api/types";
import { ErrorPanel, Loading } from "../components/common";
import { useApp } from "../context";

interface Metadata {
  api_version: string;
  api_client_id: string;
  api_root_scope: string;
  aad_tenant_id: string;
  auth_mode: string;
}

// Health shows /api/health (each dependency, as the API names it: in local
// mode the SQLite store and queue, and the in-process processor) and how
// the API is set up for sign-in (/api/.metadata).
export function Health() {
  const { config } = useApp();
  const [services, setServices] = useState<ServiceStatus[]>();
  const [meta, setMeta] = useState<Metadata>();
  const [error, setError] = useState<ApiError>();
  const [n, setN] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    // /api/health answers 503 with the same body when a dependency is down.
    fetch("/api/health", { signal: ctl.signal })
      .then(async (r) => {
        const body = (await r.json().catch(() => null)) as { services?: ServiceStatus[] } | null;
        if (body?.services) setServices(body.services);
        else setError(await toApiError(r));
      })
      .catch(() => undefined);
    fetch("/api/.metadata", { signal: ctl.signal })
      .then((r) => r.json())
      .then(setMeta, () => undefined);
    return () => ctl.abort();
  }, [n]);
  return (
    <>
      <div className="page-head">
        <h1>Health</h1>
        <button type="button" onClick={() => setN((x) => x + 1)}>
          Check again
        </button>
      </div>
      <ErrorPanel error={error} title="The health report could not be read" />
      {!services && !error && <Loading what="the health report" />}
      {services && (
        <ul className="cards health">
          {services.map((s) => (
            <li key={s.service} className="card" data-service={s.service}>
              <h2>{s.service}</h2>
              <span className={`badge ${s.status === "OK" ? "badge-succeeded" : "badge-failed"}`}>{s.status}</span>
              {s.message && <p className="card-text">{s.message}</p>}
            </li>
          ))}
        </ul>
      )}
      {meta && (
        <section aria-labelledby="meta-title">
          <h2 id="meta-title">Sign-in</h2>
          <dl className="properties">
            <div className="property">
              <dt>Token issuer</dt>
              <dd>{meta.auth_mode === "dev" ? "local dev issuer (no Entra ID configured)" : "Microsoft Entra ID"}</dd>
            </div>
            <div className="property">
              <dt>API version</dt>
              <dd>{meta.api_version || config.version}</dd>
            </div>
            <div className="property">
              <dt>Scope</dt>
              <dd>
                <code>{meta.api_root_scope}</code>
              </dd>
            </div>
            {meta.aad_tenant_id && (
              <div className="property">
                <dt>Tenant</dt>
                <dd>
                  <code>{meta.aad_tenant_id}</code>
                </dd>
              </div>
            )}
          </dl>
        </section>
      )}
    </>
  );
}
