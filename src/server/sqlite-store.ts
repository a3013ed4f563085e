/**
 * RunStore on SQLite (better-sqlite3, WAL). Reports are appended with INSERT OR IGNORE on the
 * (run, epoch, step, rank) key, so a retried report is found rather than applied twice. A report
 * is committed before the HTTP answer: with `synchronous: "normal"` (default) it survives a
 * killed process; "full" also survives power loss, at an fsync per report.
 *
 * Checkpoints (copying the WAL back into the database file, with its fsyncs) run on a second
 * connection in a worker thread, so no commit waits for one: SQLite's automatic checkpoint on
 * the committing connection stalled every ~1,000 pages of reports for tens of milliseconds.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { ApiError } from "./errors.js";
import type {
  NewEvent,
  RunStatus,
  RunStore,
  StoredEvent,
  StoredReport,
  StoredRun,
} from "./store.js";

export interface SqliteStoreOptions {
  /** Database file (created if missing), or ":memory:". */
  path: string;
  synchronous?: "normal" | "full";
  /**
   * Milliseconds between checkpoints by the background connection; 0 leaves checkpoints to
   * SQLite on the committing connection (every 1,000 WAL pages). Default 100; always 0 for
   * ":memory:".
   */
  checkpointEveryMs?: number;
}

