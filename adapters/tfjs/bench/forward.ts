/**
 * Forward-pass throughput of stories260K: batch × seq random tokens, median of `--runs` timed
 * forwards after one warm-up. Run: `node --import tsx adapters/tfjs/bench/forward.ts
 * [--backend wasm|cpu|tensorflow] [--batch 16] [--seq 256] [--runs 5] [--json]`.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { dataPath } from "../../../test/data-dir.js";
import { type BackendName, initBackend } from "../backend.js";
import { loadLlama2cCheckpoint } from "../checkpoints/node.js";
import { createLlama, forward } from "../model/llama.js";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    batch: { type: "string", default: "16" },
    seq: { type: "string", default: "256" },
    runs: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const [B, T, runs] = [Number(values.batch), Number(values.seq), Number(values.runs)];

const { backend } = await initBackend(values.backend as BackendName);
const model = createLlama(
  loadLlama2cCheckpoint(dataPath("models", "stories260K", "stories260K.bin")),
);
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % model.config.vocabSize);
const tokens = tf.tensor2d(ids, [B, T], "int32");

const times: number[] = [];
for (let run = 0; run <= runs; run++) {
  const start = performance.now();
  const logits = forward(model, tokens);
  logits.dataSync(); // wait for the backend
  logits.dispose();
  if (run > 0) times.push((performance.now() - start) / 1000);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const result = {
  backend,
  batch: B,
  seq: T,
  median_s: Number(median.toFixed(4)),
  tokens_per_s: Math.round((B * T) / median),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
};
if (values.json) console.log(JSON.stringify(result));
else
  console.log(
    `forward ${B}×${T} on ${backend}: ${result.median_s} s, ${result.tokens_per_s} tokens/s`,
  );
