export {
  type EngineSettings,
  type EpochEndEvent,
  type EpochStartEvent,
  Pipeline,
  type PipelineBatch,
  type PipelineHooks,
  type PipelineOptions,
  type PipelineState,
} from "./pipeline.js";
export {
  type CreatePipelineOptions,
  createPipeline,
  type PreparedCorpus,
  type PrepareOptions,
  prepareCorpus,
  resolveTemplate,
  type TemplateName,
} from "./prepare.js";
