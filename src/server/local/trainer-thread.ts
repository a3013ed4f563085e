/**
 * A local run's trainer, in a worker thread so the control plane's event loop never trains.
 * It is a client of the run like any remote trainer: it asks the main thread for the open
 * epoch's plan, trains it batch by batch with the TensorFlow.js LoRA trainer, reports each
 * batch's per-example losses, evaluates the held-out set, saves its checkpoint and only then
 * closes the epoch; so after a crash it resumes from the last closed epoch with its own state.
 */
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../../../adapters/tfjs/backend.js";
import { learningRateAt, progressAt } from "../../../adapters/tfjs/train/schedule.js";
import { LoraTrainer } from "../../../adapters/tfjs/train/trainer.js";
import { collate } from "../../data/batching.js";
import type { Call, PlanReply, Reply, TrainerThreadInit } from "./protocol.js";
import { loadSources } from "./sources.js";

type CallBody = Call extends infer C ? (C extends Call ? Omit<C, "id"> : never) : never;

const port = parentPort!;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 0;
port.on("message", (reply: Reply) => {
  const waiting = pending.get(reply.id);
  pending.delete(reply.id);
  if (reply.ok) waiting?.resolve(reply.value);
  else waiting?.reject(new Error(reply.error));
});

function call<T>(body: CallBody, transfer: ArrayBuffer[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    port.postMessage({ id, ...body }, transfer);
  });
}

async function main(init: TrainerThreadInit): Promise<void> {
  const { recipe } = init;
  await initBackend("wasm");
  let lastProgress = 0;
  const sources = await loadSources(recipe, init.cacheDir, (progress) => {
    const now = performance.now();
    if (now - lastProgress < 200 && progress.done < progress.total) return;
    lastProgress = now;
    void call({ call: "preparing", ...progress });
  });
  const { train, heldOut, tokenizer } = sources;
  await call({ call: "data", size: train.size, lengths: Array.from(train.lengths()) });
  const training = recipe.training;
  const trainer = await LoraTrainer.create(sources.checkpoint, {
    lora: {
      rank: training.lora.rank,
      alpha: training.lora.alpha ?? 2 * training.lora.rank,
      dropout: training.lora.dropout,
      targets: training.lora.targets ?? ["q", "k", "v", "o"],
    },
    lr: training.lr,
    warmupFraction: training.warmupFraction,
    optimizer: { weightDecay: training.weightDecay, clipNorm: training.clipNorm ?? null },
    seed: training.seed ?? recipe.engine.seed ?? 0,
    workers: training.workers ?? 0,
  });
  let trained = -1;
  if (init.state !== null) {
    trained = Number(trainer.loadState(init.state).epoch);
  } else {
    const base = trainer.evaluate(heldOut, training.batchSize);
    await call({ call: "evaluation", epoch: -1, heldOutLoss: base.loss });
  }
  let tokens = 0;
  for (;;) {
    const plan = await call<PlanReply>({ call: "plan" });
    if (plan.finished) break;
    const { epoch, epochs, ids, weights } = plan;
    if (epoch <= trained) {
      // The last run saved this epoch's checkpoint but stopped before closing it.
      await call({ call: "close", epoch });
      continue;
    }
    const batchSize = training.batchSize;
    const steps = Math.ceil(ids.length / batchSize);
    const started = performance.now();
    let epochTokens = 0;
    let lossSum = 0;
    let lr = 0;
    for (let step = 0; step < steps; step++) {
      const batchIds = ids.subarray(step * batchSize, (step + 1) * batchSize);
      const batch = collate(
        train,
        batchIds,
        weights.subarray(step * batchSize, (step + 1) * batchSize),
        tokenizer.padId,
      );
      lr = learningRateAt(progressAt(epoch, step, steps, epochs), {
        lr: training.lr,
        warmupFraction: training.warmupFraction,
      });
      const result = await trainer.trainStepParallel(batch, lr);
      epochTokens += batch.tokens;
      tokens += batch.tokens;
      lossSum += result.loss;
      await call({
        call: "step",
        epoch,
        step,
        steps,
        ids: Array.from(batchIds),
        losses: Array.from(result.perExample),
        loss: result.loss,
        lr,
        tokens,
        tokensPerSecond: epochTokens / ((performance.now() - started) / 1000),
      });
    }
    trainer.flush(lr);
    const seconds = (performance.now() - started) / 1000;
    const evaluation = trainer.evaluate(heldOut, batchSize);
    await call({
      call: "evaluation",
      epoch,
      heldOutLoss: evaluation.loss,
      trainLoss: steps > 0 ? lossSum / steps : undefined,
      tokens: epochTokens,
      seconds,
    });
    const state = trainer.saveState({ epoch });
    await call({ call: "checkpoint", epoch, state }, [state.buffer as ArrayBuffer]);
    trained = epoch;
  }
  await trainer.dispose();
}

main(workerData as TrainerThreadInit).then(
  () => process.exit(0),
  (error: Error) => {
    // The main thread sees the exit code and this message (worker "error" event).
    throw error;
  },
);
