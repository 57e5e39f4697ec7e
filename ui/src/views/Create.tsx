import { useState } from "react";
import { collectionPath, templateListPath, templatePath, typeNoun } from "../api/paths";
import type { Operation, Resource, ResourceType, Template, TemplateInfo } from "../api/types";
import { ErrorPanel, Link, Loading } from "../components/common";
import { useApp } from "../context";
import { asApiError, useGet } from "../hooks";
import { ResourceForm } from "../forms/ResourceForm";
import { createProperties } from "../forms/schema";
import { navigate, resourcePath, type ResourceRef } from "../router";

// Create picks a template and fills in its generated form; on success it
// opens the new resource, where its operation runs live.
export function Create({ kind, parent }: { kind: ResourceType; parent: ResourceRef }) {
  // A user resource's templates belong to its service's template.
  const svc = useGet<{ workspaceService: Resource }>(kind === "user-resource" ? `/api${resourcePath(parent)}` : null);
  const parentTemplate = svc.data?.workspaceService.templateName;
  const ready = kind !== "user-resource" || !!parentTemplate;
  const list = useGet<{ templates: TemplateInfo[] }>(ready ? templateListPath(kind, parent, parentTemplate) : null);
  const [chosen, setChosen] = useState<string>();
  const back = kind === "workspace" ? "/workspaces" : kind === "shared-service" ? "/shared-services" : resourcePath(parent);

  return (
    <>
      <div className="page-head">
        <h1>New {typeNoun[kind]}</h1>
        <Link to={back}>Back</Link>
      </div>
      <ErrorPanel error={svc.error ?? list.error} title="The templates could not be read" />
      {(svc.loading || list.loading) && <Loading what="templates" />}
      {list.data && !chosen && (
        <section aria-labelledby="pick-title">
          <h2 id="pick-title">Choose a template</h2>
          {list.data.templates.length === 0 && <p>No template is available to you for a {typeNoun[kind]} here.</p>}
          <ul className="cards">
            {list.data.templates.map((t) => (
              <li key={t.name} className="card template-card">
                <h3>{t.title || t.name}</h3>
                <p className="card-text">{t.description}</p>
                <p className="muted small">
                  {t.name} {t.version}
                </p>
                <button type="button" className="primary" onClick={() => setChosen(t.name)} aria-label={`Use ${t.title || t.name}`}>
                  Use this template
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {chosen && (
        <CreateForm kind={kind} parent={parent} name={chosen} parentTemplate={parentTemplate} onCancel={() => setChosen(undefined)} />
      )}
    </>
  );
}

function CreateForm({
  kind,
  parent,
  name,
  parentTemplate,
  onCancel,
}: {
  kind: ResourceType;
  parent: ResourceRef;
  name: string;
  parentTemplate?: string;
  onCancel: () => void;
}) {
  const { client } = useApp();
  const tpl = useGet<Template>(templatePath(kind, name, parentTemplate));
  if (tpl.error) return <ErrorPanel error={tpl.error} title="The template could not be read" />;
  if (!tpl.data) return <Loading what="the template" />;
  const t = tpl.data;
  const submit = async (data: Record<string, unknown>) => {
    try {
      const { data: answer } = await client.call<{ operation: Operation }>("POST", collectionPath(kind, parent), {
        body: { templateName: t.name, properties: createProperties(data, t.required) },
      });
      navigate(answer.operation.resourcePath);
      return undefined;
    } catch (e) {
      return asApiError(e);
    }
  };
  return (
    <section aria-labelledby="form-title">
      <h2 id="form-title">
        {t.title} <span className="muted small">{t.name} {t.version}</span>
      </h2>
      <p>{t.description}</p>
      <ResourceForm template={t} mode="create" initial={{}} submitLabel={`Create ${typeNoun[kind]}`} onSubmit={submit} onCancel={onCancel} />
    </section>
  );
}
