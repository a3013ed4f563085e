/**
 * The port a run's durable state goes through (SQLite on Node, a Durable Object on Workers).
 * State = the run's recipe, an engine snapshot taken when each epoch is planned, and the log of
 * loss reports since: recovery restores the snapshot and replays the log in order, which the
 * engine makes byte-exact.
 */
export type RunStatus = "preparing" | "running" | "completed" | "cancelled" | "failed";

/** An event to append along with a state change, in the same transaction. */
export type NewEvent = Omit<StoredEvent, "seq">;

export interface StoredRun {
  id: string;
  name: string;
  /** The validated recipe, as JSON text. */
  recipe: string;
  status: RunStatus;
  createdAt: string;
}

export interface StoredReport {
  epoch: number;
  step: number;
  rank: number;
  /** Example ids (u32) and their per-example losses (f32), as stored. */
  ids: Uint32Array;
  losses: Float32Array;
}

/**
 * A durable milestone of a run (epoch planned or closed, evaluation, training step of a local
 * run, completion): what the report page and the SSE stream are built from. `seq` increases per
 * run, so an SSE client resumes with Last-Event-ID after a restart of the server.
 */
export interface StoredEvent {
  seq: number;
  type: string;
  /** ISO time the event was recorded. */
  at: string;
  /** JSON text of the event's fields. */
  data: string;
}

export interface RunStore {
  /** `snapshot` is empty for a run whose engine is not made yet (a local run preparing its data). */
  insertRun(run: StoredRun, snapshot: Uint8Array, events?: NewEvent[]): void;
  getRun(id: string): StoredRun | null;
  listRuns(): StoredRun[];
  setStatus(id: string, status: RunStatus, events?: NewEvent[]): void;
  /**
   * Records the snapshot taken when `epoch` was planned (replaces the previous one), and appends
   * `events` in the same transaction: a crash leaves both or neither.
   */
  saveCheckpoint(id: string, epoch: number, snapshot: Uint8Array, events?: NewEvent[]): void;
  latestCheckpoint(id: string): { epoch: number; snapshot: Uint8Array };
  /**
   * Appends a report unless one with its (epoch, step, rank) exists; durable when it returns.
   * Returns the existing report when there was one (nothing written).
   */
  appendReport(id: string, report: StoredReport): StoredReport | null;
  /** Reports of `epoch` in the order they were appended. */
  reportsOf(id: string, epoch: number): StoredReport[];
  /** Appends a milestone; returns its `seq` (1, 2, … per run). */
  appendEvent(id: string, event: NewEvent): number;
  /** Events with seq > `afterSeq`, in order, at most `limit`. */
  eventsSince(id: string, afterSeq: number, limit?: number): StoredEvent[];
  /**
   * Runs `work` in one transaction: its writes are committed together when it returns (one
   * commit instead of one per write). Stores whose writes are batched anyway (Durable Objects)
   * omit it.
   */
  batch?<T>(work: () => T): T;
  /** Named bytes of a run (a local trainer's checkpoint), replaced whole. */
  putArtifact(id: string, name: string, bytes: Uint8Array): void;
  getArtifact(id: string, name: string): Uint8Array | null;
}
