/**
 * Path confinement for recipes and the files they name: a path resolves against the server's
 * working directory and must stay inside one of the configured roots after symlinks are
 * followed, so a recipe cannot read `../../etc/passwd` or a link pointing out.
 */
import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { ApiError } from "../errors.js";

export function confine(
  path: string,
  roots: readonly string[],
  field: ReadonlyArray<string | number>,
): string {
  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    throw new ApiError(400, "file_not_found", `no file ${path}`, field);
  }
  const real = realpathSync(absolute);
  for (const root of roots) {
    const rel = relative(realpathSync(resolve(root)), real);
    if (rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))) return real;
  }
  throw new ApiError(
    400,
    "path_outside_roots",
    `${path} is outside the allowed data folders (${roots.join(", ")})`,
    field,
  );
}
