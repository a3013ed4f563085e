/**
 * The run report page: one self-contained HTML document (no external requests; it works from
 * file://) with the savings table rendered here, so it reads without JavaScript, and four Chart.js
 * charts drawn by a small inline script from the embedded data.
 *
 * Runtime-agnostic: the Chart.js UMD bundle text is passed in (on Node, `loadChartJs()` from
 * `./node.js`). Every string from the report is escaped; the data travels as JSON in a
 * `<script type="application/json">` block; a Content-Security-Policy with the hashes of the
 * page's own script and style blocks refuses everything else (external URLs and injected markup).
 */
import { ARM_COLORS, type ChartModel, chartModel } from "./charts.js";
import { base64, sha256 } from "./sha256.js";
import type { ArmReport, EpochPoint, RunReport } from "./types.js";

export interface RenderOptions {
  /** The text of Chart.js's UMD bundle (`chart.js/dist/chart.umd.min.js`), inlined as is. */
  chartJs: string;
  /**
   * When given, the page reloads itself every `refreshSeconds` (a positive integer) through
   * `<meta http-equiv="refresh">`: for live runs. Default: no refresh.
   */
  refreshSeconds?: number;
}

/**
 * Renders `report` as a standalone HTML document.
 *
 * In the page, `window.__charts` holds the Chart.js instances `{ heldOut, train, kept, tokens }`,
 * `#run-report` the report as JSON and `#chart-model` the plotted series (see `chartModel`).
 *
 * @example
 * ```ts
 * import { loadChartJs } from "./node.js";
 * const html = renderReportHtml(report, { chartJs: loadChartJs(), refreshSeconds: 30 });
 * return c.html(html);
 * ```
 */
