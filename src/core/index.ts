export { InfoBatch, meanTokenLosses, type UpdateOptions, type UpdateResult } from "./engine.js";
export { InfoBatchError, type InfoBatchErrorCode } from "./errors.js";
export type {
  Amount,
  EpochRecord,
  EpochSavings,
  SavingsOptions,
  SavingsReport,
} from "./ledger.js";
export type {
  BudgetOptions,
  BudgetUnit,
  InfoBatchOptions,
  LengthAwareOptions,
  NonFinitePolicy,
  ResolvedOptions,
} from "./options.js";
export { IndexShuffle } from "./permutation.js";
export {
  EpochPlan,
  type PlanBatch,
  type PlanInfo,
  PlanShard,
  type ShardPolicy,
  type StepOptions,
  WeightedOrder,
} from "./plan.js";
export { deriveKey, Xoshiro128 } from "./rng.js";
