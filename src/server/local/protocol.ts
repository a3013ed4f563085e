/** Messages between the control plane (main thread) and a local run's trainer thread. */
import type { LocalRun } from "../schemas.js";

export interface TrainerThreadInit {
  runId: string;
  recipe: LocalRun;
  /** The trainer checkpoint to resume from (null: a fresh start). */
  state: Uint8Array | null;
  /** Where the quickstart base model is cached. */
  cacheDir: string;
}

/** Calls from the trainer thread; the main thread answers each with a `Reply` of the same id. */
export type Call =
  | { id: number; call: "data"; size: number; lengths: number[] }
  | { id: number; call: "plan" }
  | { id: number; call: "preparing"; phase: string; done: number; total: number; loss?: number }
  | {
      id: number;
      call: "step";
      epoch: number;
      step: number;
      steps: number;
      ids: number[];
      losses: number[];
      loss: number;
      lr: number;
      tokens: number;
      tokensPerSecond: number;
    }
  | {
      id: number;
      call: "evaluation";
      epoch: number;
      heldOutLoss: number;
      trainLoss?: number;
      tokens?: number;
      seconds?: number;
    }
  | { id: number; call: "checkpoint"; epoch: number; state: Uint8Array }
  | { id: number; call: "close"; epoch: number };

export type PlanReply =
  | { finished: true }
  | { finished: false; epoch: number; epochs: number; ids: Uint32Array; weights: Float32Array };

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };
