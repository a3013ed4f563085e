/**
 * Tokenizes an instruction dataset with the project's data pipeline and writes what the Python
 * example trainer reads: JSONL, one `{"ids": [...], "mask": [...]}` per example, where
 * `mask[t] = 1` when token t is a target (predicted from tokens < t). Line i is example id i.
 *
 *   node --import tsx adapters/hf/examples/export-jsonl.ts --dataset gsm8k_train.jsonl \
 *     --tokenizer llama2c:tok512.bin --template qa --max-length 256 --truncation right \
 *     --limit 2000 --out train.jsonl
 */

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import type { TruncationPolicy } from "../../../src/data/index.js";
import { prepareCorpus } from "../../../src/pipeline/prepare.js";

const { values } = parseArgs({
  options: {
    dataset: { type: "string" },
    tokenizer: { type: "string" },
    template: { type: "string", default: "qa" },
    "max-length": { type: "string", default: "256" },
    truncation: { type: "string", default: "right" },
    limit: { type: "string" },
    out: { type: "string" },
  },
});
if (values.dataset === undefined || values.tokenizer === undefined || values.out === undefined) {
  console.error(
    "usage: export-jsonl.ts --dataset FILE --tokenizer SPEC --out FILE [--template qa] [--max-length 256] [--truncation right] [--limit N]",
  );
  process.exit(2);
}

const { corpus } = await prepareCorpus({
  dataset: values.dataset,
  tokenizer: values.tokenizer,
  template: values.template as "qa",
  maxLength: Number(values["max-length"]),
  truncation: values.truncation as TruncationPolicy,
  limit: values.limit === undefined ? undefined : Number(values.limit),
});
const out = createWriteStream(values.out);
for (let id = 0; id < corpus.size; id++) {
  const { tokens, targets } = corpus.example(id);
  const line = `${JSON.stringify({ ids: Array.from(tokens), mask: Array.from(targets) })}\n`;
  if (!out.write(line)) await once(out, "drain");
}
out.end();
await once(out, "finish");
const { examples, tokens, targetTokens, truncated, droppedNoTarget } = corpus.report;
console.log(
  JSON.stringify({ out: values.out, examples, tokens, targetTokens, truncated, droppedNoTarget }),
);
