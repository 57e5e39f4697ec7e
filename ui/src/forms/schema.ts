import type { ErrorSchema, UiSchema } from "@rjsf/utils";
import type { FieldError, JSONSchema, Template } from "../api/types";

// From a template (as GET .../{name}?is_update= answers it) to what the form
// library renders, and from the API's field errors back to the form.

export type Mode = "create" | "update";

// The members of a template that are JSON Schema for the form; the rest
// (id, version, pipeline, egress, customActions, ...) is the TRE's.
const schemaMembers = ["type", "required", "properties", "allOf", "anyOf", "oneOf", "if", "then", "else", "dependencies", "definitions", "$defs"];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// formSchema is the template's JSON Schema for the form. In update mode the
// API has already marked what cannot change readOnly (is_update=true), and
// nothing is required: a patch sends what changed only.
export function formSchema(t: Template, mode: Mode): JSONSchema {
  const out: Obj = {};
  for (const k of schemaMembers) if (k in t && t[k] != null) out[k] = structuredClone(t[k]);
  out.type = "object";
  if (mode === "update") {
    out.required = [];
    forEachBranch(out, (b) => {
      if (Array.isArray(b.required)) b.required = [];
    });
  }
  return out;
}

// forEachBranch visits the conditional branches of a schema (allOf items
// and their then/else, anyOf, oneOf), recursively.
function forEachBranch(s: Obj, f: (branch: Obj) => void): void {
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const list = s[key];
    if (Array.isArray(list)) for (const b of list) if (isObj(b)) visit(b);
  }
  for (const key of ["then", "else"]) if (isObj(s[key])) visit(s[key] as Obj);
  function visit(b: Obj) {
    f(b);
    forEachBranch(b, f);
  }
}

// propertyDefinitions lists every property definition of a schema by its
// path (["vm_names", "items", "name"] -> "vm_names.*.name"), branches
// included: what the UI needs to know of sensitive and updateable fields.
export function propertyDefinitions(s: JSONSchema, prefix = ""): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const walk = (node: Obj, path: string) => {
    const props = node.properties;
    if (isObj(props)) {
      for (const [name, def] of Object.entries(props)) {
        if (!isObj(def)) continue;
        const p = path ? `${path}.${name}` : name;
        if (!out.has(p)) out.set(p, def);
        walk(def, p);
      }
    }
    if (isObj(node.items)) walk(node.items as Obj, path ? `${path}.*` : "*");
    for (const key of ["allOf", "anyOf", "oneOf"]) {
      const list = node[key];
      if (Array.isArray(list)) for (const b of list) if (isObj(b)) walk(b, path);
    }
    for (const key of ["then", "else"]) if (isObj(node[key])) walk(node[key] as Obj, path);
  };
  walk(s, prefix);
  return out;
}

// formUiSchema is the template's uiSchema (AzureTRE's hints for
// react-jsonschema-form) with the TRE's conventions added: overview as a
// text area, the main fields first, sensitive fields masked and never
// autofilled, and in update mode a hint on sensitive fields.
export function formUiSchema(t: Template, mode: Mode): UiSchema {
  const ui: Obj = isObj(t.uiSchema) ? legacyClassNames(structuredClone(t.uiSchema)) : {};
  ui.overview = { "ui:widget": "textarea", ...(isObj(ui.overview) ? ui.overview : {}) };
  if (!Array.isArray(ui["ui:order"]) || (ui["ui:order"] as unknown[]).length === 0) {
    ui["ui:order"] = ["display_name", "description", "overview", "*"];
  } else if (!(ui["ui:order"] as unknown[]).includes("*")) {
    ui["ui:order"] = [...(ui["ui:order"] as string[]), "*"];
  }
  for (const [path, def] of propertyDefinitions(formSchema(t, mode))) {
    if (def.sensitive !== true || def.type !== "string") continue;
    const node = uiNode(ui, path.split("."));
    node["ui:widget"] = "password";
    node["ui:autocomplete"] = "new-password";
    if (mode === "update") {
      node["ui:placeholder"] = "unchanged";
      node["ui:help"] = "Sensitive: its value is never shown. Leave it empty to keep it.";
    }
  }
  return ui as UiSchema;
}

// legacyClassNames turns the uiSchema's classNames members (AzureTRE's
// templates hide fields with "classNames": "tre-hidden") into the
// ui:classNames that the form library reads since its version 6.
function legacyClassNames(ui: Obj): Obj {
  for (const [k, v] of Object.entries(ui)) {
    if (k === "classNames" && typeof v === "string" && !("ui:classNames" in ui)) ui["ui:classNames"] = v;
    else if (isObj(v)) legacyClassNames(v);
  }
  return ui;
}

// uiNode returns the uiSchema node of a property path, creating it; "*"
// (an array's items) is the uiSchema's "items".
function uiNode(ui: Obj, path: string[]): Obj {
  let node = ui;
  for (const seg of path) {
    const key = seg === "*" ? "items" : seg;
    if (!isObj(node[key])) node[key] = {};
    node = node[key] as Obj;
  }
  return node;
}

// extraErrors places the API's field errors (properties.vm_names.0.name)
// on the form's fields; errors of no field of the form are returned apart,
// for the summary above the form.
export function extraErrors(errors: FieldError[], known: (path: string[]) => boolean): {
  schema: ErrorSchema;
  unplaced: FieldError[];
} {
  const schema: Obj = {};
  const unplaced: FieldError[] = [];
  for (const e of errors) {
    const path = fieldPath(e.field);
    if (!path || path.length === 0 || !known(path)) {
      unplaced.push(e);
      continue;
    }
    let node = schema;
    for (const seg of path) {
      if (!isObj(node[seg])) node[seg] = {};
      node = node[seg] as Obj;
    }
    const list = (node.__errors as string[] | undefined) ?? [];
    list.push(e.message);
    node.__errors = list;
  }
  return { schema: schema as ErrorSchema, unplaced };
}

// fieldPath reads the API's field name of a property: "properties.a.0.b"
// -> ["a", "0", "b"]; null when it names something else (templateName).
export function fieldPath(field: string): string[] | null {
  if (field !== "properties" && !field.startsWith("properties.")) return null;
  return field.split(".").slice(1);
}

// knownIn says whether a property path is a field of the schema (as the
// form renders it for the given data: a branch's fields count).
export function knownIn(s: JSONSchema): (path: string[]) => boolean {
  const defs = propertyDefinitions(s);
  return (path) => defs.has(path.map((seg) => (/^\d+$/.test(seg) ? "*" : seg)).join("."));
}

// patchProperties is what an update sends: the properties the form
// changed, among those that may change (not readOnly). A sensitive field
// left empty keeps its value.
export function patchProperties(s: JSONSchema, before: Obj, after: Obj): Obj {
  const defs = propertyDefinitions(s);
  const out: Obj = {};
  for (const [name, value] of Object.entries(after)) {
    const def = defs.get(name);
    if (!def || def.readOnly === true) continue;
    if (def.sensitive === true && (value === undefined || value === "")) continue;
    if (!sameJSON(before[name], value)) out[name] = value;
  }
  return out;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

// createProperties is what a create sends: the form's data without the
// empty strings of optional fields the user left alone (the API would
// otherwise validate "" against their formats and patterns).
export function createProperties(data: Obj, required: string[] = []): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(data)) {
    if (v === undefined) continue;
    if (v === "" && !required.includes(k)) continue;
    out[k] = v;
  }
  return out;
}
