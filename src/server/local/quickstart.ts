/** The quickstart's own base model and instruction tasks (made by the project, cached on disk). */
import type { LocalRun } from "../schemas.js";
import type { RunSources } from "./sources.js";

export async function quickstartSources(
  _recipe: LocalRun,
  _data: Extract<LocalRun["data"], { source: "quickstart" }>,
  _cacheDir: string,
  _log: (line: string) => void,
): Promise<RunSources> {
  throw new Error("quickstart sources: wired in the next step");
}
