import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chartModel } from "./charts.js";
import { loadChartJs } from "./node.js";
import { jsonForScript, renderReportHtml } from "./render.js";
import { base64, sha256 } from "./sha256.js";
import { FIXTURE_EXAMPLES, FIXTURE_TOKENS_PER_EPOCH, fixtureReport } from "./test-fixture.js";
import type { EpochPoint, RunReport } from "./types.js";

const STUB = "/* chart.js stub */ window.Chart = function () {};";
const HOSTILE = "</script><img src=x onerror=alert(1)>";

/** The text content of the element `<tag … id="id">…</tag>` (first match). */
function blockById(html: string, id: string): string {
  const match = new RegExp(`<script type="application/json" id="${id}">([^<]*)</script>`).exec(
    html,
  );
  if (match === null) throw new Error(`no #${id} block in the page`);
  return match[1];
}

/** The cells of the table row `data-row="label"`, tags stripped. */
function row(html: string, label: string): string[] {
  const match = new RegExp(`<tr data-row="${label}">(.*?)</tr>`).exec(html);
  if (match === null) throw new Error(`no row ${label}`);
  return [...match[1].matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((m) =>
    m[1].replace(/<[^>]*>/g, "").trim(),
  );
}

function epoch(epoch: number, patch: Partial<EpochPoint> = {}): EpochPoint {
  return {
    epoch,
    trainLoss: 1.5 - epoch * 0.1,
    heldOutLoss: 1.6 - epoch * 0.1,
    keptFraction: 1,
    threshold: null,
    tokens: 1000,
    fullTokens: 1000,
    examples: 10,
    fullExamples: 10,
    steps: 2,
    fullSteps: 2,
    seconds: 30,
    ...patch,
  };
}

/** Round figures, so the table's text is checked exactly. */
function smallReport(summary: Partial<RunReport["summary"]> = {}): RunReport {
  return {
    id: "run_1",
    name: "small",
    status: "running",
    createdAt: "2025-01-01T00:00:00Z",
    arms: [
      {
        label: "InfoBatch",
        runId: "run_1",
        epochs: [epoch(0), epoch(1, { keptFraction: 0.6, threshold: 0.8, tokens: 620 })],
        steps: [],
      },
    ],
    summary: {
      tokens: { full: 1_000_000, trained: 620_000 },
      steps: null,
      examples: { full: 52_000, trained: 31_720 },
      seconds: { full: 7_380, trained: 4_500, estimated: true },
      heldOutLoss: { infobatch: 1.2, full: 1.25 },
      ...summary,
    },
  };
}

describe("renderReportHtml: escaping", () => {
  const report = fixtureReport({ name: HOSTILE, status: HOSTILE, createdAt: HOSTILE });
  report.arms[0].label = HOSTILE;
  report.arms[1].runId = `"><script>alert(2)</script>`;
  report.arms[1].label = "line\u2028separator\u2029paragraph";
  const html = renderReportHtml(report, { chartJs: STUB });

  it("escapes every string from the data in the markup", () => {
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("alert(2)</script>");
    expect(html).toContain("<h1>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</h1>");
    expect(html).toContain("<title>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; · run report");
    // Exactly the page's own four script elements open and close.
    expect(html.match(/<script/gi)).toHaveLength(4);
    expect(html.match(/<\/script/gi)).toHaveLength(4);
  });

  it("embeds the report as JSON that parses back to the same data", () => {
    const json = blockById(html, "run-report");
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(report);
    expect(JSON.parse(blockById(html, "chart-model"))).toEqual(chartModel(report));
  });

  it("escapes </script, <!-- and U+2028/2029 in JSON", () => {
    expect(jsonForScript({ s: "</script><!--\u2028\u2029&" })).toBe(
      '{"s":"\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\u0026"}',
    );
  });

  it("keeps a </script> inside the Chart.js text from closing its element", () => {
    const page = renderReportHtml(smallReport(), {
      chartJs: 'var s = "</SCRIPT><b>x</b><!--";\n//# sourceMappingURL=chart.umd.min.js.map\n',
    });
    expect(page).toContain('var s = "<\\/SCRIPT><b>x</b><\\!--";');
    expect(page).not.toContain("sourceMappingURL");
    expect(page.match(/<\/script/gi)).toHaveLength(4);
  });
});

describe("renderReportHtml: savings table", () => {
  it("shows full, trained, saved and saved % per row", () => {
    const html = renderReportHtml(smallReport(), { chartJs: STUB });
    expect(row(html, "Tokens")).toEqual(["Tokens", "1,000,000", "620,000", "380,000", "38.0%"]);
    expect(row(html, "Optimizer steps")).toEqual(["Optimizer steps", "—", "—", "—", "—"]);
    expect(row(html, "Examples")).toEqual(["Examples", "52,000", "31,720", "20,280", "39.0%"]);
    expect(row(html, "Wall time")).toEqual([
      "Wall time estimated",
      "2 h 03 min",
      "1 h 15 min",
      "48 min 00 s",
      "39.0%",
    ]);
    expect(row(html, "Held-out loss")).toEqual([
      "Held-out loss (final)",
      "1.2000",
      "1.2500",
      "-4.00%",
    ]);
    expect(html).toContain("Totals estimated from the savings ledger");
  });

  it("totals the realistic two-arm fixture", () => {
    const report = fixtureReport();
    const html = renderReportHtml(report, { chartJs: STUB });
    const tokens = report.summary.tokens!;
    expect(tokens.full).toBe(8 * FIXTURE_TOKENS_PER_EPOCH);
    const saved = (tokens.full - tokens.trained) / tokens.full;
    expect(saved).toBeGreaterThan(0.2);
    expect(row(html, "Tokens")[4]).toBe(`${(saved * 100).toFixed(1)}%`);
    expect(row(html, "Examples")[1]).toBe((8 * FIXTURE_EXAMPLES).toLocaleString("en-US"));
    expect(row(html, "Held-out loss")[3]).toMatch(/^[+-]?\d+\.\d\d%$/);
    expect(html).toContain("Totals measured against the full-data run.");
  });

  it("shows dashes for a held-out loss not measured", () => {
    const html = renderReportHtml(smallReport({ heldOutLoss: { infobatch: 1.2, full: null } }), {
      chartJs: STUB,
    });
    expect(row(html, "Held-out loss")).toEqual(["Held-out loss (final)", "1.2000", "—", "—"]);
  });
});

describe("renderReportHtml: a standalone page", () => {
  it("makes no external request: no URL, src, href, @import or url()", () => {
    const html = renderReportHtml(fixtureReport(), { chartJs: STUB });
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/\s(src|href|action|srcset)=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain(
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-",
    );
  });

  it("inlines the real Chart.js bundle without its source-map comment", () => {
    const chartJs = loadChartJs();
    const html = renderReportHtml(fixtureReport(), { chartJs });
    expect(html).toContain("Chart.js v4");
    expect(html).not.toContain("sourceMappingURL");
    expect(html).not.toMatch(/\s(src|href)=/i);
    // The bundle's only URLs are in its licence comment and a string it never fetches.
    const urls = html.match(/https?:\/\/[^\s"'`)]+/g) ?? [];
    expect(new Set(urls)).toEqual(
      new Set(["https://www.chartjs.org", "https://github.com/kurkle/color#readme"]),
    );
  });

  it("lists the sha256 of each of its own scripts and its style in the CSP", () => {
    const html = renderReportHtml(fixtureReport(), { chartJs: loadChartJs() });
    const csp = /content="(default-src[^"]*)"/.exec(html)![1];
    const hashOf = (text: string) =>
      `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
    expect(scripts).toHaveLength(2);
    expect(csp).toBe(
      `default-src 'none'; script-src ${hashOf(scripts[0])} ${hashOf(scripts[1])}; style-src ${hashOf(style)}; img-src data:; base-uri 'none'; form-action 'none'`,
    );
  });

  it("renders the same bytes for the same report", () => {
    const chartJs = loadChartJs();
    expect(renderReportHtml(fixtureReport(), { chartJs })).toBe(
      renderReportHtml(fixtureReport(), { chartJs }),
    );
  });

  it("adds a refresh meta only when refreshSeconds is given", () => {
    expect(renderReportHtml(smallReport(), { chartJs: STUB })).not.toContain("refresh");
    const live = renderReportHtml(smallReport(), { chartJs: STUB, refreshSeconds: 30 });
    expect(live).toContain('<meta http-equiv="refresh" content="30">');
    expect(live).toContain("refreshes every 30 s");
    for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => renderReportHtml(smallReport(), { chartJs: STUB, refreshSeconds: bad })).toThrow(
        `refreshSeconds must be a positive integer, received ${bad}`,
      );
    }
  });

  it("refuses a missing Chart.js bundle", () => {
    expect(() => renderReportHtml(smallReport(), { chartJs: "" })).toThrow(
      "options.chartJs must be the text of Chart.js's UMD bundle, received a string of 0 characters",
    );
  });
});

describe("chartModel", () => {
  it("plots tokens on x when every arm has them, steps for the training curve", () => {
    const report = fixtureReport();
    const model = chartModel(report);
    const [infobatch, full] = report.arms;
    expect(model.xUnit).toBe("tokens");
    expect(model.heldOut.map((s) => s.points.length)).toEqual([8, 8]);
    expect(model.heldOut[1].points.at(-1)).toEqual([
      8 * FIXTURE_TOKENS_PER_EPOCH,
      full.epochs[7].heldOutLoss,
    ]);
    expect(model.train.map((s) => s.points.length)).toEqual([
      infobatch.steps.length,
      full.steps.length,
    ]);
    expect(model.train.every((s) => s.dense)).toBe(true);
    expect(model.epochs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(model.kept[0].values).toEqual(infobatch.epochs.map((e) => e.keptFraction));
    expect(model.kept[1].values).toEqual(Array(8).fill(1));
    expect(model.threshold).toHaveLength(1);
    expect(model.threshold[0].values[0]).toBeNull();
    expect(model.threshold[0].values[7]).toBeNull();
    expect(model.cumulative.unit).toBe("tokens");
    expect(model.cumulative.series[0].values.at(-1)).toBe(report.summary.tokens!.trained);
    expect(model.cumulative.series[1].values.at(-1)).toBe(report.summary.tokens!.full);
  });

  it("falls back to epochs and examples when an arm lacks token counts", () => {
    const report = smallReport();
    report.arms[0].epochs[1] = { ...report.arms[0].epochs[1], tokens: null, heldOutLoss: null };
    report.arms[0].steps = [{ epoch: 0, step: 1, tokens: 500, loss: 2 }];
    const model = chartModel(report);
    expect(model.xUnit).toBe("epochs");
    expect(model.heldOut[0].points).toEqual([[1, 1.6]]);
    expect(model.train[0]).toMatchObject({
      dense: false,
      points: [
        [1, 1.5],
        [2, 1.4],
      ],
    });
    expect(model.cumulative).toMatchObject({ unit: "examples", series: [{ values: [10, 20] }] });
  });
});

describe("sha256", () => {
  it("matches node:crypto", () => {
    const texts = [
      "",
      "abc",
      "a".repeat(55),
      "b".repeat(56),
      "c".repeat(64),
      "é€😀\u2028".repeat(99),
    ];
    for (const text of [...texts, loadChartJs()]) {
      expect(base64(sha256(text))).toBe(createHash("sha256").update(text, "utf8").digest("base64"));
    }
  });
});
