import Form from "@rjsf/core/lib/components/Form.js";
import type { IChangeEvent } from "@rjsf/core/lib/components/Form.js";
import { validator } from "./validator";
import { useEffect, useMemo, useRef, useState } from "react";
import type { ApiError } from "../api/client";
import type { Template } from "../api/types";
import { ErrorPanel } from "../components/common";
import { extraErrors, formSchema, formUiSchema, knownIn, type Mode } from "./schema";

type Obj = Record<string, unknown>;

// ResourceForm is a create or update form generated from a template's JSON
// Schema with react-jsonschema-form, the library AzureTRE's UI uses, so the
// templates' uiSchema hints work unchanged. The page does not validate:
// the API does, and its errors appear next to their fields, the form
// keeping what was typed.
export function ResourceForm({
  template,
  mode,
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  template: Template;
  mode: Mode;
  initial: Obj;
  submitLabel: string;
  // onSubmit sends the form's data; it answers the API's error, if any.
  onSubmit: (data: Obj) => Promise<ApiError | undefined>;
  onCancel?: () => void;
}) {
  const schema = useMemo(() => formSchema(template, mode), [template, mode]);
  const uiSchema = useMemo(() => formUiSchema(template, mode), [template, mode]);
  const [data, setData] = useState<Obj>(initial);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ error: ApiError; sent: Obj }>();
  const topRef = useRef<HTMLDivElement>(null);

  // The API's field errors stay on a field until its value changes.
  const placed = useMemo(() => {
    if (!answer) return { schema: undefined, unplaced: [] };
    const still = answer.error.errors.filter((e) => {
      const path = e.field.split(".").slice(1);
      return JSON.stringify(at(data, path)) === JSON.stringify(at(answer.sent, path));
    });
    return extraErrors(still, knownIn(schema));
  }, [answer, data, schema]);

  // After a refusal the focus goes to the first field at fault (in the
  // form's order), or to the summary when some error has no field here.
  useEffect(() => {
    if (!answer) return;
    const { unplaced } = extraErrors(answer.error.errors, knownIn(schema));
    const field = topRef.current?.querySelector<HTMLElement>(
      ".rjsf-field-error input, .rjsf-field-error select, .rjsf-field-error textarea",
    );
    if (field && unplaced.length === 0) field.focus();
    else topRef.current?.querySelector<HTMLElement>("[role=alert]")?.focus();
  }, [answer, schema]);

  const submit = async (e: IChangeEvent<Obj>) => {
    const sent = (e.formData ?? {}) as Obj;
    setBusy(true);
    setAnswer(undefined);
    const err = await onSubmit(sent);
    setBusy(false);
    if (err) setAnswer({ error: err, sent });
  };

  return (
    <div className="resource-form" ref={topRef}>
      {answer && (
        <ErrorPanel
          error={answer.error}
          title={placed.unplaced.length < answer.error.errors.length ? "The API refused the form: see the fields marked below" : "The API refused the form"}
        />
      )}
      <Form<Obj>
        schema={schema}
        uiSchema={uiSchema}
        formData={data}
        validator={validator}
        noValidate
        noHtml5Validate
        showErrorList={false}
        omitExtraData
        extraErrors={placed.schema}
        onChange={(e) => setData((e.formData ?? {}) as Obj)}
        onSubmit={submit}
        disabled={busy}
      >
        <div className="button-row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Sending…" : submitLabel}
          </button>
          {onCancel && (
            <button type="button" onClick={onCancel} disabled={busy}>
              Cancel
            </button>
          )}
        </div>
      </Form>
    </div>
  );
}

function at(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Obj)[seg];
  }
  return cur;
}
