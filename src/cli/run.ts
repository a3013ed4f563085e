/**
 * `infobatch run <recipe>`: submits a recipe to a control plane (the one at --server, or one
 * started here on loopback), follows its runs with progress bars, then prints the savings table
 * and writes the report page. Exit codes: 0 the run completed, 1 it failed or was cancelled,
 * 2 the recipe or the command line was refused.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MultiBar, Presets } from "cli-progress";
import { writeReportFile } from "../report/node.js";
import type { RunReport } from "../report/types.js";
import { ApiError } from "../server/errors.js";
import { type RunningServer, startServer } from "../server/node.js";
import { applyParams } from "../server/recipes.js";
import type { RunView } from "../server/runs.js";
import { ControlPlaneClient, ControlPlaneError, type FollowedEvent } from "./client.js";
import { savingsTable } from "./table.js";

export interface RunCommandOptions {
  /** A recipe file (…/x.json) or the name of one in the recipes folder. */
  recipe: string;
  /** Values for the recipe's `${param}` placeholders. */
  params: Record<string, string>;
  /** A control plane to submit to; without it one starts here on loopback. */
  server?: string;
  token?: string;
  /** The local control plane's state. */
  database: string;
  recipesDir: string;
  dataRoots: string[];
  cacheDir: string;
  /** Where report pages are written. */
  reportDir: string;
  json: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Reads the recipe argument: a file's JSON, or `{ recipe: name }` for the server to resolve. */
