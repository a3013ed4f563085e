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
