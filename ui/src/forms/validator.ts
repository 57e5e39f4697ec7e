import { Validator, type Schema } from "@cfworker/json-schema";
import type { RJSFSchema, ValidatorType } from "@rjsf/utils";

// validator is the form library's validator without code generation: the
// page's Content Security Policy forbids eval, which Ajv (the library's
// default) needs. The form library uses it to pick conditional branches
// (if/then/else, oneOf, anyOf) as the user types; it does not validate
// what is sent: the API does, and its errors go next to their fields.
const cache = new WeakMap<object, Validator>();

function compiled(schema: RJSFSchema, root: RJSFSchema): Validator {
  let v = cache.get(schema);
  if (!v) {
    // A $ref in a branch points into the root schema's definitions.
    const s = { ...schema, definitions: root.definitions, $defs: (root as Record<string, unknown>).$defs } as Schema;
    v = new Validator(s, "7", true);
    cache.set(schema, v);
  }
  return v;
}

export const validator: ValidatorType = {
  validateFormData: () => ({ errors: [], errorSchema: {} }),
  isValid(schema, formData, rootSchema) {
    try {
      return compiled(schema, rootSchema).validate(formData).valid;
    } catch {
      return false;
    }
  },
  rawValidation<Result>(schema: RJSFSchema, formData?: unknown) {
    try {
      return { errors: new Validator(schema as Schema, "7", false).validate(formData).errors as Result[] };
    } catch (e) {
      return { validationError: e as Error };
    }
  },
};
