import { useState } from "react";
import { ApiError, apiURL } from "../api/client";
import { templatePath, typeNoun } from "../api/paths";
import type { Operation, Resource, ResourceType, Template } from "../api/types";
import { ErrorPanel, Loading } from "../components/common";
import { useApp } from "../context";
import { asApiError, useGet } from "../hooks";
import { ResourceForm } from "../forms/ResourceForm";
import { formSchema, patchProperties } from "../forms/schema";
import { navigate } from "../router";
import { useParentTemplate } from "./ResourceActions";

// EditResource updates a resource's properties with the form of its
// template version (is_update: what may not change is read-only); only the
// properties that changed are sent.
export function EditResource({ type, resource, onStarted }: { type: ResourceType; resource: Resource; onStarted: (op: Operation) => void }) {
  const { client } = useApp();
  const parentTemplate = useParentTemplate(type, resource);
  const ready = type !== "user-resource" || !!parentTemplate;
  const tpl = useGet<Template>(
    ready
      ? `${templatePath(type, resource.templateName, parentTemplate)}?is_update=true&version=${encodeURIComponent(resource.templateVersion)}`
      : null,
  );
  const [nothing, setNothing] = useState(false);
  if (tpl.error) return <ErrorPanel error={tpl.error} title="The template could not be read" />;
  if (!tpl.data) return <Loading what="the template" />;
  const t = tpl.data;
  const submit = async (data: Record<string, unknown>) => {
    const properties = patchProperties(formSchema(t, "update"), resource.properties, data);
    if (Object.keys(properties).length === 0) {
      setNothing(true);
      return undefined;
    }
    setNothing(false);
    try {
      const { data: answer } = await client.call<{ operation: Operation }>("PATCH", apiURL(resource.resourcePath), {
        body: { properties },
        etag: resource._etag,
      });
      onStarted(answer.operation);
      navigate(resource.resourcePath);
      return undefined;
    } catch (e) {
      const err = asApiError(e);
      if (err.status === 409 || err.status === 412) {
        return new ApiError({ ...err, errors: err.errors, detail: `${err.detail} Reload the page to get its current state.` });
      }
      return err;
    }
  };
  return (
    <section aria-labelledby="edit-title">
      <h2 id="edit-title">Update the {typeNoun[type]}</h2>
      <p className="muted">
        Fields that the template marks updateable can change; the others are read-only. Only what you change is sent.
      </p>
      {nothing && (
        <p className="notice" role="status">
          Nothing changed: there is nothing to send.
        </p>
      )}
      <ResourceForm
        template={t}
        mode="update"
        initial={resource.properties}
        submitLabel={`Update ${typeNoun[type]}`}
        onSubmit={submit}
        onCancel={() => navigate(resource.resourcePath)}
      />
    </section>
  );
}
