/**
 * The HTTP contract's shapes as zod schemas: they validate requests and generate /openapi.json,
 * so the two cannot drift apart.
 */
import { z } from "zod";

const ratio = z.number().min(0).lt(1);

/** Engine settings of a run (InfoBatchOptions without size and lengths). */
export const EngineSchema = z
  .object({
    epochs: z.number().int().min(1).max(1_000_000),
    pruneRatio: ratio.optional(),
    delta: z.number().min(0).max(1).optional(),
    seed: z.number().int().min(0).max(4294967295).optional(),
    nonFinite: z.enum(["skip", "throw"]).optional(),
    budget: z
      .object({
        target: z.number().gt(0).lt(1),
        unit: z.enum(["tokens", "examples"]).optional(),
        maxPruneRatio: ratio.optional(),
      })
      .strict()
      .optional(),
    lengthAware: z
      .union([
        z.boolean(),
        z
          .object({
            exponent: z.number().min(0).max(8).optional(),
            maxPruneRatio: ratio.optional(),
          })
          .strict(),
      ])
      .optional(),
  })
  .strict();

/** A run trained elsewhere (GPU workers): the server plans, scores and accounts. */
export const RemoteRunSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    trainer: z.literal("remote"),
    dataset: z
      .object({
        size: z.number().int().min(1).max(4294967295),
        /** Tokens per example, for token accounting and token budgets. */
        lengths: z.array(z.number().int().min(0).max(16777216)).optional(),
      })
      .strict(),
    engine: EngineSchema,
    /** Ranks sharing each epoch. Default 1. */
    world: z.number().int().min(1).max(4096).optional(),
    /** How a plan splits over ranks. Default "pad". */
    shardPolicy: z.enum(["pad", "drop"]).optional(),
    /** Batch size per rank, for step accounting. */
    batchSize: z.number().int().min(1).optional(),
  })
  .strict();

export type RemoteRun = z.infer<typeof RemoteRunSchema>;

const path = z.string().min(1).max(4096);

/** LoRA and optimisation settings of a run trained by the in-process trainer. */
export const TrainingSchema = z
  .object({
    batchSize: z.number().int().min(1).max(4096),
    lr: z.number().gt(0).max(10),
    warmupFraction: z.number().min(0).lt(1).optional(),
    weightDecay: z.number().min(0).max(1).optional(),
    clipNorm: z.number().gt(0).optional(),
    lora: z
      .object({
        rank: z.number().int().min(1).max(1024),
        alpha: z.number().gt(0).optional(),
        dropout: z.number().min(0).lt(1).optional(),
        targets: z
          .array(z.enum(["q", "k", "v", "o", "gate", "up", "down"]))
          .min(1)
          .optional(),
      })
      .strict(),
    /** Seeds LoRA initialisation and dropout. Default: the engine's seed. */
    seed: z.number().int().min(0).max(4294967295).optional(),
    /** Extra gradient worker threads (data parallel). Default 0. */
    workers: z.number().int().min(0).max(64).optional(),
  })
  .strict();

/** Where a local run's base model comes from. */
export const ModelSourceSchema = z.discriminatedUnion("source", [
  /** The project's own small base model, pretrained deterministically and cached. */
  z.object({ source: z.literal("quickstart") }).strict(),
  /** A llama2.c checkpoint (.bin) and its tokenizer (tok*.bin). */
  z.object({ source: z.literal("llama2c"), checkpoint: path, tokenizer: path }).strict(),
]);

/** Where a local run's instruction data comes from. */
export const DataSourceSchema = z.discriminatedUnion("source", [
  /** The project's own generated instruction tasks. */
  z
    .object({
      source: z.literal("quickstart"),
      train: z.number().int().min(1).max(1_000_000).optional(),
      heldOut: z.number().int().min(1).max(100_000).optional(),
      seed: z.number().int().min(0).max(4294967295).optional(),
    })
    .strict(),
  /** Dataset files (JSONL or JSON arrays) read by the data pipeline. */
  z
    .object({
      source: z.literal("files"),
      train: path,
      heldOut: path,
      format: z.enum(["auto", "alpaca", "gsm8k", "chat", "sharegpt"]).optional(),
      template: z.enum(["alpaca", "plain", "qa", "chat"]).optional(),
      /** Read only the first N train / held-out records. */
      trainLimit: z.number().int().min(1).optional(),
      heldOutLimit: z.number().int().min(1).optional(),
    })
    .strict(),
]);

/** A run trained in-process by the TensorFlow.js LoRA trainer (Node only, in a worker thread). */
export const LocalRunSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    trainer: z.literal("local"),
    model: ModelSourceSchema,
    data: DataSourceSchema,
    /** Longest example in tokens (BOS … EOS); longer ones are truncated. */
    maxLength: z.number().int().min(2).max(65536),
    truncation: z.enum(["prompt-left", "right", "drop"]).optional(),
    training: TrainingSchema,
    engine: EngineSchema,
    /** "full" also trains the same recipe on full data, as a second run, for a measured comparison. */
    compare: z.enum(["none", "full"]).optional(),
  })
  .strict();

export type LocalRun = z.infer<typeof LocalRunSchema>;

/** What POST /v1/runs accepts: a recipe, or the name of a recipe file in the recipes folder. */
export const RecipeSchema = z.discriminatedUnion("trainer", [RemoteRunSchema, LocalRunSchema]);
export type Recipe = z.infer<typeof RecipeSchema>;

export const RecipeReferenceSchema = z
  .object({
    recipe: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a recipe name: letters, digits, '.', '_', '-'"),
    /** Values for the recipe's declared `${param}` placeholders. */
    params: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** A held-out evaluation after an epoch, reported by the trainer. */
export const EvaluationSchema = z
  .object({
    /** The epoch just trained; −1 for the base model before training. */
    epoch: z.number().int().min(-1),
    heldOutLoss: z.number().finite(),
    trainLoss: z.number().finite().optional(),
    /** Tokens the trainer forwarded in that epoch, and its wall seconds (for wall-time savings). */
    tokens: z.number().int().min(0).optional(),
    seconds: z.number().min(0).optional(),
  })
  .strict();

export type Evaluation = z.infer<typeof EvaluationSchema>;

/** Losses of one batch of one rank: per example, or per token [B, T] with a mask. */
export const LossReportSchema = z
  .object({
    epoch: z.number().int().min(0),
    step: z.number().int().min(0),
    rank: z.number().int().min(0),
    ids: z.array(z.number().int().min(0).max(4294967295)).min(1),
    losses: z.array(z.number().finite()).optional(),
    tokenLosses: z.array(z.number().finite()).optional(),
    mask: z.array(z.number().min(0).max(1)).optional(),
  })
  .strict()
  .refine((r) => (r.losses === undefined) !== (r.tokenLosses === undefined), {
    message: "give exactly one of losses (per example) or tokenLosses (per token)",
    path: ["losses"],
  });

export type LossReport = z.infer<typeof LossReportSchema>;

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    path: z.array(z.union([z.string(), z.number()])),
  }),
});
