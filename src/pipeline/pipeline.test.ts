import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../core/index.js";
import { buildCorpus } from "../data/corpus.js";
import { questionAnswerTemplate } from "../data/templates/index.js";
import { charTokenizer } from "../data/test-tokenizer.js";
import type { SourcedRecord } from "../data/types.js";
import { Pipeline, type PipelineBatch, type PipelineOptions } from "./pipeline.js";

const tokenizer = charTokenizer();

function records(n: number): SourcedRecord[] {
  const rng = new Xoshiro128(5);
  return Array.from({ length: n }, (_, i) => ({
    record: {
      kind: "instruction" as const,
      instruction: `q${i} ${"x".repeat(rng.nextBelow(20))}`,
      input: "",
      output: `a${i} ${"y".repeat(1 + rng.nextBelow(30))}`,
    },
    source: { file: "synthetic.jsonl", line: i + 1 },
  }));
}

async function makePipeline(extra: Partial<PipelineOptions> = {}, n = 300) {
  const corpus = await buildCorpus(records(n), {
    tokenizer,
    template: questionAnswerTemplate,
    maxLength: 48,
  });
  return new Pipeline({
    corpus,
    padId: 0,
    batch: { size: 16 },
    engine: { epochs: 4, seed: 3 },
    ...extra,
  });
}

/** A stand-in loss: how "hard" an example is, from its target tokens (deterministic). */
function lossOf(batch: PipelineBatch): Float32Array {
  return Float32Array.from(batch.ids, (id) => 0.5 + (id % 7) / 3);
}

describe("Pipeline", () => {
  it("yields exactly steps(e) padded batches whose masks match the corpus", async () => {
    const pipeline = await makePipeline();
    const steps = pipeline.steps(0);
    let count = 0;
    for await (const batch of pipeline.epoch(0)) {
      count++;
      const { batchSize: B, seqLen: T } = batch;
      expect(batch.inputIds.length).toBe(B * T);
      for (let b = 0; b < B; b++) {
        const ex = pipeline.corpus.example(batch.ids[b]);
        expect(Array.from(batch.inputIds.subarray(b * T, b * T + ex.tokens.length))).toEqual(
          Array.from(ex.tokens),
        );
        expect(batch.attentionMask.subarray(b * T, (b + 1) * T).reduce((a, v) => a + v, 0)).toBe(
          ex.tokens.length,
        );
        expect(Array.from(batch.targetMask.subarray(b * T, b * T + ex.tokens.length))).toEqual(
          Array.from(ex.targets),
        );
        expect(
          batch.inputIds.subarray(b * T + ex.tokens.length, (b + 1) * T).every((v) => v === 0),
        ).toBe(true);
      }
      batch.reportLoss(lossOf(batch));
    }
    expect(count).toBe(steps);
    expect(steps).toBe(Math.ceil(300 / 16));
  });

  it("prunes well-learned examples after the first epoch and up-weights the kept ones", async () => {
    const pipeline = await makePipeline();
    for await (const batch of pipeline.epoch(0)) batch.reportLoss(lossOf(batch));
    const steps = pipeline.steps(1);
    expect(steps).toBeLessThan(Math.ceil(300 / 16));
    let weighted = 0;
    // Scores after epoch 0 are lossOf's values: weight 2 exactly below their mean, else 1.
    const scoreOf = (id: number) => Math.fround(0.5 + (id % 7) / 3);
    let mean = 0;
    for (let id = 0; id < 300; id++) mean += scoreOf(id) / 300;
    for await (const batch of pipeline.epoch(1)) {
      for (let i = 0; i < batch.ids.length; i++) {
        expect(batch.weights[i]).toBe(scoreOf(batch.ids[i]) < mean ? 2 : 1);
        if (batch.weights[i] === 2) weighted++;
      }
      batch.reportLoss(lossOf(batch));
    }
    expect(weighted).toBeGreaterThan(0);
    const savings = pipeline.savings();
    expect(savings.total.steps!.trained).toBe(Math.ceil(300 / 16) + steps);
    expect(savings.total.tokens!.saved).toBeGreaterThan(0);
  });

  it("batches by a token budget including padding, with steps known up front", async () => {
    const pipeline = await makePipeline({ batch: { tokens: 200 } });
    const steps = pipeline.steps(0);
    let count = 0;
    let examples = 0;
    for await (const batch of pipeline.epoch(0)) {
      expect(batch.batchSize * batch.seqLen).toBeLessThanOrEqual(200);
      count++;
      examples += batch.batchSize;
      batch.reportLoss(lossOf(batch));
    }
    expect(count).toBe(steps);
    expect(examples).toBe(300);
  });

  it("accepts per-token losses and rejects a second report of the same batch", async () => {
    const pipeline = await makePipeline();
    const it0 = pipeline.epoch(0)[Symbol.asyncIterator]();
    const { value: batch } = await it0.next();
    const perToken = Float32Array.from(batch!.targetMask, (m, i) => (m ? 1 + (i % 3) : Number.NaN));
    expect(batch!.reportTokenLosses(perToken).applied).toBe(batch!.batchSize);
    expect(() => batch!.reportLoss(lossOf(batch!))).toThrow(/already reported/);
    expect(Number.isFinite(pipeline.engine.scores[batch!.ids[0]])).toBe(true);
  });

  it("calls epoch hooks with the step count", async () => {
    const events: string[] = [];
    const pipeline = await makePipeline({
      hooks: {
        onEpochStart: (e) => void events.push(`start ${e.epoch} ${e.steps}`),
        onEpochEnd: (e) => void events.push(`end ${e.epoch}`),
      },
    });
    for await (const batch of pipeline.epoch(0)) batch.reportLoss(lossOf(batch));
    expect(events).toEqual([`start 0 ${Math.ceil(300 / 16)}`, "end 0"]);
  });

  it("resumes mid-epoch from a state dict with identical batches and futures", async () => {
    const run = async (pipeline: Pipeline, from: number, to: number, skipUntil = -1) => {
      const seen: number[][] = [];
      for (let e = from; e < to; e++) {
        for await (const batch of pipeline.epoch(e)) {
          seen.push([e, batch.index, ...batch.ids, ...batch.weights]);
          batch.reportLoss(lossOf(batch));
          if (e === skipUntil && batch.index === 3) return seen;
        }
      }
      return seen;
    };
    const a = await makePipeline();
    await run(a, 0, 2, 1); // stops after batch 3 of epoch 1
    const state = a.stateDict();
    const b = await makePipeline();
    b.loadStateDict(structuredClone(state));
    expect(await run(b, 1, 4)).toEqual(await run(a, 1, 4));
    expect(b.savings()).toEqual(a.savings());
  });

  it("resumes at the first batch never reported, even when later ones were", async () => {
    const a = await makePipeline();
    const batches: PipelineBatch[] = [];
    for await (const batch of a.epoch(0)) {
      batches.push(batch);
      if (batches.length === 3) break;
    }
    batches[0].reportLoss(lossOf(batches[0]));
    batches[2].reportLoss(lossOf(batches[2])); // batch 1 never reported
    const b = await makePipeline();
    b.loadStateDict(a.stateDict());
    const first = await b.epoch(0)[Symbol.asyncIterator]().next();
    expect(first.value!.index).toBe(1);
  });

  it("refuses a state saved over different data", async () => {
    const a = await makePipeline();
    const b = await makePipeline({}, 299);
    expect(() => b.loadStateDict(a.stateDict())).toThrow(/different data/);
  });
});
