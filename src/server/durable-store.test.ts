/**
 * DurableRunStore on Node, over a stand-in for a Durable Object's `ctx.storage` built on
 * better-sqlite3 that keeps the platform's rules: BLOBs come back as ArrayBuffer, and a bound
 * string or BLOB over 2 MB is refused (SQLITE_TOOBIG). The real runtime is covered by
 * test/contract/worker.contract.test.ts; this checks the chunking at its edges, quickly.
 */
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { DurableRunStore, PART_BYTES, REPORT_PART_EXAMPLES } from "./durable-store.js";
import type { StoredReport, StoredRun } from "./store.js";
import type { DurableObjectStorage, SqlBinding, SqlStorageCursor } from "./workers-types.js";

const LIMIT = 2_000_000;

function fakeStorage(db = new Database(":memory:")): DurableObjectStorage {
  const bind = (value: SqlBinding): unknown => {
    const size =
      typeof value === "string"
        ? Buffer.byteLength(value)
        : value instanceof ArrayBuffer || ArrayBuffer.isView(value)
          ? value.byteLength
          : 0;
    if (size > LIMIT) throw new Error("string or blob too big: SQLITE_TOOBIG");
    if (value instanceof ArrayBuffer) return Buffer.from(value);
    if (ArrayBuffer.isView(value))
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return value;
  };
  const cursor = <T>(rows: T[]): SqlStorageCursor<T> => ({
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`expected exactly one row, got ${rows.length}`);
      return rows[0];
    },
    rowsRead: 0,
    rowsWritten: 0,
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  });
  return {
    sql: {
      exec<T>(query: string, ...bindings: SqlBinding[]) {
        if (bindings.length === 0 && query.split(";").filter((s) => s.trim() !== "").length > 1) {
          db.exec(query);
          return cursor<T>([]);
        }
        const statement = db.prepare(query);
        const args = bindings.map(bind);
        if (!statement.reader) {
          statement.run(...args);
          return cursor<T>([]);
        }
        const rows = (statement.all(...args) as Record<string, unknown>[]).map((row) => {
          const out: Record<string, unknown> = {};
          for (const [key, value] of Object.entries(row)) {
            out[key] = Buffer.isBuffer(value) ? new Uint8Array(value).buffer : value;
          }
          return out as T;
        });
        return cursor(rows);
      },
      get databaseSize() {
        return 0;
      },
    },
    transactionSync: <T>(closure: () => T): T => db.transaction(closure)(),
  };
}

const run = (id: string, recipe = "{}"): StoredRun => ({
  id,
  name: "r",
  recipe,
  status: "running",
  createdAt: "2026-01-01T00:00:00.000Z",
});

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * seed) & 255;
  return out;
}

function report(step: number, n: number): StoredReport {
  const ids = new Uint32Array(n);
  const losses = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = i * 3 + step;
    losses[i] = (i % 97) / 7;
  }
  return { epoch: 0, step, rank: 0, ids, losses };
}

/** Byte equality (vitest's deep equality walks large typed arrays element by element: slow). */
const same = (a: ArrayBufferView | null | undefined, b: ArrayBufferView): boolean =>
  a != null &&
  a.constructor === b.constructor &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );

const sameReports = (a: StoredReport[], b: StoredReport[]): boolean =>
  a.length === b.length &&
  a.every(
    (r, i) =>
      r.epoch === b[i].epoch &&
      r.step === b[i].step &&
      r.rank === b[i].rank &&
      same(r.ids, b[i].ids) &&
      same(r.losses, b[i].losses),
  );

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
    .map((r) => r.name)
    .sort();

