/**
 * The data a run report shows: per arm (the run itself, then comparisons such as the same recipe
 * on full data), one point per epoch and optionally one per optimizer step, plus savings totals.
 * Plain JSON-able data; the renderer never reads anything else.
 */

export interface EpochPoint {
  /** Epoch number as the engine plans it (0 … E−1). */
  epoch: number;
  /** Mean per-example training loss reported during the epoch (null if unknown). */
  trainLoss: number | null;
  /** Held-out loss measured after the epoch (null if not evaluated). */
  heldOutLoss: number | null;
  /** Fraction of the dataset's examples trained this epoch (1 = full). */
  keptFraction: number;
  /** The pruning threshold (mean score) used to plan this epoch; null when pruning was off (annealing, first epoch). */
  threshold: number | null;
  /** Tokens trained this epoch and the full-data tokens (null without token lengths). */
  tokens: number | null;
  fullTokens: number | null;
  examples: number;
  fullExamples: number;
  steps: number | null;
  fullSteps: number | null;
  /** Wall seconds of the epoch (null if unknown). */
  seconds: number | null;
}

export interface StepPoint {
  epoch: number;
  step: number;
  /** cumulative tokens trained when the step ended */
  tokens: number;
  loss: number;
}

export interface ArmReport {
  /** e.g. "InfoBatch" or "Full data". */
  label: string;
  runId: string;
  epochs: EpochPoint[];
  /** Training-loss curve per step (optional, may be empty; at most a few thousand points). */
  steps: StepPoint[];
}

export interface RunReport {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  /** The first arm is the run itself; further arms are comparisons (e.g. the same recipe on full data). */
  arms: ArmReport[];
  /** Savings totals vs the full-data run: measured when a full-data arm ran, else estimated from the ledger. */
  summary: {
    tokens: { full: number; trained: number } | null;
    steps: { full: number; trained: number } | null;
    examples: { full: number; trained: number };
    seconds: { full: number; trained: number; estimated: boolean } | null;
    heldOutLoss: { infobatch: number | null; full: number | null };
    /**
     * Where the totals come from: "measured" against a full-data arm that ran, or "estimated"
     * from the savings ledger. Default: "measured" when the report has a second arm.
     */
    basis?: "measured" | "estimated";
  };
}
