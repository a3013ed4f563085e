/**
 * The built-in quickstart's run settings as plain data (no tfjs types: the data layer holds them,
 * the CLI and the control plane read them). The base model and its pretraining settings are in
 * adapters/tfjs/pretrain.ts (`BASE_MODEL_CONFIG`, `PRETRAIN_DEFAULTS`).
 */

export interface QuickstartDefaults {
  /** Seed of the task set, the engine, LoRA initialisation (and the base model's pretraining). */
  seed: number;
  /** `instructionTasks` sizes. */
  train: number;
  heldOut: number;
  /** Corpus preparation: template and longest example (the base model's seqLen). */
  template: "plain";
  maxLength: number;
  /** Examples per optimizer step. */
  batchSize: number;
  epochs: number;
  /** The InfoBatch arm's engine settings; the full-data arm uses pruneRatio 0. */
  pruneRatio: number;
  delta: number;
  /** LoRA (a `LoraConfig`) and the optimizer. */
  lora: { rank: number; alpha: number; dropout: number; targets: readonly string[] };
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  /** Worker threads per trainer (data parallel; 1 uses both cores of a 2-core machine). */
  workers: number;
}

/**
 * Measured with `node --import tsx bench/quickstart-sizing.ts` (wasm, 2 cores shared with other
 * test suites, load 2–3), base model pretrained with PRETRAIN_DEFAULTS: pretraining 41–53 s, the
 * InfoBatch arm 32–37 s, the full-data arm 35–40 s, held-out evaluation < 1 s each; 118–123 s in
 * all. Held-out response loss: base 6.50, full data 2.589 (−60.2%), InfoBatch 2.594 (−60.1%, +0.2%
 * vs full) training 18.2% fewer tokens (101,162 of 123,672) and 156 of 192 steps.
 */
export const QUICKSTART_DEFAULTS: QuickstartDefaults = {
  seed: 0,
  train: 1000,
  heldOut: 200,
  template: "plain",
  maxLength: 48,
  batchSize: 32,
  epochs: 6,
  pruneRatio: 0.5,
  delta: 0.875,
  lora: { rank: 8, alpha: 16, dropout: 0, targets: ["q", "k", "v", "o", "gate", "up", "down"] },
  lr: 1e-2,
  warmupFraction: 0.05,
  weightDecay: 0,
  workers: 1,
};
