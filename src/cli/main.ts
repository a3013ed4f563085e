#!/usr/bin/env node
/** The `infobatch` command. Subcommands grow with the project; each lives in its own file. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { startServer } from "../server/node.js";
import { runDemo } from "./demo.js";
import { reportCommand } from "./report.js";
import { runCommand } from "./run.js";

const USAGE = `usage: infobatch <command> [options]

commands:
  demo   run the engine on a simulated dataset and print its savings
         --size N (default 20000) --epochs E (default 8) --batch-size B (default 32) --seed S (default 0)
  serve  run the control plane (HTTP API for remote trainers; state in SQLite)
         --port P (default 8787) --host H (default 127.0.0.1; others need INFOBATCH_TOKEN)
         --database FILE (default .infobatch/runs.db) --recipes DIR (default recipes)
         --data-root DIR (repeatable; files local recipes may read; default: the working
         directory) --no-local (refuse trainer "local" runs)
  run <recipe>
         start a run from a recipe file (x.json) or a name in recipes/ and follow it; ends
         with the savings table and the report page. Without --server, a control plane
         runs here on loopback (state in --database).
         --server URL (token: $INFOBATCH_TOKEN) --json --database FILE
         --param name=value (repeatable: the recipe's \${name} placeholders)
         --data-root DIR (repeatable; default: the working directory)
  report <run-id>
         the savings table and report page of a run
         --server URL --database FILE --html FILE --json

exit codes: 0 done, 1 the run failed or was cancelled, 2 bad usage or a refused recipe
`;

const DEFAULT_DATABASE = ".infobatch/runs.db";
const REPORT_DIR = ".infobatch/reports";

function integer(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`infobatch: --${name} expects a positive integer, received "${value}"\n`);
    process.exit(2);
  }
  return n;
}

async function serve(rest: string[]): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      database: { type: "string" },
      recipes: { type: "string" },
      "data-root": { type: "string", multiple: true },
      "no-local": { type: "boolean" },
    },
  });
  const database = values.database ?? ".infobatch/runs.db";
  mkdirSync(dirname(database), { recursive: true });
  const server = await startServer({
    database,
    port: values.port === undefined ? 8787 : integer("port", values.port, 8787),
    host: values.host,
    recipesDir: values.recipes ?? "recipes",
    dataRoots: values["data-root"] ?? [process.cwd()],
    local: values["no-local"] !== true,
  });
  process.stdout.write(
    `infobatch control plane on ${server.url} (state: ${database}); OpenAPI at ${server.url}/openapi.json\n`,
  );
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function finish(code: Promise<number>, command: string): void {
  code.then(
    (exit) => process.exit(exit),
    (error: Error) => {
      process.stderr.write(`infobatch ${command}: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}

function parse(rest: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: rest, options, allowPositionals: true });
  } catch (error) {
    process.stderr.write(`infobatch: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

export function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === "run" || command === "report") {
    const { values, positionals } = parse(rest, {
      server: { type: "string" },
      database: { type: "string" },
      json: { type: "boolean" },
      html: { type: "string" },
      "data-root": { type: "string", multiple: true },
      param: { type: "string", multiple: true },
    });
    const params: Record<string, string> = {};
    for (const pair of (values.param as string[] | undefined) ?? []) {
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        process.stderr.write(
          `infobatch ${command}: --param expects name=value, received "${pair}"\n`,
        );
        process.exit(2);
      }
      params[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (positionals.length !== 1) {
      process.stderr.write(
        `infobatch ${command}: expected one ${command === "run" ? "recipe" : "run id"}\n${USAGE}`,
      );
      process.exit(2);
    }
    const database = (values.database as string | undefined) ?? DEFAULT_DATABASE;
    mkdirSync(dirname(database), { recursive: true });
    mkdirSync(REPORT_DIR, { recursive: true });
    const common = {
      server: values.server as string | undefined,
      token: process.env.INFOBATCH_TOKEN,
      database,
      reportDir: REPORT_DIR,
      json: values.json === true,
      stdout: process.stdout,
      stderr: process.stderr,
    };
    if (command === "run") {
      finish(
        runCommand({
          ...common,
          recipe: positionals[0],
          params,
          recipesDir: "recipes",
          dataRoots: (values["data-root"] as string[] | undefined) ?? [process.cwd()],
          cacheDir: ".infobatch/cache",
        }),
        command,
      );
    } else {
      finish(
        reportCommand({
          ...common,
          runId: positionals[0],
          html: values.html as string | undefined,
        }),
        command,
      );
    }
    return;
  }
  if (command === "serve") {
    serve(rest).catch((error: Error) => {
      process.stderr.write(`infobatch serve: ${error.message}\n`);
      process.exit(2);
    });
    return;
  }
  if (command === "demo") {
    const { values } = parseArgs({
      args: rest,
      options: {
        size: { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        seed: { type: "string" },
      },
    });
    runDemo(
      {
        size: integer("size", values.size, 20_000),
        epochs: integer("epochs", values.epochs, 8),
        batchSize: integer("batch-size", values["batch-size"], 32),
        seed: values.seed === undefined ? 0 : integer("seed", values.seed, 0),
      },
      (line) => process.stdout.write(`${line}\n`),
    );
    return;
  }
  process.stderr.write(
    command === undefined || command === "help" || command === "--help"
      ? USAGE
      : `infobatch: unknown command "${command}"\n${USAGE}`,
  );
  process.exit(command === undefined || command === "help" || command === "--help" ? 0 : 2);
}

main(process.argv.slice(2));
