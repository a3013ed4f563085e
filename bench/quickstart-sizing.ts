/**
 * Sizes the built-in quickstart, in process (no server): pretrain the base model on the built-in
 * text, then LoRA-tune it on the built-in instruction tasks twice — InfoBatch and full data —
 * and evaluate both on the held-out tasks. Prints seconds per phase, tokens trained, held-out
 * response loss of the base model and of each arm, and the tokens InfoBatch saved.
 *
 *   node --import tsx bench/quickstart-sizing.ts                 # the defaults
 *   node --import tsx bench/quickstart-sizing.ts --epochs 8 --train 1500 --steps 200 --json
 *
 * Overrides: --seed --steps --pretrain-batch --pretrain-lr --dim --hidden --layers --heads
 * --seq-len --train --held-out --epochs --batch --lr --rank --alpha --targets q,k,v,o
 * --tasks copy,last (a subset) --workers --arms infobatch,full --per-task --cache DIR (reuse the pretrained model) --json.
 */
import { initBackend } from "../adapters/tfjs/backend.js";
import { createLlama, disposeLlama } from "../adapters/tfjs/model/llama.js";
import {
  BASE_MODEL_CONFIG,
  loadOrPretrainBaseModel,
  PRETRAIN_DEFAULTS,
  type PretrainProgress,
  pretrainBaseModel,
} from "../adapters/tfjs/pretrain.js";
import { LoraTrainer } from "../adapters/tfjs/train/trainer.js";
import { TokenizedCorpus } from "../src/data/corpus.js";
import {
  asciiTokenizer,
  instructionTasks,
  QUICKSTART_DEFAULTS,
  type SyntheticExample,
  type TaskName,
} from "../src/data/synthetic/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { prepareCorpus } from "../src/pipeline/prepare.js";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
function option(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const num = (name: string, fallback: number) => {
  const v = option(name);
  return v === undefined ? fallback : Number(v);
};

const q = QUICKSTART_DEFAULTS;
const seed = num("seed", q.seed);
const config = {
  ...BASE_MODEL_CONFIG,
  dim: num("dim", BASE_MODEL_CONFIG.dim),
  hiddenDim: num("hidden", BASE_MODEL_CONFIG.hiddenDim),
  nLayers: num("layers", BASE_MODEL_CONFIG.nLayers),
  nHeads: num("heads", BASE_MODEL_CONFIG.nHeads),
  nKvHeads: num("heads", BASE_MODEL_CONFIG.nKvHeads),
  seqLen: num("seq-len", BASE_MODEL_CONFIG.seqLen),
};
const pretrain = {
  ...PRETRAIN_DEFAULTS,
  seed,
  config,
  steps: num("steps", PRETRAIN_DEFAULTS.steps),
  batchSize: num("pretrain-batch", PRETRAIN_DEFAULTS.batchSize),
  lr: num("pretrain-lr", PRETRAIN_DEFAULTS.lr),
};
const run = {
  train: num("train", q.train),
  heldOut: num("held-out", q.heldOut),
  epochs: num("epochs", q.epochs),
  batchSize: num("batch", q.batchSize),
  lr: num("lr", q.lr),
  lora: {
    ...q.lora,
    rank: num("rank", q.lora.rank),
    alpha: num("alpha", q.lora.alpha),
    targets: option("targets")?.split(",") ?? q.lora.targets,
  },
  workers: num("workers", q.workers),
};
const arms = (option("arms") ?? "infobatch,full").split(",");
const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Mean held-out loss per task (forward only), from the trainer's per-example evaluation. */
function perTask(trainer: LoraTrainer, corpus: TokenizedCorpus, examples: SyntheticExample[]) {
  const out: Record<string, number> = {};
  const byTask = new Map<string, number[]>();
  examples.forEach((e, i) => {
    byTask.set(e.task, [...(byTask.get(e.task) ?? []), i]);
  });
  for (const [task, ids] of byTask) {
    const sub = subset(corpus, ids);
    out[task] = trainer.evaluate(sub).loss;
  }
  return out;
}

function subset(corpus: TokenizedCorpus, ids: number[]): TokenizedCorpus {
  const tokens: number[] = [];
  const targets: number[] = [];
  const offsets = [0];
  for (const id of ids) {
    const e = corpus.example(id);
    tokens.push(...e.tokens);
    targets.push(...e.targets);
    offsets.push(tokens.length);
  }
  return new TokenizedCorpus(
    Int32Array.from(tokens),
    Uint8Array.from(targets),
    Uint32Array.from(offsets),
    ids.map((id) => corpus.sources[id]),
    corpus.report,
  );
}

const started = performance.now();
const { backend } = await initBackend("wasm");
log(`backend ${backend}; model ${JSON.stringify(config)}`);

// 1. Pretraining.
let t0 = performance.now();
const pretrainOptions = {
  ...pretrain,
  onProgress: (p: PretrainProgress) => {
    if (p.step % 25 === 0 || p.step === p.steps - 1) {
      log(
        `pretrain step ${p.step + 1}/${p.steps} loss ${p.loss.toFixed(3)} ${p.tokensPerSecond.toFixed(0)} tok/s`,
      );
    }
  },
};
// --cache DIR reuses a pretrained base model (for sweeps over the fine-tuning settings).
const cacheDir = option("cache");
const checkpoint =
  cacheDir === undefined
    ? await pretrainBaseModel(pretrainOptions)
    : (await loadOrPretrainBaseModel(cacheDir, pretrainOptions)).checkpoint;
const pretrainSeconds = seconds(t0);

// 2. Data.
t0 = performance.now();
const tokenizer = asciiTokenizer();
const taskNames = option("tasks")?.split(",") as TaskName[] | undefined;
const tasks = instructionTasks({
  seed,
  train: run.train,
  heldOut: run.heldOut,
  ...(taskNames === undefined ? {} : { tasks: taskNames }),
});
const data = { tokenizer, template: q.template, maxLength: config.seqLen } as const;
const { corpus: trainCorpus } = await prepareCorpus({ ...data, dataset: tasks.train });
const { corpus: heldOut } = await prepareCorpus({ ...data, dataset: tasks.heldOut });
const dataSeconds = seconds(t0);

// 3. Base model on the held-out tasks (LoRA's B = 0: the adapter is the identity).
t0 = performance.now();
const probe = new LoraTrainer(createLlama(checkpoint), { lora: run.lora, lr: run.lr });
const base = probe.evaluate(heldOut).loss;
const basePerTask = flag("per-task") ? perTask(probe, heldOut, tasks.heldOut) : null;
await probe.dispose();
disposeLlama(probe.model);
const baseEvalSeconds = seconds(t0);
log(`base held-out loss ${base.toFixed(4)} (${baseEvalSeconds.toFixed(1)} s)`);

// 4. The two arms.
const results: Record<string, Record<string, unknown>> = {};
for (const arm of arms) {
  t0 = performance.now();
  const trainer = await LoraTrainer.create(checkpoint, {
    lora: run.lora,
    lr: run.lr,
    warmupFraction: q.warmupFraction,
    optimizer: { weightDecay: q.weightDecay },
    seed,
    workers: run.workers,
  });
  const pipeline = new Pipeline({
    corpus: trainCorpus,
    padId: tokenizer.padId,
    batch: { size: run.batchSize },
    engine: {
      epochs: run.epochs,
      seed,
      pruneRatio: arm === "full" ? 0 : q.pruneRatio,
      delta: q.delta,
    },
  });
  const history = await trainer.fit(pipeline, {
    epochs: run.epochs,
    onEvent: (e) => {
      if (e.type === "epoch") {
        log(
          `${arm} epoch ${e.epoch}: ${e.steps} steps, ${e.tokens} tokens, ${e.seconds.toFixed(1)} s, kept ${(100 * e.keptFraction).toFixed(0)}%, train loss ${e.trainLoss.toFixed(4)}`,
        );
      }
    },
  });
  const trainSeconds = seconds(t0);
  t0 = performance.now();
  const loss = trainer.evaluate(heldOut).loss;
  const evalSeconds = seconds(t0);
  const savings = pipeline.savings();
  results[arm] = {
    train_s: trainSeconds,
    eval_s: evalSeconds,
    heldout_loss: loss,
    vs_base: loss / base - 1,
    tokens_trained: savings.total.tokens?.trained,
    tokens_full: savings.total.tokens?.full,
    tokens_saved_fraction: savings.total.tokens?.savedFraction,
    steps: history.reduce((n, e) => n + e.steps, 0),
    padded_tokens: history.reduce((n, e) => n + e.tokens, 0),
    ...(flag("per-task") ? { per_task: perTask(trainer, heldOut, tasks.heldOut) } : {}),
  };
  log(`${arm}: held-out loss ${loss.toFixed(4)} in ${trainSeconds.toFixed(1)} s`);
  await trainer.dispose();
}

const summary = {
  backend,
  model: config,
  pretrain: { steps: pretrain.steps, batchSize: pretrain.batchSize, lr: pretrain.lr },
  run,
  seconds: {
    pretrain: pretrainSeconds,
    data: dataSeconds,
    base_eval: baseEvalSeconds,
    ...Object.fromEntries(arms.map((a) => [a, results[a].train_s])),
    total: seconds(started),
  },
  train_tokens_per_epoch: trainCorpus.report.tokens,
  heldout_loss: { base, ...Object.fromEntries(arms.map((a) => [a, results[a].heldout_loss])) },
  ...(basePerTask === null ? {} : { base_per_task: basePerTask }),
  arms: results,
};
if (flag("json")) {
  console.log(JSON.stringify(summary));
} else {
  const pct = (x: unknown) => `${(100 * Number(x)).toFixed(1)}%`;
  console.log(`quickstart sizing (${backend}), total ${summary.seconds.total.toFixed(1)} s`);
  console.log(
    `  model dim ${config.dim}, hidden ${config.hiddenDim}, ${config.nLayers} layers, ${config.nHeads} heads, seqLen ${config.seqLen}`,
  );
  console.log(
    `  pretrain ${pretrain.steps} steps × ${pretrain.batchSize} × ${config.seqLen}: ${pretrainSeconds.toFixed(1)} s`,
  );
  console.log(
    `  tasks ${run.train} train (${trainCorpus.report.tokens} tokens/epoch) / ${run.heldOut} held out; ${run.epochs} epochs, batch ${run.batchSize}, lr ${run.lr}, LoRA r=${run.lora.rank} on ${run.lora.targets.join(",")}`,
  );
  console.log(`  held-out loss: base ${base.toFixed(4)}`);
  for (const arm of arms) {
    const r = results[arm];
    console.log(
      `  ${arm.padEnd(9)} ${Number(r.heldout_loss).toFixed(4)} (${pct(r.vs_base)} vs base) in ${Number(r.train_s).toFixed(1)} s, ${r.tokens_trained} tokens trained (${pct(r.tokens_saved_fraction)} saved), ${r.steps} steps`,
    );
    if (r.per_task) console.log(`            per task ${JSON.stringify(r.per_task)}`);
  }
  if (basePerTask) console.log(`  base per task ${JSON.stringify(basePerTask)}`);
}