/**
 * The checkpointer thread (CommonJS, run with `eval`): PASSIVE checkpoints never block the
 * writer; a failed one (busy) is simply retried at the next tick.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("synchronous = " + workerData.synchronous);
const checkpoint = () => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {}
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.once("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  recipe TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  checkpoint_epoch INTEGER NOT NULL,
  checkpoint BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
  run_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  ids BLOB NOT NULL,
  losses BLOB NOT NULL,
  PRIMARY KEY (run_id, epoch, step, rank)
);
CREATE INDEX IF NOT EXISTS reports_by_epoch ON reports (run_id, epoch);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS artifacts (
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (run_id, name)
);
`;

interface RunRow {
  id: string;
  name: string;
  recipe: string;
  status: RunStatus;
  created_at: string;
}

interface ReportRow {
  epoch: number;
  step: number;
  rank: number;
  ids: Buffer;
  losses: Buffer;
}

function u32(buffer: Buffer): Uint32Array {
  return new Uint32Array(
    buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
  );
}

function f32(buffer: Buffer): Float32Array {
  return new Float32Array(
    buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
  );
}

function bytes(array: Uint32Array | Float32Array | Uint8Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export class SqliteRunStore implements RunStore {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly checkpointer: Worker | null = null;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma("journal_mode = WAL");
    const synchronous = options.synchronous === "full" ? "FULL" : "NORMAL";
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.exec(SCHEMA);
    const everyMs = options.checkpointEveryMs ?? 100;
    if (everyMs > 0 && !this.db.memory) {
      this.db.pragma("wal_autocheckpoint = 0");
      const worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: {
          module: createRequire(import.meta.url).resolve("better-sqlite3"),
          path: this.db.name,
          synchronous,
          everyMs,
        },
      });
      worker.unref();
      // Should the thread fail, SQLite checkpoints on this connection again.
      worker.once("error", () => this.db.open && this.db.pragma("wal_autocheckpoint = 1000"));
      this.checkpointer = worker;
    }
    this.statements = {
      insertRun: this.db.prepare(
        "INSERT INTO runs (id, name, recipe, status, created_at, checkpoint_epoch, checkpoint) VALUES (?, ?, ?, ?, ?, 0, ?)",
      ),
      getRun: this.db.prepare("SELECT id, name, recipe, status, created_at FROM runs WHERE id = ?"),
      listRuns: this.db.prepare(
        "SELECT id, name, recipe, status, created_at FROM runs ORDER BY created_at, id",
      ),
      setStatus: this.db.prepare("UPDATE runs SET status = ? WHERE id = ?"),
      saveCheckpoint: this.db.prepare(
        "UPDATE runs SET checkpoint_epoch = ?, checkpoint = ? WHERE id = ?",
      ),
      checkpoint: this.db.prepare(
        "SELECT checkpoint_epoch AS epoch, checkpoint FROM runs WHERE id = ?",
      ),
      appendReport: this.db.prepare(
        "INSERT OR IGNORE INTO reports (run_id, epoch, step, rank, ids, losses) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      getReport: this.db.prepare(
        "SELECT epoch, step, rank, ids, losses FROM reports WHERE run_id = ? AND epoch = ? AND step = ? AND rank = ?",
      ),
      reportsOf: this.db.prepare(
        "SELECT epoch, step, rank, ids, losses FROM reports WHERE run_id = ? AND epoch = ? ORDER BY rowid",
      ),
      appendEvent: this.db.prepare(
        "INSERT INTO events (run_id, seq, type, at, data) SELECT @id, COALESCE(MAX(seq), 0) + 1, @type, @at, @data FROM events WHERE run_id = @id RETURNING seq",
      ),
      eventsSince: this.db.prepare(
        "SELECT seq, type, at, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      putArtifact: this.db.prepare(
        "INSERT INTO artifacts (run_id, name, bytes) VALUES (?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET bytes = excluded.bytes",
      ),
      getArtifact: this.db.prepare("SELECT bytes FROM artifacts WHERE run_id = ? AND name = ?"),
    };
  }

  insertRun(run: StoredRun, snapshot: Uint8Array, events: NewEvent[] = []): void {
    this.db.transaction(() => {
      this.statements.insertRun.run(
        run.id,
        run.name,
        run.recipe,
        run.status,
        run.createdAt,
        bytes(snapshot),
      );
      for (const event of events) this.appendEvent(run.id, event);
    })();
  }

  getRun(id: string): StoredRun | null {
    const row = this.statements.getRun.get(id) as RunRow | undefined;
    return row === undefined ? null : toRun(row);
  }

  listRuns(): StoredRun[] {
    return (this.statements.listRuns.all() as RunRow[]).map(toRun);
  }

  setStatus(id: string, status: RunStatus, events: NewEvent[] = []): void {
    this.db.transaction(() => {
      this.statements.setStatus.run(status, id);
      for (const event of events) this.appendEvent(id, event);
    })();
  }

  saveCheckpoint(id: string, epoch: number, snapshot: Uint8Array, events: NewEvent[] = []): void {
    this.db.transaction(() => {
      this.statements.saveCheckpoint.run(epoch, bytes(snapshot), id);
      for (const event of events) this.appendEvent(id, event);
    })();
  }

  latestCheckpoint(id: string): { epoch: number; snapshot: Uint8Array } {
    const row = this.statements.checkpoint.get(id) as
      | { epoch: number; checkpoint: Buffer }
      | undefined;
    if (row === undefined) throw new ApiError(404, "unknown_run", `no run ${id}`);
    return { epoch: row.epoch, snapshot: new Uint8Array(row.checkpoint) };
  }

  appendReport(id: string, report: StoredReport): StoredReport | null {
    const { changes } = this.statements.appendReport.run(
      id,
      report.epoch,
      report.step,
      report.rank,
      bytes(report.ids),
      bytes(report.losses),
    );
    if (changes === 1) return null;
    const row = this.statements.getReport.get(
      id,
      report.epoch,
      report.step,
      report.rank,
    ) as ReportRow;
    return toReport(row);
  }

  batch<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  reportsOf(id: string, epoch: number): StoredReport[] {
    return (this.statements.reportsOf.all(id, epoch) as ReportRow[]).map(toReport);
  }

  appendEvent(id: string, event: NewEvent): number {
    const row = this.statements.appendEvent.get({
      id,
      type: event.type,
      at: event.at,
      data: event.data,
    }) as {
      seq: number;
    };
    return row.seq;
  }

  eventsSince(id: string, afterSeq: number, limit = 10_000): StoredEvent[] {
    return this.statements.eventsSince.all(id, afterSeq, limit) as StoredEvent[];
  }

  putArtifact(id: string, name: string, data: Uint8Array): void {
    this.statements.putArtifact.run(id, name, bytes(data));
  }

  getArtifact(id: string, name: string): Uint8Array | null {
    const row = this.statements.getArtifact.get(id, name) as { bytes: Buffer } | undefined;
    return row === undefined ? null : new Uint8Array(row.bytes);
  }

  close(): void {
    this.checkpointer?.postMessage("close");
    this.db.close();
  }
}

function toRun(row: RunRow): StoredRun {
  return {
    id: row.id,
    name: row.name,
    recipe: row.recipe,
    status: row.status,
    createdAt: row.created_at,
  };
}

function toReport(row: ReportRow): StoredReport {
  return {
    epoch: row.epoch,
    step: row.step,
    rank: row.rank,
    ids: u32(row.ids),
    losses: f32(row.losses),
  };
}