describe("DurableRunStore", () => {
  it("keeps the stand-in honest: a value over 2 MB is refused", () => {
    const storage = fakeStorage();
    storage.sql.exec("CREATE TABLE t (b BLOB)");
    expect(() => storage.sql.exec("INSERT INTO t VALUES (?)", bytes(LIMIT + 1))).toThrow(/TOOBIG/);
  });

  it("answers reads of an empty object without creating anything", () => {
    const db = new Database(":memory:");
    const store = new DurableRunStore(fakeStorage(db));
    expect(store.getRun("x")).toBeNull();
    expect(store.listRuns()).toEqual([]);
    expect(store.reportsOf("x", 0)).toEqual([]);
    expect(store.eventsSince("x", 0)).toEqual([]);
    expect(store.getArtifact("x", "a")).toBeNull();
    expect(() => store.latestCheckpoint("x")).toThrow(/no run x/);
    expect(tables(db)).toEqual([]);
  });

  it("stores values over 2 MB in parts and replaces them whole", () => {
    const db = new Database(":memory:");
    const store = new DurableRunStore(fakeStorage(db));
    const recipe = JSON.stringify({ lengths: Array.from({ length: 500_000 }, (_, i) => i) });
    expect(recipe.length).toBeGreaterThan(LIMIT);
    const snapshot = bytes(2 * PART_BYTES + 17, 7);
    store.insertRun(run("a", recipe), snapshot);
    expect(store.getRun("a")?.recipe).toBe(recipe);
    expect(store.latestCheckpoint("a").epoch).toBe(0);
    expect(same(store.latestCheckpoint("a").snapshot, snapshot)).toBe(true);
    const parts = () =>
      db.prepare("SELECT COUNT(*) AS n FROM blobs WHERE kind = 'checkpoint'").get() as {
        n: number;
      };
    expect(parts().n).toBe(3);

    for (const size of [PART_BYTES, 0, PART_BYTES + 1, 5]) {
      const next = bytes(size, size);
      store.saveCheckpoint("a", size, next);
      const { epoch, snapshot: stored } = store.latestCheckpoint("a");
      expect([epoch, same(stored, next)]).toEqual([size, true]);
    }
    expect(parts().n).toBe(1);

    store.putArtifact("a", "adapter", bytes(3 * PART_BYTES, 3));
    expect(same(store.getArtifact("a", "adapter"), bytes(3 * PART_BYTES, 3))).toBe(true);
    store.putArtifact("a", "adapter", new Uint8Array(0));
    expect(store.getArtifact("a", "adapter")).toEqual(new Uint8Array(0));
    expect(store.getArtifact("a", "other")).toBeNull();
    expect(store.getArtifact("b", "adapter")).toBeNull();
  });

  it("stores reports over a part in rows, finds retried ones whole, keeps their order", () => {
    const store = new DurableRunStore(fakeStorage());
    store.insertRun(run("a"), bytes(8));
    const reports = [
      report(0, 3),
      report(1, 2 * REPORT_PART_EXAMPLES + 1),
      report(2, REPORT_PART_EXAMPLES),
      report(3, 1),
    ];
    for (const r of reports) expect(store.appendReport("a", r)).toBeNull();
    expect(sameReports(store.reportsOf("a", 0), reports)).toBe(true);
    expect(store.reportsOf("a", 1)).toEqual([]);
    const retried = store.appendReport("a", { ...reports[1], losses: new Float32Array(1) });
    expect(sameReports([retried!], [reports[1]])).toBe(true);
    expect(store.reportsOf("a", 0)).toHaveLength(4);
  });

  it("numbers events per run and writes them with the change they belong to", () => {
    const store = new DurableRunStore(fakeStorage());
    const event = (type: string) => ({ type, at: "2026-01-01T00:00:00.000Z", data: "{}" });
    store.insertRun(run("a"), bytes(8), [event("created"), event("epoch_opened")]);
    store.insertRun(run("b"), bytes(8), [event("created")]);
    expect(store.appendEvent("a", event("evaluation"))).toBe(3);
    store.saveCheckpoint("a", 1, bytes(8), [event("epoch_closed"), event("epoch_opened")]);
    store.setStatus("a", "completed", [event("status")]);
    expect(store.getRun("a")?.status).toBe("completed");
    expect(store.eventsSince("a", 0).map((e) => [e.seq, e.type])).toEqual([
      [1, "created"],
      [2, "epoch_opened"],
      [3, "evaluation"],
      [4, "epoch_closed"],
      [5, "epoch_opened"],
      [6, "status"],
    ]);
    expect(store.eventsSince("a", 2, 1).map((e) => e.seq)).toEqual([3]);
    expect(store.eventsSince("b", 0).map((e) => e.seq)).toEqual([1]);

    // A refused change (the id exists) writes none of its parts or events.
    expect(() => store.insertRun(run("a"), bytes(9), [event("created")])).toThrow();
    expect(store.eventsSince("a", 0)).toHaveLength(6);
    expect(same(store.latestCheckpoint("a").snapshot, bytes(8))).toBe(true);
    expect(store.listRuns().map((r) => r.id)).toEqual(["a", "b"]);
  });
});
