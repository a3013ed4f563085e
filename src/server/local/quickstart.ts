/**
 * The quickstart's own base model and instruction tasks: made by the project's code from a seed
 * (nothing downloaded, nothing read from outside the project), the base model pretrained once
 * and cached on disk.
 */
import { loadOrPretrainBaseModel, PRETRAIN_DEFAULTS } from "../../../adapters/tfjs/pretrain.js";
import { QUICKSTART_DEFAULTS } from "../../data/synthetic/quickstart.js";
import { instructionTasks } from "../../data/synthetic/tasks.js";
import { asciiTokenizer } from "../../data/synthetic/tokenizer.js";
import { prepareCorpus } from "../../pipeline/prepare.js";
import type { LocalRun } from "../schemas.js";
import type { PreparingProgress, RunSources } from "./sources.js";

export async function quickstartSources(
  recipe: LocalRun,
  data: Extract<LocalRun["data"], { source: "quickstart" }>,
  cacheDir: string,
  progress: PreparingProgress,
): Promise<RunSources> {
  const tokenizer = asciiTokenizer();
  const base = await loadOrPretrainBaseModel(cacheDir, {
    ...PRETRAIN_DEFAULTS,
    onProgress: (p) =>
      progress({
        phase: "pretraining the base model",
        done: p.step + 1,
        total: p.steps,
        loss: p.loss,
      }),
  });
  const tasks = instructionTasks({
    seed: data.seed ?? QUICKSTART_DEFAULTS.seed,
    train: data.train ?? QUICKSTART_DEFAULTS.train,
    heldOut: data.heldOut ?? QUICKSTART_DEFAULTS.heldOut,
  });
  const corpus = async (records: typeof tasks.train) =>
    (
      await prepareCorpus({
        dataset: records,
        tokenizer,
        template: "plain",
        maxLength: Math.min(recipe.maxLength, base.checkpoint.config.seqLen),
        truncation: recipe.truncation,
      })
    ).corpus;
  return {
    tokenizer,
    checkpoint: base.checkpoint,
    train: await corpus(tasks.train),
    heldOut: await corpus(tasks.heldOut),
  };
}