export function recipeBody(recipe: string, params: Record<string, string> = {}): unknown {
  const isFile = recipe.endsWith(".json") || recipe.includes("/");
  if (!isFile) return Object.keys(params).length > 0 ? { recipe, params } : { recipe };
  let text: string;
  try {
    text = readFileSync(recipe, "utf8");
  } catch (error) {
    throw new ControlPlaneError(
      0,
      "recipe_unreadable",
      `cannot read ${recipe}: ${(error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ControlPlaneError(
      0,
      "invalid_recipe",
      `${recipe} is not valid JSON: ${(error as Error).message}`,
    );
  }
  try {
    return applyParams(json, params);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    throw new ControlPlaneError(0, error.code, `${recipe}: ${error.message}`, error.path);
  }
}

function describeError(error: ControlPlaneError): string {
  const where = error.path.length > 0 ? ` (at ${error.path.join(".")})` : "";
  return `${error.code}${where}: ${error.message}`;
}

/** Progress per run: one bar each on a terminal, one line per epoch otherwise. */
class RunProgress {
  private readonly bars: MultiBar | null;
  private readonly rows = new Map<string, ReturnType<MultiBar["create"]>>();

  constructor(
    private readonly stderr: NodeJS.WriteStream,
    quiet: boolean,
  ) {
    this.bars =
      quiet || stderr.isTTY !== true
        ? null
        : new MultiBar(
            {
              stream: stderr,
              format:
                "{label} [{bar}] {percentage}% | epoch {epoch} step {step} | loss {loss} | {tps} tok/s | kept {kept}",
              hideCursor: true,
              clearOnComplete: false,
            },
            Presets.shades_classic,
          );
    this.quiet = quiet;
  }

  private readonly quiet: boolean;

  add(run: RunView, label: string): void {
    const bar = this.bars?.create(1000, 0, {
      label: label.padEnd(10),
      epoch: "-",
      step: "-",
      loss: "-",
      tps: "-",
      kept: "-",
    });
    if (bar !== undefined) this.rows.set(run.id, bar);
  }

  event(run: RunView, label: string, event: FollowedEvent): void {
    const d = event.data as Record<string, number>;
    if (event.type === "preparing") {
      const phase = (event.data as { phase: string }).phase;
      if (this.bars === null) {
        if (!this.quiet && d.done === 1) this.stderr.write(`${label}: ${phase}…\n`);
        return;
      }
      this.rows.get(run.id)?.update(0, {
        epoch: "-",
        step: `${phase} ${d.done}/${d.total}`,
        loss: typeof d.loss === "number" ? d.loss.toFixed(3) : "-",
      });
      return;
    }
    if (event.type === "step") {
      const progress = (d.epoch + (d.step + 1) / d.steps) / run.epochs;
      this.rows.get(run.id)?.update(Math.round(1000 * progress), {
        epoch: `${d.epoch + 1}/${run.epochs}`,
        step: `${d.step + 1}/${d.steps}`,
        loss: d.loss.toFixed(3),
        tps: Math.round(d.tokensPerSecond),
      });
    } else if (event.type === "epoch_opened") {
      this.rows.get(run.id)?.update({ kept: `${Math.round(100 * d.keptFraction)}%` });
    } else if (event.type === "evaluation" && this.bars === null && !this.quiet) {
      const when = d.epoch < 0 ? "base model" : `epoch ${d.epoch + 1}/${run.epochs}`;
      this.stderr.write(`${label}: ${when}: held-out loss ${d.heldOutLoss.toFixed(4)}\n`);
    } else if (event.type === "status") {
      const status = (event.data as { status: string; error?: string }).status;
      if (status === "completed") this.rows.get(run.id)?.update(1000);
      if (this.bars === null && !this.quiet) this.stderr.write(`${label}: ${status}\n`);
    }
  }

  stop(): void {
    this.bars?.stop();
  }
}

export async function runCommand(options: RunCommandOptions): Promise<number> {
  const { stdout, stderr } = options;
  let local: RunningServer | null = null;
  try {
    const body = recipeBody(options.recipe, options.params);
    if (options.server === undefined) {
      local = await startServer({
        database: options.database,
        port: 0,
        recipesDir: options.recipesDir,
        dataRoots: options.dataRoots,
        cacheDir: options.cacheDir,
      });
    }
    const client = new ControlPlaneClient(options.server ?? local!.url, options.token);
    const run = await client.call<RunView>("POST", "/v1/runs", body);
    const runs: Array<{ view: RunView; label: string }> = [
      { view: run, label: run.baseline === null ? run.name : "InfoBatch" },
    ];
    if (run.baseline !== null) {
      runs.push({
        view: await client.call<RunView>("GET", `/v1/runs/${run.baseline}`),
        label: "Full data",
      });
    }
    if (!options.json) {
      stderr.write(`run ${run.id} (${run.name}) on ${client.url}\n`);
    }
    const progress = new RunProgress(stderr, options.json);
    for (const r of runs) progress.add(r.view, r.label);
    await Promise.all(
      runs.map((r) => client.follow(r.view.id, (event) => progress.event(r.view, r.label, event))),
    );
    progress.stop();
    const final = await client.call<RunView>("GET", `/v1/runs/${run.id}`);
    const report = await client.call<RunReport>("GET", `/v1/runs/${run.id}/report.json`);
    const file = resolve(join(options.reportDir, `${run.id}.html`));
    writeReportFile(file, report);
    if (options.json) {
      stdout.write(
        `${JSON.stringify({ runId: run.id, status: final.status, summary: report.summary, reportFile: file })}\n`,
      );
    } else {
      stdout.write(`\n${savingsTable(report)}\n\n`);
      stdout.write(`report page: file://${file}\n`);
      stdout.write(
        options.server === undefined
          ? `             (also ${"http://127.0.0.1:8787"}/v1/runs/${run.id}/report while \`npm run serve\` runs)\n`
          : `             ${client.url}/v1/runs/${run.id}/report\n`,
      );
      if (final.status !== "completed") {
        stderr.write(`run ${final.status}${final.error === null ? "" : `: ${final.error}`}\n`);
      }
    }
    return final.status === "completed" ? 0 : 1;
  } catch (error) {
    if (!(error instanceof ControlPlaneError)) throw error;
    stderr.write(`infobatch run: ${describeError(error)}\n`);
    return error.status >= 500 || error.code === "unreachable" ? 1 : 2;
  } finally {
    await local?.close();
  }
}
