/**
 * What a local run trains on, from its recipe: the base model, the tokenizer and the train and
 * held-out corpora. Runs inside the trainer thread (tokenizing a dataset takes seconds).
 */
import { resolve } from "node:path";
import { loadLlama2cCheckpoint } from "../../../adapters/tfjs/checkpoints/node.js";
import type { LlamaCheckpoint } from "../../../adapters/tfjs/model/params.js";
import type { TokenizedCorpus } from "../../data/corpus.js";
import { loadTokenizer } from "../../data/tokenizers/index.js";
import type { Tokenizer } from "../../data/types.js";
import { prepareCorpus } from "../../pipeline/prepare.js";
import type { LocalRun } from "../schemas.js";
import { quickstartSources } from "./quickstart.js";

/** Progress while a run prepares (the quickstart pretrains its base model the first time). */
export type PreparingProgress = (progress: {
  phase: string;
  done: number;
  total: number;
  loss?: number;
}) => void;

export interface RunSources {
  tokenizer: Tokenizer;
  checkpoint: LlamaCheckpoint;
  train: TokenizedCorpus;
  heldOut: TokenizedCorpus;
}

export async function loadSources(
  recipe: LocalRun,
  cacheDir: string,
  progress: PreparingProgress,
): Promise<RunSources> {
  if (recipe.model.source === "quickstart" || recipe.data.source === "quickstart") {
    if (recipe.model.source !== "quickstart" || recipe.data.source !== "quickstart") {
      throw new Error(
        'the quickstart model and quickstart data go together (source: "quickstart")',
      );
    }
    return quickstartSources(recipe, recipe.data, cacheDir, progress);
  }
  const tokenizer = loadTokenizer(`llama2c:${resolve(recipe.model.tokenizer)}`);
  const checkpoint = loadLlama2cCheckpoint(resolve(recipe.model.checkpoint));
  const corpus = async (path: string, limit: number | undefined) =>
    (
      await prepareCorpus({
        dataset: resolve(path),
        format: recipe.data.source === "files" ? (recipe.data.format ?? "auto") : "auto",
        template: recipe.data.source === "files" ? recipe.data.template : undefined,
        tokenizer,
        maxLength: recipe.maxLength,
        truncation: recipe.truncation,
        limit,
      })
    ).corpus;
  const data = recipe.data;
  return {
    tokenizer,
    checkpoint,
    train: await corpus(data.train, data.trainLimit),
    heldOut: await corpus(data.heldOut, data.heldOutLimit),
  };
}
