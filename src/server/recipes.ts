/**
 * Recipe parameters: a recipe file may declare `"params": { "data": "../shared/data" }` and use
 * `${data}` inside any string; a request (or `infobatch run --param data=/x`) overrides the
 * defaults. Substitution is plain text, done before validation, so the schema checks the result.
 */
import { ApiError } from "./errors.js";

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function applyParams(template: unknown, given: Record<string, string> = {}): unknown {
  if (typeof template !== "object" || template === null || Array.isArray(template)) return template;
  const { params: declared, ...recipe } = template as Record<string, unknown>;
  const defaults: Record<string, string> = {};
  if (declared !== undefined) {
    if (typeof declared !== "object" || declared === null || Array.isArray(declared)) {
      throw new ApiError(400, "invalid_recipe", "params must map names to default strings", [
        "params",
      ]);
    }
    for (const [name, value] of Object.entries(declared)) {
      if (typeof value !== "string") {
        throw new ApiError(400, "invalid_recipe", `param ${name} must default to a string`, [
          "params",
          name,
        ]);
      }
      defaults[name] = value;
    }
  }
  for (const name of Object.keys(given)) {
    if (!(name in defaults)) {
      const known = Object.keys(defaults);
      throw new ApiError(
        400,
        "unknown_param",
        `this recipe has no param "${name}"${known.length > 0 ? `; it has ${known.join(", ")}` : ""}`,
        ["params", name],
      );
    }
  }
  const values = { ...defaults, ...given };
  const substitute = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === "string") {
      return value.replace(PLACEHOLDER, (_, name: string) => {
        if (!(name in values)) {
          throw new ApiError(400, "unknown_param", `\${${name}} is not a declared param`, path);
        }
        return values[name];
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => substitute(v, [...path, i]));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, substitute(v, [...path, k])]),
      );
    }
    return value;
  };
  return substitute(recipe, []);
}
