/**
 * The run report page, runtime-agnostic. On Node, `loadChartJs` and `writeReportFile` live in
 * `./node.js` (kept out of this entry so it imports no `node:` module).
 */
export { type ChartModel, chartModel, type EpochSeries, type LineSeries } from "./charts.js";
export { type RenderOptions, renderReportHtml } from "./render.js";
export type { ArmReport, EpochPoint, RunReport, StepPoint } from "./types.js";
