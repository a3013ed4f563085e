/**
 * RunStore on a Durable Object's SQLite storage (`ctx.storage.sql`, synchronous). The same
 * contract as the SQLite store on Node, with one difference forced by the platform: a string,
 * BLOB or row is at most 2 MB there, and a run holds bigger values (an engine snapshot is ~8
 * bytes per example, so 300k examples already pass 2 MB; a recipe with per-example lengths; a
 * trainer checkpoint; a loss report of 250k+ examples). So:
 *
 * - recipes, checkpoints and artifacts live in `blobs`, cut into parts of `PART_BYTES` (1 MiB),
 *   written in one `transactionSync` (a reader never sees half of a replaced value) and read back
 *   concatenated in part order;
 * - a loss report is stored as rows of at most `REPORT_PART_EXAMPLES` examples (512 KiB of ids +
 *   512 KiB of losses per row), appended in one transaction, so it is found or absent whole.
 *
 * Durability: a Durable Object holds back its response until the writes made before it are
 * committed (output gate), so "durable when it returns" holds as seen by the client.
 * The schema is created by the first write: a request for a run that does not exist (the Worker
 * routes any id to a Durable Object) leaves no storage behind. Events are stored as they are:
 * milestones are small (an event's JSON over 2 MB would be refused).
 */
import { ApiError } from "./errors.js";
import type {
  NewEvent,
  RunStatus,
  RunStore,
  StoredEvent,
  StoredReport,
  StoredRun,
} from "./store.js";
import type { DurableObjectStorage, SqlStorageValue } from "./workers-types.js";

