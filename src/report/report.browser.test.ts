/**
 * The rendered report in headless Chromium (playwright-core, the system's Chromium): served over
 * HTTP from 127.0.0.1 and opened from file://, it draws every chart from the embedded data with no
 * error and no request beyond the page itself. Skipped when there is no Chromium
 * ($CHROMIUM_PATH, default /usr/bin/chromium). Set $REPORT_SCREENSHOT to a .png path to keep a
 * full-page screenshot.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartModel } from "./charts.js";
import { loadChartJs } from "./node.js";
import { renderReportHtml } from "./render.js";
import { fixtureReport } from "./test-fixture.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HOSTILE = "</script><img src=x onerror=alert(1)>";

interface ChartState {
  type: string;
  datasets: Array<{ label: string; type: string | null; points: number; drawn: number }>;
  /** Pixels with any opacity, and pixels in the first arm's blue (#2563eb). */
  ink: number;
  blue: number;
  width: number;
  height: number;
}

/** Runs in the page (typed as a string: the tsconfig has no DOM lib). */
const INSPECT = `(() => {
  const out = {};
  for (const [name, chart] of Object.entries(window.__charts)) {
    const canvas = chart.canvas;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let ink = 0;
    let blue = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] === 0) continue;
      ink++;
      const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
      if (b > 180 && r < 140 && b - r > 90 && b - g > 50) blue++;
    }
    out[name] = {
      type: chart.config.type,
      datasets: chart.data.datasets.map((d, i) => ({
        label: d.label,
        type: d.type ?? null,
        points: d.data.length,
        drawn: chart.getDatasetMeta(i).data.filter((e) => !e.skip && Number.isFinite(e.x) && Number.isFinite(e.y)).length,
      })),
      ink,
      blue,
      width: canvas.width,
      height: canvas.height,
    };
  }
  return out;
})()`;

describe.skipIf(!existsSync(CHROMIUM))("the report page in Chromium", () => {
  const report = fixtureReport();
  const model = chartModel(report);
  const chartJs = loadChartJs();
  const pages: Record<string, string> = {
    "/": renderReportHtml(report, { chartJs }),
    "/hostile": renderReportHtml(fixtureReport({ name: HOSTILE }), { chartJs }),
  };
  const served: string[] = [];
  let dir: string;
  let server: Server;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "infobatch-report-"));
    writeFileSync(join(dir, "report.html"), pages["/"]);
    server = createServer((request, response) => {
      served.push(request.url ?? "");
      const body = pages[request.url ?? ""];
      response.writeHead(body === undefined ? 404 : 200, {
        "content-type": "text/html; charset=utf-8",
      });
      response.end(body ?? "not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens `url` in a fresh page, recording errors, requests and dialogs. */
  async function open(url: string) {
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("request", (request) => requests.push(request.url()));
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction("window.__charts !== undefined", undefined, { timeout: 5_000 });
    return { page, errors, requests, dialogs };
  }

  /** Every chart holds the model's series, drew each point, and put its colours on the canvas. */
  async function expectCharts(page: Page): Promise<Record<string, ChartState>> {
    const charts = await page.evaluate<Record<string, ChartState>>(INSPECT);
    expect(Object.keys(charts).sort()).toEqual(["heldOut", "kept", "tokens", "train"]);

    const arms = report.arms;
    const epochs = arms[0].epochs.length;
    expect(charts.heldOut.datasets.map((d) => [d.label, d.points, d.drawn])).toEqual(
      arms.map((arm) => [arm.label, epochs, epochs]),
    );
    expect(charts.train.datasets.map((d) => [d.label, d.points, d.drawn])).toEqual(
      arms.map((arm) => [arm.label, arm.steps.length, arm.steps.length]),
    );
    // Bars: one per arm and epoch. Threshold line: the InfoBatch arm only, no point where off.
    const thresholds = arms[0].epochs.filter((e) => e.threshold !== null).length;
    expect(charts.kept.datasets.map((d) => [d.label, d.type, d.points, d.drawn])).toEqual([
      ["InfoBatch kept", "bar", epochs, epochs],
      ["Full data kept", "bar", epochs, epochs],
      ["InfoBatch threshold", "line", epochs, thresholds],
    ]);
    expect(charts.tokens.datasets.map((d) => [d.label, d.points, d.drawn])).toEqual(
      arms.map((arm) => [arm.label, epochs, epochs]),
    );
    expect(model.train[0].points.length).toBe(arms[0].steps.length);

    for (const [name, chart] of Object.entries(charts)) {
      expect(chart.width, name).toBeGreaterThan(400);
      expect(chart.height, name).toBeGreaterThan(200);
      // A blank canvas has no ink at all; axes alone are a few thousand pixels, data lines more.
      expect(chart.ink, name).toBeGreaterThan(5_000);
      expect(chart.blue, name).toBeGreaterThan(300);
    }
    return charts;
  }

  it("draws every chart from a page served over HTTP, with no other request", async () => {
    const url = `${origin}/`;
    const { page, errors, requests, dialogs } = await open(url);
    try {
      expect(errors).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(requests).toEqual([url]);
      await expectCharts(page);

      const tokens = report.summary.tokens!;
      const saved = (((tokens.full - tokens.trained) / tokens.full) * 100).toFixed(1);
      expect(await page.textContent('tr[data-row="Tokens"] td.saved-pct')).toBe(`${saved}%`);
      expect(await page.title()).toBe(`${report.name} · run report`);

      // Kept only when asked for; otherwise removed with the temporary directory.
      const screenshot = process.env.REPORT_SCREENSHOT ?? join(dir, "report.png");
      await page.screenshot({ path: screenshot, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("draws the same charts opened from file://", async () => {
    const url = pathToFileURL(join(dir, "report.html")).href;
    const { page, errors, requests } = await open(url);
    try {
      expect(errors).toEqual([]);
      expect(requests).toEqual([url]);
      await expectCharts(page);
    } finally {
      await page.close();
    }
  });

  it("shows a hostile run name as text and runs none of it", async () => {
    const { page, errors, dialogs } = await open(`${origin}/hostile`);
    try {
      expect(errors).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(await page.textContent("h1")).toBe(HOSTILE);
      expect(await page.title()).toBe(`${HOSTILE} · run report`);
      expect(await page.locator("img").count()).toBe(0);
      expect(await page.locator("script").count()).toBe(4);
    } finally {
      await page.close();
    }
  });

  it("asked the server for nothing but its pages", () => {
    expect(served.filter((path) => !(path in pages))).toEqual([]);
  });
});
