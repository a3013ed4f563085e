/**
 * The port a run's durable state goes through (SQLite on Node, a Durable Object on Workers).
 * State = the run's recipe, an engine snapshot taken when each epoch is planned, and the log of
 * loss reports since: recovery restores the snapshot and replays the log in order, which the
 * engine makes byte-exact.
 */
export type RunStatus = "running" | "completed" | "cancelled";

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

export interface RunStore {
  insertRun(run: StoredRun, snapshot: Uint8Array): void;
  getRun(id: string): StoredRun | null;
  listRuns(): StoredRun[];
  setStatus(id: string, status: RunStatus): void;
  /** Records the snapshot taken when `epoch` was planned (replaces the previous one). */
  saveCheckpoint(id: string, epoch: number, snapshot: Uint8Array): void;
  latestCheckpoint(id: string): { epoch: number; snapshot: Uint8Array };
  /**
   * Appends a report unless one with its (epoch, step, rank) exists; durable when it returns.
   * Returns the existing report when there was one (nothing written).
   */
  appendReport(id: string, report: StoredReport): StoredReport | null;
  /** Reports of `epoch` in the order they were appended. */
  reportsOf(id: string, epoch: number): StoredReport[];
}
