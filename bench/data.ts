/**
 * Data preparation speed: read + template + tokenize + mask GSM8K train (7,473 examples) with
 * tiktoken cl100k and with the GPT-2 tokenizer.json; then the pipeline's per-batch overhead
 * (plan order → weights → padded [B, T] arrays) for 32-example batches.
 *
 *   npm run bench:data                # table
 *   npm run bench:data -- --json      # one JSON object per line
 *   npm run bench:data -- --record    # also rewrite bench/results/data.md
 */
import { writeFileSync } from "node:fs";
import { loadTokenizer } from "../src/data/tokenizers/index.js";
import { createPipeline } from "../src/pipeline/index.js";
import { dataPath } from "../test/data-dir.js";

const args = new Set(process.argv.slice(2));
const dataset = dataPath("datasets", "gsm8k_train.jsonl");
const tokenizers: Array<[string, string]> = [
  ["cl100k_base", "cl100k_base"],
  ["gpt2 tokenizer.json", `hf:${dataPath("tokenizers", "gpt2")}`],
  ["llama2.c tok512", `llama2c:${dataPath("models", "stories260K", "tok512.bin")}`],
];
const BATCH = 32;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(name: string, spec: string) {
  const tokenizer = loadTokenizer(spec); // loading the vocabulary is not data preparation
  const seconds: number[] = [];
  let prepared: Awaited<ReturnType<typeof createPipeline>> | null = null;
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    prepared = await createPipeline({
      dataset,
      tokenizer,
      template: "qa",
      maxLength: 1024,
      batch: { size: BATCH },
      engine: { epochs: 10, seed: 0 },
    });
    seconds.push((performance.now() - t0) / 1000);
  }
  const { pipeline, corpus } = prepared!;
  // Per-batch overhead, losses reported: epochs 0–3 warm the JIT up, epochs 4–6 (pruned) are
  // timed, planning included.
  const perBatchUs: number[] = [];
  for (let epoch = 0; epoch < 7; epoch++) {
    let batches = 0;
    const t0 = performance.now();
    for await (const batch of pipeline.epoch(epoch)) {
      batch.reportLoss(Float32Array.from(batch.ids, (id) => 1 + (id % 13) / 10));
      batches++;
    }
    if (epoch >= 4) perBatchUs.push(((performance.now() - t0) * 1000) / batches);
  }
  const s = median(seconds);
  return {
    dataset: "gsm8k_train",
    tokenizer: name,
    examples: corpus.size,
    tokens: corpus.report.tokens,
    seconds: Number(s.toFixed(3)),
    examples_per_s: Math.round(corpus.size / s),
    tokens_per_s: Math.round(corpus.report.tokens / s),
    batch_overhead_us: Number(median(perBatchUs).toFixed(1)),
  };
}

const rows = [];
for (const [name, spec] of tokenizers) rows.push(await measure(name, spec));
if (args.has("--json")) for (const r of rows) console.log(JSON.stringify(r));
else console.table(rows);

if (args.has("--record")) {
  const lines = [
    "# Data preparation",
    "",
    `Command: \`npm run bench:data -- --record\` (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 2-core machine).`,
    'GSM8K train (7,473 records), template `qa` ("Question: …\\nAnswer: "), maxLength 1024: read + template +',
    "tokenize + mask, median of 3 runs (tokenizer files loaded beforehand). Batch overhead: mean time per",
    `${BATCH}-example batch of the pipeline (order, weights, padded [B, T] ids and masks, loss report),`,
    "median of epochs 4–6 (pruned; epochs 0–3 warm the JIT up), planning included. Most of it is allocating and",
    "filling the three [B, T] arrays, so it grows with T (tok512 examples are ~2.3× longer than cl100k's).",
    "",
    "| tokenizer | examples | tokens | seconds | examples / s | tokens / s | µs per batch |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.tokenizer} | ${r.examples} | ${r.tokens.toLocaleString("en")} | ${r.seconds} | ${r.examples_per_s.toLocaleString("en")} | ${r.tokens_per_s.toLocaleString("en")} | ${r.batch_overhead_us} |`,
    ),
    "",
    "Targets (issue 3): all of GSM8K train prepared in ≤ 3 s; ≤ 50 µs pipeline overhead per 32-example batch.",
    "",
  ];
  writeFileSync(new URL("./results/data.md", import.meta.url), lines.join("\n"));
}
