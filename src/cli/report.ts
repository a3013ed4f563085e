/**
 * `infobatch report <run>`: the savings table of a run (from --server, or from the local state
 * database read through a control plane started here), and its report page as a file.
 */
import { resolve } from "node:path";
import { writeReportFile } from "../report/node.js";
import type { RunReport } from "../report/types.js";
import { type RunningServer, startServer } from "../server/node.js";
import { ControlPlaneClient, ControlPlaneError } from "./client.js";
import { savingsTable } from "./table.js";

export interface ReportCommandOptions {
  runId: string;
  server?: string;
  token?: string;
  database: string;
  /** Write the report page here. Default: <reportDir>/<run>.html. */
  html?: string;
  reportDir: string;
  json: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function reportCommand(options: ReportCommandOptions): Promise<number> {
  let local: RunningServer | null = null;
  try {
    if (options.server === undefined) {
      local = await startServer({ database: options.database, port: 0, local: false });
    }
    const client = new ControlPlaneClient(options.server ?? local!.url, options.token);
    const report = await client.call<RunReport>("GET", `/v1/runs/${options.runId}/report.json`);
    const file = resolve(options.html ?? `${options.reportDir}/${options.runId}.html`);
    writeReportFile(file, report);
    if (options.json) {
      const savings = await client.call<unknown>("GET", `/v1/runs/${options.runId}/savings`);
      options.stdout.write(`${JSON.stringify({ report, savings, reportFile: file })}\n`);
    } else {
      options.stdout.write(`${report.name} (${report.id}): ${report.status}\n\n`);
      options.stdout.write(`${savingsTable(report)}\n\nreport page: file://${file}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof ControlPlaneError)) throw error;
    options.stderr.write(`infobatch report: ${error.code}: ${error.message}\n`);
    return error.status === 404 ? 2 : 1;
  } finally {
    await local?.close();
  }
}