export function renderReportHtml(report: RunReport, options: RenderOptions): string {
  if (typeof options.chartJs !== "string" || options.chartJs.trim() === "") {
    throw new TypeError(
      `options.chartJs must be the text of Chart.js's UMD bundle, received ${describe(options.chartJs)}`,
    );
  }
  const refresh = options.refreshSeconds;
  if (refresh !== undefined && !(Number.isInteger(refresh) && refresh >= 1)) {
    throw new RangeError(`refreshSeconds must be a positive integer, received ${refresh}`);
  }
  const chartJs = inlineScript(options.chartJs);
  const model = chartModel(report);
  const csp = [
    "default-src 'none'",
    `script-src '${chartJs.hash}' '${PAGE_SCRIPT.hash}'`,
    `style-src '${PAGE_STYLE.hash}'`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  const title = `${report.name} · run report`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
${refresh === undefined ? "" : `<meta http-equiv="refresh" content="${refresh}">\n`}<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="infobatch-it">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE.text}</style>
</head>
<body>
${renderHeader(report, refresh)}
<main>
${renderSummary(report)}
${renderCharts(model)}
${renderEpochTables(report)}
</main>
<script type="application/json" id="run-report">${jsonForScript(report)}</script>
<script type="application/json" id="chart-model">${jsonForScript(model)}</script>
<script>${chartJs.text}</script>
<script>${PAGE_SCRIPT.text}</script>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Escaping and inline blocks

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

const HTML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * JSON safe inside a `<script>` block: `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX` escapes
 * (only ever inside JSON strings, where they mean the same), so no `</script>` or `<!--` appears.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

interface InlineBlock {
  text: string;
  /** CSP source expression `sha256-…` of `text` as the browser hashes it. */
  hash: string;
}

/**
 * Script text made safe to inline: `</script` and `<!--` cannot end or confuse the element
 * (`<\/` and `<\!` mean the same in JS strings, regexes and comments, the only places a bundle
 * holds them), the source-map comment goes (it would name a file that is not there), and line
 * endings become `\n`, as the HTML parser would make them before hashing.
 */
function inlineScript(source: string): InlineBlock {
  if (lastChartJs !== null && lastChartJs.source === source) return lastChartJs.block;
  const text = normalizeNewlines(source)
    .replace(/^\/\/[#@] sourceMappingURL=.*$/gm, "")
    .replace(/<\/(script)/gi, "<\\/$1")
    .replace(/<!--/g, "<\\!--");
  const block = { text, hash: cspHash(text) };
  lastChartJs = { source, block };
  return block;
}

/** The last bundle inlined (the same text every call on one server): hashing it takes a few ms. */
let lastChartJs: { source: string; block: InlineBlock } | null = null;

function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

function cspHash(text: string): string {
  return `sha256-${base64(sha256(text))}`;
}

function describe(value: unknown): string {
  if (typeof value === "string") return `a string of ${value.length} characters`;
  return value === null ? "null" : typeof value;
}

// ---------------------------------------------------------------------------------------------
// Number formatting (deterministic: no locale)

function formatInteger(n: number): string {
  const rounded = Math.round(n);
  const digits = String(Math.abs(rounded));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return rounded < 0 ? `-${grouped}` : grouped;
}

function formatPercent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

function formatSignedPercent(fraction: number): string {
  const text = formatPercent(fraction, 2);
  return fraction > 0 ? `+${text}` : text;
}

/** 42.5 s, 12 min 05 s, 3 h 09 min. */
function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(seconds);
  if (s < 60) return `${sign}${s.toFixed(1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (h === 0) return `${sign}${m} min ${String(rest).padStart(2, "0")} s`;
  return `${sign}${h} h ${String(m).padStart(2, "0")} min`;
}

function formatLoss(loss: number | null): string {
  return loss === null || !Number.isFinite(loss) ? "—" : loss.toFixed(4);
}

const DASH = "—";

// ---------------------------------------------------------------------------------------------
// Server-side sections

function renderHeader(report: RunReport, refresh: number | undefined): string {
  const statusClass = `status-${report.status.toLowerCase().replace(/[^a-z0-9-]/g, "")}`;
  const arms = report.arms
    .map(
      (arm, i) =>
        `<span class="arm"><span class="swatch arm-${i % ARM_COLORS.length}"></span>${escapeHtml(arm.label)} <code>${escapeHtml(arm.runId)}</code></span>`,
    )
    .join("");
  return `<header>
<p class="kicker">InfoBatch run report</p>
<h1>${escapeHtml(report.name)}</h1>
<p class="meta">Run <code>${escapeHtml(report.id)}</code> <span class="status ${statusClass}">${escapeHtml(report.status)}</span> created ${escapeHtml(report.createdAt)}${refresh === undefined ? "" : ` · refreshes every ${refresh} s`}</p>
${arms === "" ? "" : `<p class="arms">${arms}</p>`}
</header>`;
}

interface SavingsRow {
  label: string;
  full: string;
  trained: string;
  saved: string;
  savedPercent: string;
  note: string;
}

function savingsRow(
  label: string,
  amount: { full: number; trained: number } | null,
  format: (n: number) => string,
  note = "",
): SavingsRow {
  if (amount === null) {
    return { label, full: DASH, trained: DASH, saved: DASH, savedPercent: DASH, note };
  }
  const saved = amount.full - amount.trained;
  return {
    label,
    full: format(amount.full),
    trained: format(amount.trained),
    saved: format(saved),
    savedPercent: amount.full > 0 ? formatPercent(saved / amount.full) : DASH,
    note,
  };
}

/** (InfoBatch − full) / full, or null when either is missing. */
function relativeDifference(infobatch: number | null, full: number | null): number | null {
  if (infobatch === null || full === null || !Number.isFinite(infobatch) || !Number.isFinite(full))
    return null;
  return full === 0 ? null : (infobatch - full) / full;
}

function renderSummary(report: RunReport): string {
  const { summary } = report;
  const basis = summary.basis ?? (report.arms.length > 1 ? "measured" : "estimated");
  const runLabel = report.arms[0]?.label ?? "InfoBatch";
  const fullLabel = report.arms[1]?.label ?? "Full data";
  const rows = [
    savingsRow("Tokens", summary.tokens, formatInteger),
    savingsRow("Optimizer steps", summary.steps, formatInteger),
    savingsRow("Examples", summary.examples, formatInteger),
    savingsRow(
      "Wall time",
      summary.seconds,
      formatDuration,
      summary.seconds?.estimated ? "estimated" : "",
    ),
  ];
  const body = rows
    .map(
      (r) =>
        `<tr data-row="${escapeHtml(r.label)}"><th scope="row">${escapeHtml(r.label)}${r.note === "" ? "" : ` <span class="tag">${escapeHtml(r.note)}</span>`}</th><td>${r.full}</td><td>${r.trained}</td><td>${r.saved}</td><td class="saved-pct${r.savedPercent === DASH ? " none" : ""}">${r.savedPercent}</td></tr>`,
    )
    .join("\n");

  const { infobatch, full } = summary.heldOutLoss;
  const diff = relativeDifference(infobatch, full);
  const diffText = diff === null ? DASH : formatSignedPercent(diff);

  const tiles = [
    tile("Tokens saved", rows[0].savedPercent, rows[0].full === DASH ? "" : `of ${rows[0].full}`),
    tile("Steps saved", rows[1].savedPercent, rows[1].full === DASH ? "" : `of ${rows[1].full}`),
    tile("Wall time saved", rows[3].savedPercent, rows[3].saved === DASH ? "" : rows[3].saved),
    tile(
      "Held-out loss vs full",
      diffText,
      infobatch === null && full === null ? "" : `${formatLoss(infobatch)} vs ${formatLoss(full)}`,
    ),
  ].join("");

  return `<section class="card" id="savings">
<h2>Savings</h2>
<div class="tiles">${tiles}</div>
<div class="table-wrap"><table class="savings">
<thead><tr><th scope="col"></th><th scope="col">Full data</th><th scope="col">Trained</th><th scope="col">Saved</th><th scope="col">Saved %</th></tr></thead>
<tbody>
${body}
</tbody>
</table></div>
<div class="table-wrap"><table class="held-out">
<thead><tr><th scope="col"></th><th scope="col">${escapeHtml(runLabel)}</th><th scope="col">${escapeHtml(fullLabel)}</th><th scope="col">Relative difference</th></tr></thead>
<tbody>
<tr data-row="Held-out loss"><th scope="row">Held-out loss (final)</th><td>${formatLoss(infobatch)}</td><td>${formatLoss(full)}</td><td class="relative">${diffText}</td></tr>
</tbody>
</table></div>
<p class="note">${
    basis === "measured"
      ? "Totals measured against the full-data run."
      : "Totals estimated from the savings ledger: what full-data training of the same recipe would have trained."
  } Relative difference = (${escapeHtml(runLabel)} − full) / full; lower loss is better.</p>
</section>`;
}

function tile(label: string, value: string, detail: string): string {
  return `<div class="tile"><div class="tile-label">${escapeHtml(label)}</div><div class="tile-value">${escapeHtml(value)}</div><div class="tile-detail">${escapeHtml(detail)}</div></div>`;
}

function renderCharts(model: ChartModel): string {
  const tokens = model.xUnit === "tokens";
  const empty = (series: Array<{ points: unknown[] }>) =>
    series.every((s) => s.points.length === 0);
  const figure = (id: string, title: string, caption: string, isEmpty: boolean) =>
    `<figure><figcaption>${escapeHtml(title)}<small>${escapeHtml(caption)}</small></figcaption><div class="chart"><canvas id="chart-${id}" role="img" aria-label="${escapeHtml(title)}"></canvas>${isEmpty ? '<p class="empty">No data yet</p>' : ""}</div></figure>`;
  return `<section class="charts" id="charts">
${figure(
  "heldOut",
  tokens ? "Held-out loss vs training tokens" : "Held-out loss per epoch",
  tokens
    ? "Measured after each epoch; x is the cumulative tokens trained by then."
    : "Measured after each epoch (token counts unknown).",
  empty(model.heldOut),
)}
${figure(
  "train",
  tokens ? "Training loss vs training tokens" : "Training loss per epoch",
  model.train.some((s) => s.dense)
    ? "Per optimizer step (mean per-example loss of the batch)."
    : "Mean per-example training loss of each epoch.",
  empty(model.train),
)}
${figure(
  "kept",
  "Kept fraction and pruning threshold per epoch",
  "Bars: share of the dataset trained. Line: the threshold (mean score) the epoch was planned with.",
  model.epochs.length === 0,
)}
${figure(
  "tokens",
  `Cumulative ${model.cumulative.unit} per epoch`,
  `Total ${model.cumulative.unit} trained by the end of each epoch.`,
  model.epochs.length === 0,
)}
</section>`;
}

function fraction(trained: number | null, full: number | null): string {
  if (trained === null) return DASH;
  return full === null
    ? formatInteger(trained)
    : `${formatInteger(trained)} <span class="muted">/ ${formatInteger(full)}</span>`;
}

function epochRow(e: EpochPoint): string {
  const cells = [
    formatPercent(e.keptFraction),
    e.threshold === null ? DASH : e.threshold.toFixed(3),
    fraction(e.examples, e.fullExamples),
    fraction(e.tokens, e.fullTokens),
    fraction(e.steps, e.fullSteps),
    formatLoss(e.trainLoss),
    formatLoss(e.heldOutLoss),
    e.seconds === null ? DASH : formatDuration(e.seconds),
  ];
  return `<tr><th scope="row">${e.epoch}</th>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
}

function renderEpochTables(report: RunReport): string {
  const table = (arm: ArmReport, i: number) => {
    const rows = [...arm.epochs].sort((a, b) => a.epoch - b.epoch).map(epochRow);
    return `<details${i === 0 ? " open" : ""}><summary><span class="swatch arm-${i % ARM_COLORS.length}"></span>${escapeHtml(arm.label)} <span class="muted">${arm.epochs.length} epoch${arm.epochs.length === 1 ? "" : "s"}</span></summary>
<div class="table-wrap"><table class="epochs">
<thead><tr><th scope="col">Epoch</th><th scope="col">Kept</th><th scope="col">Threshold</th><th scope="col">Examples</th><th scope="col">Tokens</th><th scope="col">Steps</th><th scope="col">Train loss</th><th scope="col">Held-out loss</th><th scope="col">Time</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table></div>
</details>`;
  };
  return `<section class="card" id="epochs">
<h2>Per epoch</h2>
${report.arms.map(table).join("\n")}
</section>`;
}

// ---------------------------------------------------------------------------------------------
// The page's own style and script (constants: their CSP hashes are computed once)

const FONT_STACK =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';

const STYLE = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --border: #e5e7eb; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 ${FONT_STACK}; color: var(--fg); background: var(--bg); }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
main { padding-bottom: 32px; }
.kicker { margin: 0; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
h1 { font-size: 24px; line-height: 1.25; margin: 2px 0 6px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 0 0 12px; }
.meta, .arms { margin: 0 0 4px; color: var(--muted); }
.arms { display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--fg); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); overflow-wrap: anywhere; }
.status { display: inline-block; margin: 0 6px; padding: 0 9px; border-radius: 999px; background: #e5e7eb; color: #374151; font-size: 12px; font-weight: 600; }
.status-running, .status-pending, .status-queued { background: #dbeafe; color: #1d4ed8; }
.status-succeeded, .status-completed, .status-done, .status-finished { background: #dcfce7; color: #15803d; }
.status-failed, .status-error, .status-cancelled, .status-canceled { background: #fee2e2; color: #b91c1c; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
${ARM_COLORS.map((c, i) => `.arm-${i} { background: ${c}; }`).join("\n")}
.card, figure { background: #fff; border: 1px solid var(--border); border-radius: 10px; }
.card { padding: 16px 20px; margin: 16px 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { border: 1px solid var(--border); border-radius: 8px; padding: 10px 14px; }
.tile-label { color: var(--muted); font-size: 12px; }
.tile-value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile-detail { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; min-height: 18px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin-bottom: 8px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--border); text-align: right; white-space: nowrap; }
th:first-child { text-align: left; }
thead th { color: var(--muted); font-size: 12px; font-weight: 600; }
tbody th { font-weight: 500; }
td.saved-pct { font-weight: 700; color: #15803d; }
td.saved-pct.none { font-weight: 400; color: var(--fg); }
.tag { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; background: #fef3c7; color: #92400e; font-size: 11px; font-weight: 600; }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
figure { margin: 0; padding: 14px 16px 10px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figcaption small { display: block; color: var(--muted); font-size: 12px; font-weight: 400; }
.chart { position: relative; height: 300px; }
.empty { position: absolute; inset: 0; margin: 0; display: flex; align-items: center; justify-content: center; color: var(--muted); pointer-events: none; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
@media (max-width: 560px) { .charts { grid-template-columns: 1fr; } header, main { padding: 0 12px; } }
@media print { body { background: #fff; } .card, figure { break-inside: avoid; } }
`;

/** Draws the four charts from `#chart-model`; ES2017, no modules (it runs from file:// too). */
const SCRIPT = `
(function () {
  "use strict";
  var Chart = window.Chart;
  if (typeof Chart !== "function") throw new Error("Chart.js did not load");
  var model = JSON.parse(document.getElementById("chart-model").textContent);
  var tokensX = model.xUnit === "tokens";

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = ${JSON.stringify(FONT_STACK)};
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#374151";
  Chart.defaults.borderColor = "#e5e7eb";
  Chart.defaults.plugins.legend.position = "bottom";
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.plugins.legend.labels.sort = function (a, b) { return a.datasetIndex - b.datasetIndex; };

  function round1(v) { return String(Math.round(v * 10) / 10); }
  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return round1(v / 1e9) + "B";
    if (a >= 1e6) return round1(v / 1e6) + "M";
    if (a >= 1e3) return round1(v / 1e3) + "k";
    return String(Math.round(v * 1000) / 1000);
  }
  function percent(v) { return Math.round(v * 100) + "%"; }
  function translucent(hex, alpha) {
    return hex + ("0" + Math.round(alpha * 255).toString(16)).slice(-2);
  }
  function canvas(id) { return document.getElementById("chart-" + id); }
  function title(text) { return { display: true, text: text }; }

  function xAxis() {
    return {
      type: "linear",
      min: 0,
      title: title(tokensX ? "cumulative training tokens" : "epochs completed"),
      ticks: tokensX ? { callback: compact } : { precision: 0 },
    };
  }
  function line(s) {
    return {
      label: s.label,
      data: s.points.map(function (p) { return { x: p[0], y: p[1] }; }),
      borderColor: s.dense ? translucent(s.color, 0.8) : s.color,
      backgroundColor: s.color,
      borderWidth: s.dense ? 1 : 2,
      pointRadius: s.dense ? 0 : 3,
      pointHoverRadius: s.dense ? 3 : 5,
    };
  }
  function lossChart(id, series) {
    return new Chart(canvas(id), {
      type: "line",
      data: { datasets: series.map(line) },
      options: {
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: { x: xAxis(), y: { title: title("loss") } },
        plugins: {
          tooltip: {
            callbacks: {
              title: function (items) {
                var x = items.length ? items[0].parsed.x : 0;
                return tokensX ? compact(x) + " tokens" : "epoch " + x;
              },
            },
          },
        },
      },
    });
  }

  var labels = model.epochs.map(String);
  var charts = {};
  charts.heldOut = lossChart("heldOut", model.heldOut);
  charts.train = lossChart("train", model.train);
  charts.kept = new Chart(canvas("kept"), {
    type: "bar",
    data: {
      labels: labels,
      datasets: model.kept
        .map(function (s) {
          return {
            type: "bar",
            label: s.label + " kept",
            data: s.values,
            backgroundColor: translucent(s.color, 0.55),
            borderColor: s.color,
            borderWidth: 1,
            yAxisID: "y",
            order: 2,
          };
        })
        .concat(
          model.threshold.map(function (s) {
            return {
              type: "line",
              label: s.label,
              data: s.values,
              borderColor: s.color,
              backgroundColor: s.color,
              borderWidth: 2,
              borderDash: [6, 4],
              pointRadius: 3,
              yAxisID: "y1",
              order: 1,
            };
          }),
        ),
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { title: title("epoch") },
        y: { min: 0, max: 1, title: title("kept fraction"), ticks: { callback: percent } },
        y1: {
          position: "right",
          display: model.threshold.length > 0,
          title: title("threshold (mean score)"),
          grid: { drawOnChartArea: false },
        },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = ctx.parsed.y;
              if (v === null || v === undefined) return ctx.dataset.label + ": none";
              return ctx.dataset.label + ": " +
                (ctx.dataset.yAxisID === "y" ? (v * 100).toFixed(1) + "%" : v.toFixed(3));
            },
          },
        },
      },
    },
  });
  charts.tokens = new Chart(canvas("tokens"), {
    type: "line",
    data: {
      labels: labels,
      datasets: model.cumulative.series.map(function (s) {
        return {
          label: s.label,
          data: s.values,
          borderColor: s.color,
          backgroundColor: translucent(s.color, 0.12),
          fill: "origin",
          borderWidth: 2,
          pointRadius: 3,
        };
      }),
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { title: title("epoch") },
        y: { min: 0, title: title("cumulative " + model.cumulative.unit), ticks: { callback: compact } },
      },
    },
  });
  window.__charts = charts;
})();
`;

const PAGE_STYLE: InlineBlock = { text: STYLE, hash: cspHash(STYLE) };
const PAGE_SCRIPT: InlineBlock = { text: SCRIPT, hash: cspHash(SCRIPT) };
