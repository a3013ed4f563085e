#!/usr/bin/env node
/** The `infobatch` command. Subcommands grow with the project; each lives in its own file. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../server/node.js";
import { runDemo } from "./demo.js";

const USAGE = `usage: infobatch <command> [options]

commands:
  demo   run the engine on a simulated dataset and print its savings
         --size N (default 20000) --epochs E (default 8) --batch-size B (default 32) --seed S (default 0)
  serve  run the control plane (HTTP API for remote trainers; state in SQLite)
         --port P (default 8787) --host H (default 127.0.0.1; others need INFOBATCH_TOKEN)
         --database FILE (default .infobatch/runs.db)
`;

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
    options: { port: { type: "string" }, host: { type: "string" }, database: { type: "string" } },
  });
  const database = values.database ?? ".infobatch/runs.db";
  mkdirSync(dirname(database), { recursive: true });
  const server = await startServer({
    database,
    port: values.port === undefined ? 8787 : integer("port", values.port, 8787),
    host: values.host,
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

export function main(argv: string[]): void {
  const [command, ...rest] = argv;
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
