import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadChartJs, writeReportFile } from "./node.js";
import { renderReportHtml } from "./render.js";
import { fixtureReport } from "./test-fixture.js";

describe("report on Node", () => {
  const dir = mkdtempSync(join(tmpdir(), "infobatch-report-node-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads Chart.js's UMD bundle once", () => {
    const chartJs = loadChartJs();
    expect(chartJs).toMatch(/^\/\*!\n \* Chart\.js v4\./);
    expect(chartJs).toContain("window.Chart=");
    expect(loadChartJs()).toBe(chartJs);
  });

  it("writes the rendered page, leaving no temporary file", () => {
    const report = fixtureReport();
    const path = join(dir, "report.html");
    writeReportFile(path, report, { refreshSeconds: 15 });
    writeReportFile(path, report, { refreshSeconds: 15 });
    expect(readFileSync(path, "utf8")).toBe(
      renderReportHtml(report, { chartJs: loadChartJs(), refreshSeconds: 15 }),
    );
    expect(readdirSync(dir)).toEqual(["report.html"]);
  });
});
