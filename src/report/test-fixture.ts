/**
 * A realistic two-arm report for tests: a LoRA fine-tune on 52,000 instruction examples for 8
 * epochs, InfoBatch (full first epoch, then keeping ~60–70%, annealing on the last epoch) against
 * the same recipe on full data. Deterministic: no randomness beyond a fixed-seed LCG.
 */
import type { ArmReport, EpochPoint, RunReport, StepPoint } from "./types.js";

export const FIXTURE_EXAMPLES = 52_000;
export const FIXTURE_TOKENS_PER_EPOCH = 9_360_000;
export const FIXTURE_BATCH = 64;
/** Seconds per full-data step. */
const STEP_SECONDS = 1.7;

/** Kept fraction and threshold per epoch of the InfoBatch arm. */
const INFOBATCH_PLAN: Array<{ kept: number; threshold: number | null }> = [
  { kept: 1, threshold: null },
  { kept: 0.69, threshold: 1.412 },
  { kept: 0.65, threshold: 1.187 },
  { kept: 0.63, threshold: 1.034 },
  { kept: 0.615, threshold: 0.951 },
  { kept: 0.607, threshold: 0.889 },
  { kept: 0.61, threshold: 0.851 },
  { kept: 1, threshold: null },
];

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

/** Loss after `progress` full-data epochs' worth of training (a smooth decaying curve). */
function lossAt(progress: number): number {
  return 0.92 + 0.85 * Math.exp(-progress / 1.6);
}

function arm(label: string, runId: string, plan: typeof INFOBATCH_PLAN, seed: number): ArmReport {
  const random = lcg(seed);
  const epochs: EpochPoint[] = [];
  const steps: StepPoint[] = [];
  const fullSteps = Math.ceil(FIXTURE_EXAMPLES / FIXTURE_BATCH);
  let tokens = 0;
  let step = 0;
  let progress = 0;
  plan.forEach(({ kept, threshold }, epoch) => {
    const examples = Math.round(FIXTURE_EXAMPLES * kept);
    // Pruned epochs keep the harder, on average slightly longer, examples.
    const epochTokens = Math.round(FIXTURE_TOKENS_PER_EPOCH * Math.min(1, kept * 1.03));
    const epochSteps = Math.ceil(examples / FIXTURE_BATCH);
    let lossSum = 0;
    for (let s = 0; s < epochSteps; s++) {
      step++;
      // Rescaled losses make a pruned epoch almost as useful as a full one.
      progress += (kept < 1 ? 0.97 / kept : 1) / fullSteps;
      const loss = lossAt(progress) * (1 + (random() - 0.5) * 0.08);
      lossSum += loss;
      // One point every 4 steps keeps the curve at a realistic ~1,500 points per arm.
      if (step % 4 === 0) {
        steps.push({
          epoch,
          step,
          tokens: tokens + Math.round((epochTokens * (s + 1)) / epochSteps),
          loss,
        });
      }
    }
    tokens += epochTokens;
    epochs.push({
      epoch,
      trainLoss: lossSum / epochSteps,
      heldOutLoss: lossAt(progress) + 0.11,
      keptFraction: examples / FIXTURE_EXAMPLES,
      threshold,
      tokens: epochTokens,
      fullTokens: FIXTURE_TOKENS_PER_EPOCH,
      examples,
      fullExamples: FIXTURE_EXAMPLES,
      steps: epochSteps,
      fullSteps,
      seconds: epochSteps * STEP_SECONDS * (kept < 1 ? 1.01 : 1),
    });
  });
  return { label, runId, epochs, steps };
}

const total = (arm: ArmReport, key: "tokens" | "steps" | "examples" | "seconds") =>
  arm.epochs.reduce((sum, e) => sum + (e[key] ?? 0), 0);

/** The two-arm report; `name` overrides the run name (e.g. with hostile markup). */
export function fixtureReport(overrides: Partial<RunReport> = {}): RunReport {
  const infobatch = arm("InfoBatch", "run_7f3a9c", INFOBATCH_PLAN, 7);
  const full = arm(
    "Full data",
    "run_7f3a9d",
    INFOBATCH_PLAN.map(() => ({ kept: 1, threshold: null })),
    7,
  );
  const last = (a: ArmReport) => a.epochs[a.epochs.length - 1].heldOutLoss;
  return {
    id: "run_7f3a9c",
    name: "alpaca-52k · Llama-3.2-1B LoRA r=16",
    status: "succeeded",
    createdAt: "2025-11-04T09:12:44Z",
    arms: [infobatch, full],
    summary: {
      tokens: { full: total(full, "tokens"), trained: total(infobatch, "tokens") },
      steps: { full: total(full, "steps"), trained: total(infobatch, "steps") },
      examples: { full: total(full, "examples"), trained: total(infobatch, "examples") },
      seconds: {
        full: total(full, "seconds"),
        trained: total(infobatch, "seconds"),
        estimated: false,
      },
      heldOutLoss: { infobatch: last(infobatch), full: last(full) },
    },
    ...overrides,
  };
}
