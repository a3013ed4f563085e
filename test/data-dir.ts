/** Where the shared reference data lives: $INFOBATCH_DATA, else ../shared/data beside the repo. */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const DATA_DIR =
  process.env.INFOBATCH_DATA ?? join(import.meta.dirname, "..", "..", "shared", "data");

export function dataPath(...parts: string[]): string {
  const path = join(DATA_DIR, ...parts);
  if (!existsSync(path)) {
    throw new Error(
      `reference data not found: ${path} (set INFOBATCH_DATA to the shared data folder)`,
    );
  }
  return path;
}