/** Bytes per BLOB row of a chunked value: half the platform's 2 MB limit. */
export const PART_BYTES = 1 << 20;
/** Examples per report row: 4 bytes of id + 4 bytes of loss each, 1 MiB per row. */
export const REPORT_PART_EXAMPLES = 1 << 17;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  checkpoint_epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  part INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (run_id, kind, name, part)
);
CREATE TABLE IF NOT EXISTS reports (
  run_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  part INTEGER NOT NULL,
  ids BLOB NOT NULL,
  losses BLOB NOT NULL,
  PRIMARY KEY (run_id, epoch, step, rank, part)
);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`;

type BlobKind = "recipe" | "checkpoint" | "artifact";

type RunRow = {
  id: string;
  name: string;
  status: RunStatus;
  created_at: string;
};

type ReportRow = {
  epoch: number;
  step: number;
  rank: number;
  part: number;
  ids: ArrayBuffer;
  losses: ArrayBuffer;
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class DurableRunStore implements RunStore {
  /** Whether the tables exist (created by the first write). */
  private ready: boolean;

  constructor(private readonly storage: DurableObjectStorage) {
    this.ready =
      storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
        .toArray().length === 1;
  }

  insertRun(run: StoredRun, snapshot: Uint8Array, events: NewEvent[] = []): void {
    this.write(() => {
      this.storage.sql.exec(
        "INSERT INTO runs (id, name, status, created_at, checkpoint_epoch) VALUES (?, ?, ?, ?, 0)",
        run.id,
        run.name,
        run.status,
        run.createdAt,
      );
      this.putBlob(run.id, "recipe", "", utf8.encode(run.recipe));
      this.putBlob(run.id, "checkpoint", "", snapshot);
      for (const event of events) this.insertEvent(run.id, event);
    });
  }

  getRun(id: string): StoredRun | null {
    if (!this.ready) return null;
    const rows = this.storage.sql
      .exec<RunRow>("SELECT id, name, status, created_at FROM runs WHERE id = ?", id)
      .toArray();
    return rows.length === 0 ? null : this.toRun(rows[0]);
  }

  listRuns(): StoredRun[] {
    if (!this.ready) return [];
    return this.storage.sql
      .exec<RunRow>("SELECT id, name, status, created_at FROM runs ORDER BY created_at, id")
      .toArray()
      .map((row) => this.toRun(row));
  }

  setStatus(id: string, status: RunStatus, events: NewEvent[] = []): void {
    this.write(() => {
      this.storage.sql.exec("UPDATE runs SET status = ? WHERE id = ?", status, id);
      for (const event of events) this.insertEvent(id, event);
    });
  }

  saveCheckpoint(id: string, epoch: number, snapshot: Uint8Array, events: NewEvent[] = []): void {
    this.write(() => {
      this.storage.sql.exec("UPDATE runs SET checkpoint_epoch = ? WHERE id = ?", epoch, id);
      this.putBlob(id, "checkpoint", "", snapshot);
      for (const event of events) this.insertEvent(id, event);
    });
  }

  latestCheckpoint(id: string): { epoch: number; snapshot: Uint8Array } {
    const rows = this.ready
      ? this.storage.sql
          .exec<{ epoch: number }>("SELECT checkpoint_epoch AS epoch FROM runs WHERE id = ?", id)
          .toArray()
      : [];
    const snapshot = rows.length === 0 ? null : this.getBlob(id, "checkpoint", "");
    if (snapshot === null) throw new ApiError(404, "unknown_run", `no run ${id}`);
    return { epoch: rows[0].epoch, snapshot };
  }

  appendReport(id: string, report: StoredReport): StoredReport | null {
    return this.write(() => {
      const existing = this.storage.sql
        .exec<ReportRow>(
          "SELECT epoch, step, rank, part, ids, losses FROM reports WHERE run_id = ? AND epoch = ? AND step = ? AND rank = ? ORDER BY part",
          id,
          report.epoch,
          report.step,
          report.rank,
        )
        .toArray();
      if (existing.length > 0) return toReports(existing)[0];
      const n = report.ids.length;
      let part = 0;
      do {
        const from = part * REPORT_PART_EXAMPLES;
        const to = Math.min(n, from + REPORT_PART_EXAMPLES);
        this.storage.sql.exec(
          "INSERT INTO reports (run_id, epoch, step, rank, part, ids, losses) VALUES (?, ?, ?, ?, ?, ?, ?)",
          id,
          report.epoch,
          report.step,
          report.rank,
          part,
          report.ids.subarray(from, to),
          report.losses.subarray(from, to),
        );
        part++;
      } while (part * REPORT_PART_EXAMPLES < n);
      return null;
    });
  }

  reportsOf(id: string, epoch: number): StoredReport[] {
    if (!this.ready) return [];
    // Parts of one report are appended together, so rowid order keeps them adjacent.
    return toReports(
      this.storage.sql
        .exec<ReportRow>(
          "SELECT epoch, step, rank, part, ids, losses FROM reports WHERE run_id = ? AND epoch = ? ORDER BY rowid",
          id,
          epoch,
        )
        .toArray(),
    );
  }

  appendEvent(id: string, event: NewEvent): number {
    return this.write(() => this.insertEvent(id, event));
  }

  eventsSince(id: string, afterSeq: number, limit = 10_000): StoredEvent[] {
    if (!this.ready) return [];
    return this.storage.sql
      .exec<StoredEvent>(
        "SELECT seq, type, at, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        id,
        afterSeq,
        limit,
      )
      .toArray();
  }

  putArtifact(id: string, name: string, bytes: Uint8Array): void {
    this.write(() => this.putBlob(id, "artifact", name, bytes));
  }

  getArtifact(id: string, name: string): Uint8Array | null {
    return this.ready ? this.getBlob(id, "artifact", name) : null;
  }

  /** Runs `change` in one transaction, creating the tables first if needed. */
  private write<T>(change: () => T): T {
    if (!this.ready) {
      this.storage.sql.exec(SCHEMA);
      this.ready = true;
    }
    return this.storage.transactionSync(change);
  }

  private insertEvent(id: string, event: NewEvent): number {
    return this.storage.sql
      .exec<{ seq: number }>(
        "INSERT INTO events (run_id, seq, type, at, data) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM events WHERE run_id = ? RETURNING seq",
        id,
        event.type,
        event.at,
        event.data,
        id,
      )
      .one().seq;
  }

  /** Replaces a value with its parts of at most PART_BYTES (an empty value is one empty part). */
  private putBlob(id: string, kind: BlobKind, name: string, bytes: Uint8Array): void {
    const sql = this.storage.sql;
    sql.exec("DELETE FROM blobs WHERE run_id = ? AND kind = ? AND name = ?", id, kind, name);
    let part = 0;
    do {
      const from = part * PART_BYTES;
      sql.exec(
        "INSERT INTO blobs (run_id, kind, name, part, bytes) VALUES (?, ?, ?, ?, ?)",
        id,
        kind,
        name,
        part,
        bytes.subarray(from, from + PART_BYTES),
      );
      part++;
    } while (part * PART_BYTES < bytes.byteLength);
  }

  private getBlob(id: string, kind: BlobKind, name: string): Uint8Array | null {
    const parts = this.storage.sql
      .exec<{ bytes: ArrayBuffer }>(
        "SELECT bytes FROM blobs WHERE run_id = ? AND kind = ? AND name = ? ORDER BY part",
        id,
        kind,
        name,
      )
      .toArray();
    return parts.length === 0 ? null : concat(parts.map((p) => p.bytes));
  }

  private toRun(row: RunRow): StoredRun {
    const recipe = this.getBlob(row.id, "recipe", "");
    return {
      id: row.id,
      name: row.name,
      recipe: recipe === null ? "" : fromUtf8.decode(recipe),
      status: row.status,
      createdAt: row.created_at,
    };
  }
}

/** Joins report rows (ordered, parts of a report adjacent with part 0 first) into reports. */
function toReports(rows: ReportRow[]): StoredReport[] {
  const reports: StoredReport[] = [];
  for (let i = 0; i < rows.length; ) {
    let end = i + 1;
    while (end < rows.length && rows[end].part !== 0) end++;
    const group = rows.slice(i, end);
    const ids = concat(group.map((r) => r.ids));
    const losses = concat(group.map((r) => r.losses));
    reports.push({
      epoch: rows[i].epoch,
      step: rows[i].step,
      rank: rows[i].rank,
      ids: new Uint32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4),
      losses: new Float32Array(losses.buffer, losses.byteOffset, losses.byteLength / 4),
    });
    i = end;
  }
  return reports;
}

/** The parts' bytes in one fresh, aligned buffer. */
function concat(parts: SqlStorageValue[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += (part as ArrayBuffer).byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(new Uint8Array(part as ArrayBuffer), offset);
    offset += (part as ArrayBuffer).byteLength;
  }
  return out;
}
