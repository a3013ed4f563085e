/**
 * The report on Node: Chart.js's UMD bundle read from node_modules, and the page written to a
 * file (the CLI's standalone report). The only file under src/report that imports `node:`.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type RenderOptions, renderReportHtml } from "./render.js";
import type { RunReport } from "./types.js";

let chartJs: string | undefined;

/**
 * The text of `chart.js/dist/chart.umd.min.js`, read once and cached. chart.js's `exports` map
 * does not expose that file, so it is found beside the package's resolved main entry
 * (`dist/chart.cjs`).
 */
export function loadChartJs(): string {
  if (chartJs === undefined) {
    const main = createRequire(import.meta.url).resolve("chart.js");
    chartJs = readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8");
  }
  return chartJs;
}

/**
 * Renders `report` and writes it to `path` as a standalone HTML file. The file is written beside
 * `path` and renamed over it, so a browser refreshing a live report never reads half a page.
 *
 * @example
 * ```ts
 * writeReportFile("runs/alpaca-lora.html", report, { refreshSeconds: 30 });
 * ```
 */
export function writeReportFile(
  path: string,
  report: RunReport,
  options: Omit<RenderOptions, "chartJs"> = {},
): void {
  const html = renderReportHtml(report, { ...options, chartJs: loadChartJs() });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, html, "utf8");
  renameSync(temporary, path);
}
