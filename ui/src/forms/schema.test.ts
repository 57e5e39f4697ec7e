import { describe, expect, it } from "vitest";
import type { Template } from "../api/types";
import { createProperties, extraErrors, fieldPath, formSchema, formUiSchema, knownIn, patchProperties, propertyDefinitions } from "./schema";

// A template as GET /api/workspace-templates/{name} answers it (trimmed).
const template = {
  id: "t1",
  name: "tre-workspace-sandbox",
  title: "Sandbox",
  description: "d",
  version: "0.1.0",
  resourceType: "workspace",
  current: true,
  type: "object",
  required: ["display_name", "address_space_size"],
  properties: {
    display_name: { type: "string", updateable: true },
    address_space_size: { type: "string", enum: ["small", "custom"], default: "small" },
    admin_password: { type: "string", sensitive: true },
    vm_names: {
      type: "array",
      updateable: true,
      items: { type: "object", properties: { id: { type: "string" }, secret: { type: "string", sensitive: true } } },
    },
  },
  allOf: [
    {
      if: { properties: { address_space_size: { enum: ["custom"] } }, required: ["address_space_size"] },
      then: { properties: { address_space: { type: "string" } }, required: ["address_space"] },
    },
  ],
  uiSchema: { address_spaces: { classNames: "tre-hidden" }, "ui:order": ["display_name", "address_space"] },
  pipeline: { install: [] },
  customActions: [{ name: "restart" }],
  unevaluatedProperties: false,
} as unknown as Template;

describe("formSchema", () => {
  it("keeps the JSON Schema of the template and drops the TRE's members", () => {
    const s = formSchema(template, "create");
    expect(Object.keys(s).sort()).toEqual(["allOf", "properties", "required", "type"]);
    expect(s.required).toEqual(["display_name", "address_space_size"]);
  });
  it("requires nothing in an update, branches included, and leaves the template alone", () => {
    const s = formSchema(template, "update") as { required: string[]; allOf: { then: { required: string[] } }[] };
    expect(s.required).toEqual([]);
    expect(s.allOf[0]!.then.required).toEqual([]);
    expect(template.required).toEqual(["display_name", "address_space_size"]);
  });
});

describe("propertyDefinitions", () => {
  it("lists nested, array and branch properties by path", () => {
    expect([...propertyDefinitions(formSchema(template, "create")).keys()].sort()).toEqual([
      "address_space",
      "address_space_size",
      "admin_password",
      "display_name",
      "vm_names",
      "vm_names.*.id",
      "vm_names.*.secret",
    ]);
  });
});

describe("formUiSchema", () => {
  const ui = formUiSchema(template, "create") as Record<string, Record<string, unknown>>;
  it("masks sensitive fields at any depth and keeps browsers from filling them", () => {
    expect(ui.admin_password).toEqual({ "ui:widget": "password", "ui:autocomplete": "new-password" });
    expect((ui.vm_names as Record<string, Record<string, unknown>>).items!.secret).toMatchObject({ "ui:widget": "password" });
  });
  it("reads AzureTRE's classNames hints and keeps every field in the order", () => {
    expect(ui.address_spaces).toMatchObject({ "ui:classNames": "tre-hidden" });
    expect(ui["ui:order"]).toEqual(["display_name", "address_space", "*"]);
    expect(ui.overview).toEqual({ "ui:widget": "textarea" });
  });
  it("says in an update that a sensitive field left empty keeps its value", () => {
    const upd = formUiSchema(template, "update") as Record<string, Record<string, unknown>>;
    expect(upd.admin_password!["ui:help"]).toMatch(/Leave it empty to keep it/);
  });
  it("orders the main fields first when the template says nothing", () => {
    const bare = formUiSchema({ ...template, uiSchema: undefined } as Template, "create");
    expect(bare["ui:order"]).toEqual(["display_name", "description", "overview", "*"]);
  });
});

describe("extraErrors", () => {
  const known = knownIn(formSchema(template, "create"));
  it("puts the API's field errors on their fields, array items included", () => {
    const { schema, unplaced } = extraErrors(
      [
        { field: "properties.display_name", message: "display_name is required" },
        { field: "properties.vm_names.0.id", message: "id must be a string" },
        { field: "properties.address_space", message: "address_space is required" },
        { field: "properties.bogus", message: 'property "bogus" is not defined by the template' },
        { field: "templateName", message: "unknown template" },
      ],
      known,
    );
    expect(schema).toEqual({
      display_name: { __errors: ["display_name is required"] },
      vm_names: { 0: { id: { __errors: ["id must be a string"] } } },
      address_space: { __errors: ["address_space is required"] },
    });
    expect(unplaced.map((e) => e.field)).toEqual(["properties.bogus", "templateName"]);
  });
  it("reads field names", () => {
    expect(fieldPath("properties.a.0.b")).toEqual(["a", "0", "b"]);
    expect(fieldPath("properties")).toEqual([]);
    expect(fieldPath("If-Match")).toBeNull();
  });
});

describe("patchProperties", () => {
  const s = formSchema({ ...template, properties: { ...template.properties, address_space_size: { type: "string", readOnly: true } } } as Template, "update");
  it("sends only what changed among what may change", () => {
    const before = { display_name: "A", address_space_size: "small", vm_names: [{ id: "1" }] };
    expect(patchProperties(s, before, { ...before })).toEqual({});
    expect(patchProperties(s, before, { ...before, display_name: "B", address_space_size: "large" })).toEqual({ display_name: "B" });
    expect(patchProperties(s, before, { ...before, vm_names: [{ id: "1" }, { id: "2" }] })).toEqual({ vm_names: [{ id: "1" }, { id: "2" }] });
  });
  it("keeps a sensitive value left empty", () => {
    expect(patchProperties(s, {}, { admin_password: "" })).toEqual({});
    expect(patchProperties(s, {}, { admin_password: "new-secret" })).toEqual({ admin_password: "new-secret" });
  });
  it("ignores key order in objects", () => {
    expect(patchProperties(s, { vm_names: [{ id: "1", secret: "x" }] }, { vm_names: [{ secret: "x", id: "1" }] })).toEqual({});
  });
});

describe("createProperties", () => {
  it("drops optional fields left empty, keeps required ones for the API to judge", () => {
    expect(createProperties({ display_name: "", overview: "", size: 3, flag: false, gone: undefined }, ["display_name"])).toEqual({
      display_name: "",
      size: 3,
      flag: false,
    });
  });
});
