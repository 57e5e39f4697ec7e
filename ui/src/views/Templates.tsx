import { useState } from "react";
import { templateBase, typeNoun } from "../api/paths";
import type { ResourceType, Template, TemplateInfo, TemplateVersion } from "../api/types";
import { Confirm, ErrorPanel, Link, Loading, When } from "../components/common";
import { useApp } from "../context";
import { useAction, useGet } from "../hooks";
import { propertyDefinitions } from "../forms/schema";

const kinds: ResourceType[] = ["workspace", "workspace-service", "shared-service"];

// Templates lists the registered templates of each kind; a template's page
// lists its versions, where an admin makes one current or deprecates it.
export function Templates({ kind, parent, name }: { kind?: string; parent?: string; name?: string }) {
  if (kind && name) return <TemplateVersions type={kind as ResourceType} parent={parent} name={name} />;
  return (
    <>
      <h1>Templates</h1>
      <p className="muted">
        The current version of each registered template. Register versions with <code>scripts/register-bundle.sh</code> (or
        POST to the template routes); open a template to manage its versions.
      </p>
      {kinds.map((k) => (
        <TemplateKind key={k} type={k} />
      ))}
    </>
  );
}

function TemplateKind({ type }: { type: ResourceType }) {
  const list = useGet<{ templates: TemplateInfo[] }>(templateBase(type));
  return (
    <section aria-labelledby={`tk-${type}`}>
      <h2 id={`tk-${type}`}>{typeNoun[type]} templates</h2>
      <ErrorPanel error={list.error} title="The templates could not be read" />
      {list.loading && !list.data && <Loading what="templates" />}
      {list.data && list.data.templates.length === 0 && <p>None registered.</p>}
      <ul className="cards">
        {list.data?.templates.map((t) => (
          <li key={t.name} className="card">
            <h3>
              <Link to={`/templates/${type}/${t.name}`}>{t.title || t.name}</Link>
            </h3>
            <p className="card-text">{t.description}</p>
            <p className="muted small">
              {t.name} {t.version}
            </p>
            {type === "workspace-service" && <UserResourceTemplates parent={t.name} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function UserResourceTemplates({ parent }: { parent: string }) {
  const list = useGet<{ templates: TemplateInfo[] }>(templateBase("user-resource", parent));
  if (!list.data || list.data.templates.length === 0) return null;
  return (
    <div className="small">
      User resources:{" "}
      {list.data.templates.map((t, i) => (
        <span key={t.name}>
          {i > 0 && ", "}
          <Link to={`/templates/user-resource/${parent}/${t.name}`}>{t.title || t.name}</Link>
        </span>
      ))}
    </div>
  );
}

function TemplateVersions({ type, parent, name }: { type: ResourceType; parent?: string; name: string }) {
  const { client } = useApp();
  const base = `${templateBase(type, parent)}/${encodeURIComponent(name)}`;
  const versions = useGet<{ versions: TemplateVersion[] }>(`${base}/versions`);
  const current = useGet<Template>(base);
  const action = useAction();
  const [deprecating, setDeprecating] = useState<string>();
  const [reason, setReason] = useState("");
  const update = async (version: string, body: Record<string, unknown>) => {
    const ok = await action.run(() => client.call("PATCH", `${base}/versions/${encodeURIComponent(version)}`, { body }));
    setDeprecating(undefined);
    setReason("");
    if (ok) {
      versions.reload();
      current.reload();
    }
  };
  const list = [...(versions.data?.versions ?? [])].reverse();
  return (
    <>
      <div className="page-head">
        <h1>{current.data?.title ?? name}</h1>
        <Link to="/templates">All templates</Link>
      </div>
      <p className="muted">
        {typeNoun[type]} template <code>{name}</code>
        {parent && (
          <>
            {" "}
            of <code>{parent}</code>
          </>
        )}
      </p>
      {current.data && <p>{current.data.description}</p>}
      <ErrorPanel error={versions.error ?? action.error} title="The template versions could not be handled" onDismiss={action.clear} />
      {versions.loading && !versions.data && <Loading what="versions" />}
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Registered</th>
                <th scope="col">Custom actions</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.version} data-version={v.version}>
                  <td>{v.version}</td>
                  <td>
                    {v.current && <span className="badge badge-succeeded">current</span>}
                    {v.deprecated && (
                      <span className="badge badge-failed" title={v.deprecationReason}>
                        deprecated
                      </span>
                    )}
                    {v.deprecationReason && <div className="small">{v.deprecationReason}</div>}
                  </td>
                  <td>
                    <When t={v.registeredWhen} />
                    {v.registeredBy && <div className="muted small">{v.registeredBy}</div>}
                  </td>
                  <td>{(v.customActions ?? []).map((a) => a.name).join(", ") || "—"}</td>
                  <td>
                    <div className="button-row">
                      {!v.current && !v.deprecated && (
                        <button type="button" disabled={action.busy} onClick={() => update(v.version, { current: true })}>
                          Make current
                        </button>
                      )}
                      {!v.deprecated ? (
                        <button type="button" disabled={action.busy} onClick={() => setDeprecating(v.version)}>
                          Deprecate…
                        </button>
                      ) : (
                        <button type="button" disabled={action.busy} onClick={() => update(v.version, { deprecated: false })}>
                          Withdraw deprecation
                        </button>
                      )}
                    </div>
                    {deprecating === v.version && (
                      <Confirm
                        question={`Deprecate ${name} ${v.version}? No new resource can use it; existing ones keep it.`}
                        confirmLabel="Deprecate"
                        onConfirm={() => update(v.version, { deprecated: true, deprecationReason: reason })}
                        onCancel={() => setDeprecating(undefined)}
                      >
                        <label className="field">
                          Reason
                          <input value={reason} onChange={(e) => setReason(e.target.value)} />
                        </label>
                      </Confirm>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current.data && <SchemaSummary t={current.data} />}
    </>
  );
}

function SchemaSummary({ t }: { t: Template }) {
  const defs = [...propertyDefinitions(t)].filter(([p]) => !p.includes("."));
  return (
    <section aria-labelledby="schema-title">
      <h2 id="schema-title">Parameters of the current version</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Updateable</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {defs.map(([p, d]) => (
              <tr key={p}>
                <td>
                  <code>{p}</code>
                  {d.sensitive === true && <span className="tag">sensitive</span>}
                </td>
                <td>{String(d.type ?? "")}</td>
                <td>{(t.required ?? []).includes(p) ? "yes" : ""}</td>
                <td>{d.updateable === true ? "yes" : ""}</td>
                <td>{String(d.description ?? "")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
