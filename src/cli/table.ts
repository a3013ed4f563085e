/** The savings table printed at the end of a run or by `infobatch report`. */
import type { RunReport } from "../report/types.js";

const integer = (n: number) => Math.round(n).toLocaleString("en-US");
const percent = (saved: number, full: number) =>
  full > 0 ? `${((100 * saved) / full).toFixed(1)}%` : "-";

function seconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/** Rows of text: what the full-data run took, what this run took, what it saved. */
export function savingsTable(report: RunReport): string {
  const { summary } = report;
  const basis = summary.basis ?? (report.arms.length > 1 ? "measured" : "estimated");
  const rows: string[][] = [
    [
      "",
      basis === "measured" ? "full data" : "full (est.)",
      report.arms[0]?.label ?? "run",
      "saved",
    ],
  ];
  const add = (name: string, a: { full: number; trained: number } | null, fmt = integer) => {
    if (a !== null)
      rows.push([name, fmt(a.full), fmt(a.trained), percent(a.full - a.trained, a.full)]);
  };
  add("tokens", summary.tokens);
  add("steps", summary.steps);
  add("examples", summary.examples);
  if (summary.seconds !== null) {
    add(summary.seconds.estimated ? "wall time (est.)" : "wall time", summary.seconds, seconds);
  }
  const { infobatch, full } = summary.heldOutLoss;
  if (infobatch !== null || full !== null) {
    const delta =
      infobatch !== null && full !== null
        ? `${(((infobatch - full) / full) * 100).toFixed(2)}%`
        : "";
    rows.push([
      "held-out loss",
      full === null ? "-" : full.toFixed(4),
      infobatch === null ? "-" : infobatch.toFixed(4),
      delta === "" ? "" : `Δ ${delta}`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("   "),
    )
    .join("\n");
}
