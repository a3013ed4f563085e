import { describe, expect, it, vi } from "vitest";
import { InfoBatch } from "./engine.js";
import { InfoBatchError } from "./errors.js";
import { meanAndError, randomValues, scoredEngine } from "./test-helpers.js";

const N = 240;
const LOSSES = randomValues(N, 11, 0.5, 3);
const LENGTHS = Array.from(randomValues(N, 12, 10, 400), Math.floor);

function collectIds(engine: InfoBatch, batchSize: number): number[] {
  const ids: number[] = [];
  for (let b = engine.nextBatch(batchSize); b !== null; b = engine.nextBatch(batchSize))
    ids.push(...b.ids);
  return ids;
}

describe("unbiasedness: E[Σ w·v over the plan] = Σ v over all examples", () => {
  // A value per example; the weighted sum over a pruned epoch must match the full sum in
  // expectation. Tolerance: 4 standard errors of the mean over the seeds (false alarm < 1e-4).
  const values = randomValues(N, 99, -1, 5);
  const fullSum = values.reduce((a, b) => a + b, 0);
  const modes = {
    plain: {},
    "plain r = 0.95": { pruneRatio: 0.95 },
    "budget (tokens)": { lengths: LENGTHS, budget: { target: 0.25 } },
    "length-aware": { lengths: LENGTHS, lengthAware: true },
    "length-aware + budget": {
      lengths: LENGTHS,
      lengthAware: { exponent: 2 },
      budget: { target: 0.3, unit: "examples" as const },
    },
  };
  for (const [name, extra] of Object.entries(modes)) {
    it(name, () => {
      const sums: number[] = [];
      let dropped = 0;
      for (let seed = 0; seed < 3000; seed++) {
        const engine = scoredEngine({ size: N, epochs: 4, seed, ...extra }, LOSSES);
        const plan = engine.planEpoch(1);
        const { ids, weights } = plan;
        let s = 0;
        for (let p = 0; p < ids.length; p++) s += weights[p] * values[ids[p]];
        sums.push(s);
        dropped += N - plan.size;
      }
      const { mean, se } = meanAndError(sums);
      expect(dropped / 3000).toBeGreaterThan(N * 0.05); // something was pruned
      expect(se).toBeGreaterThan(0);
      expect(Math.abs(mean - fullSum)).toBeLessThan(4 * se);
    });
  }
});

describe("the algorithm", () => {
  it("prunes only members of W, each with probability r, and weights kept ones 1/(1−r)", () => {
    const counts = new Float64Array(N);
    const runs = 2000;
    let threshold = 0;
    for (let seed = 0; seed < runs; seed++) {
      const engine = scoredEngine({ size: N, epochs: 4, seed, pruneRatio: 0.3 }, LOSSES);
      const plan = engine.planEpoch(1);
      threshold = plan.info.threshold!;
      for (const id of plan.ids) counts[id]++;
      for (let p = 0; p < plan.size; p++) {
        const id = plan.idAt(p);
        expect(plan.weightAt(p)).toBeCloseTo(LOSSES[id] < threshold ? 1 / 0.7 : 1, 6);
      }
    }
    const mean = LOSSES.reduce((a, b) => a + Math.fround(b), 0) / N;
    expect(threshold).toBeCloseTo(mean, 5);
    for (let id = 0; id < N; id++) {
      if (Math.fround(LOSSES[id]) >= threshold) expect(counts[id]).toBe(runs);
      else expect(Math.abs(counts[id] / runs - 0.7)).toBeLessThan(0.05);
    }
  });

  it("trains every example in the first epoch (nothing scored) and in annealing epochs", () => {
    const engine = new InfoBatch({ size: N, epochs: 3, delta: 0.5, seed: 3 });
    const first = engine.planEpoch(0);
    expect(first.size).toBe(N);
    expect(new Set(first.ids).size).toBe(N);
    expect(first.info.threshold).toBeNull();
    engine.update(
      first.ids,
      Array.from(first.ids, (id) => LOSSES[id]),
    );
    expect(engine.planEpoch(1).info.annealing).toBe(true); // floor(0.5·3) = 1
  });

  it("never lets NaN/±Inf into the scores or the threshold, and counts them", () => {
    const engine = new InfoBatch({ size: 4, epochs: 2, seed: 1 });
    engine.planEpoch(0);
    const result = engine.update([0, 1, 2, 3], [1, Number.NaN, Number.POSITIVE_INFINITY, 3]);
    expect(result).toEqual({ applied: 2, nonFinite: 2 });
    expect(engine.threshold()).toBe(2);
    expect(Number.isNaN(engine.scores[1])).toBe(true);
    expect(Number.isNaN(engine.scores[2])).toBe(true);
    expect(engine.savings().nonFiniteLosses).toBe(2);
    // Finite as a double, infinite as the float32 it would be stored as.
    expect(engine.update([3], [1e39])).toEqual({ applied: 0, nonFinite: 1 });
    expect(engine.scores[3]).toBe(3);
  });

  it('throws on NaN with nonFinite: "throw" and applies nothing', () => {
    const engine = new InfoBatch({ size: 4, epochs: 2, nonFinite: "throw" });
    engine.planEpoch(0);
    const attempt = () => engine.update([0, 1], [1, Number.NEGATIVE_INFINITY]);
    expect(attempt).toThrow(/not finite/);
    expect(() => attempt()).toThrowError(
      expect.objectContaining({ code: "non_finite_loss", path: ["losses", 1] }),
    );
    expect(Number.isNaN(engine.scores[0])).toBe(true);
  });

  it("reduces [B, T] per-token losses with a mask to per-example means", () => {
    const engine = new InfoBatch({ size: 3, epochs: 2 });
    engine.planEpoch(0);
    // B = 3, T = 4; row 2 has no response token → NaN → skipped.
    const losses = [1, 2, 3, 99, 5, 5, 7, 7, 1, 1, 1, 1];
    const mask = [1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0];
    const result = engine.updateTokens([0, 1, 2], losses, mask);
    expect(result).toEqual({ applied: 2, nonFinite: 1 });
    expect(Array.from(engine.scores.subarray(0, 2))).toEqual([2, 6]);
    expect(() => engine.updateTokens([0, 1], [1, 2, 3], null)).toThrow(/\[B, T\]/);
  });

  it("rejects ids out of range or outside the plan, applying nothing", () => {
    const engine = scoredEngine({ size: N, epochs: 4, seed: 5 }, LOSSES);
    const plan = engine.planEpoch(1);
    const outside = Array.from({ length: N }, (_, id) => id).find((id) => !plan.has(id))!;
    const inside = plan.idAt(0);
    const before = engine.scores[inside];
    expect(() => engine.update([inside, outside], [9, 9])).toThrowError(
      expect.objectContaining({ code: "id_not_in_plan", path: ["ids", 1] }),
    );
    expect(engine.scores[inside]).toBe(before);
    for (const bad of [N, -1, 1.5, 2 ** 32 - 1, 2 ** 32, Number.NaN]) {
      expect(() => engine.update([inside, bad], [1, 1])).toThrowError(
        expect.objectContaining({ code: "id_out_of_range", path: ["ids", 1] }),
      );
    }
    expect(engine.scores[inside]).toBe(before);
    // Forward-only scores may touch any example in range.
    expect(engine.update([outside], [0.25], { scoringOnly: true }).applied).toBe(1);
    expect(engine.scores[outside]).toBe(0.25);
    expect(() => engine.update([inside], [1], { epoch: 0 })).toThrow(/epoch 0/);
  });

  it("plans epochs in order and refuses epochs past E", () => {
    const engine = new InfoBatch({ size: 10, epochs: 2 });
    expect(() => engine.planEpoch(1)).toThrowError(
      expect.objectContaining({ code: "epoch_order" }),
    );
    const p0 = engine.planEpoch(0);
    expect(engine.planEpoch(0)).toBe(p0);
    engine.planEpoch(1);
    expect(() => engine.planEpoch(2)).toThrow(/all 2 epochs/);
  });

  it("invalidates a replaced plan instead of reading reused buffers", () => {
    const engine = scoredEngine({ size: N, epochs: 4, seed: 2 }, LOSSES);
    const p1 = engine.planEpoch(1);
    const ids = p1.ids;
    engine.planEpoch(2);
    expect(() => p1.batch(0, 8)).toThrowError(expect.objectContaining({ code: "stale_plan" }));
    expect(() => p1.weights).toThrowError(expect.objectContaining({ code: "stale_plan" }));
    expect(() => p1.weightOfId(ids[0])).toThrowError(
      expect.objectContaining({ code: "stale_plan" }),
    );
    expect(() => p1.idAt(0)).toThrowError(expect.objectContaining({ code: "stale_plan" }));
    expect(ids.length).toBe(p1.size); // arrays taken earlier stay valid
  });

  it("walks the epoch with nextBatch and knows its step count up front", () => {
    const engine = scoredEngine({ size: N, epochs: 4, seed: 4 }, LOSSES);
    const plan = engine.planEpoch(1);
    const steps = plan.steps(16);
    let batches = 0;
    const seen: number[] = [];
    for (let b = engine.nextBatch(16); b !== null; b = engine.nextBatch(16)) {
      batches++;
      seen.push(...b.ids);
      expect(b.weights.length).toBe(b.ids.length);
    }
    expect(batches).toBe(steps);
    expect(seen).toEqual(Array.from(plan.ids));
    expect(plan.steps(16, { dropLast: true })).toBe(Math.floor(plan.size / 16));
  });
});

describe("savings ledger", () => {
  it("accounts examples, tokens, steps and FLOPs against the full-data run", () => {
    const engine = scoredEngine({ size: N, epochs: 4, seed: 8, lengths: LENGTHS }, LOSSES);
    const plan = engine.planEpoch(1);
    const tokens = Array.from(plan.ids).reduce((a, id) => a + LENGTHS[id], 0);
    const total = LENGTHS.reduce((a, b) => a + b, 0);
    const report = engine.savings({ batchSize: 16, parameterCount: 1000 });
    expect(report.epochs).toHaveLength(2);
    expect(report.epochs[1].examples).toEqual({
      full: N,
      trained: plan.size,
      saved: N - plan.size,
      savedFraction: (N - plan.size) / N,
    });
    expect(report.epochs[1].tokens!.trained).toBe(tokens);
    expect(report.epochs[1].steps).toMatchObject({
      full: Math.ceil(N / 16),
      trained: Math.ceil(plan.size / 16),
    });
    expect(report.total.tokens).toMatchObject({ full: 2 * total, trained: total + tokens });
    expect(report.total.flops).toMatchObject({
      full: 6000 * 2 * total,
      trained: 6000 * (total + tokens),
    });
    expect(report.epochs[0].reported).toBe(N);
    const perRank = engine.savings({ batchSize: 16, world: 3, shardPolicy: "drop" });
    expect(perRank.epochs[1].steps!.trained).toBe(Math.ceil(Math.floor(plan.size / 3) / 16));
  });

  it("meets a run-level token budget", () => {
    const epochs = 10;
    const engine = new InfoBatch({
      size: 2000,
      epochs,
      seed: 1,
      lengths: Array.from(randomValues(2000, 5, 20, 300), Math.floor),
      budget: { target: 0.3 },
    });
    const losses = randomValues(2000 * epochs, 6, 0.5, 3);
    for (let e = 0; e < epochs; e++) {
      const ids = engine.planEpoch(e).ids;
      engine.update(
        ids,
        Array.from(ids, (id, i) => losses[e * 2000 + i] * (1 + id / 4000)),
      );
    }
    const saved = engine.savings().total.tokens!.savedFraction;
    expect(Math.abs(saved - 0.3)).toBeLessThan(0.01);
  });

  it("length-aware pruning saves more tokens than plain pruning at the same example rate", () => {
    let plainTokens = 0;
    let awareTokens = 0;
    for (let seed = 0; seed < 200; seed++) {
      const plain = scoredEngine({ size: N, epochs: 4, seed, lengths: LENGTHS }, LOSSES).planEpoch(
        1,
      );
      const aware = scoredEngine(
        { size: N, epochs: 4, seed, lengths: LENGTHS, lengthAware: true },
        LOSSES,
      ).planEpoch(1);
      plainTokens += plain.info.tokens;
      awareTokens += aware.info.tokens;
      expect(aware.info.pruneRatio).toBeCloseTo(0.5, 3);
    }
    expect(awareTokens).toBeLessThan(plainTokens * 0.97);
  });
});

describe("options", () => {
  it("honours prune ratios above 0.9 (no silent cap) and rejects r ∉ [0, 1)", () => {
    const engine = scoredEngine(
      { size: 4000, epochs: 4, seed: 1, pruneRatio: 0.97 },
      randomValues(4000, 3),
    );
    const plan = engine.planEpoch(1);
    expect(plan.info.pruneRatio).toBeCloseTo(0.97, 6);
    expect(1 - (plan.size - (4000 - plan.info.wellLearned)) / plan.info.wellLearned).toBeCloseTo(
      0.97,
      1,
    );
    for (const bad of [1, 1.5, -0.1, Number.NaN]) {
      expect(() => new InfoBatch({ size: 10, epochs: 2, pruneRatio: bad })).toThrowError(
        expect.objectContaining({ code: "invalid_option", path: ["pruneRatio"] }),
      );
    }
  });

  it("explains bad options with their path", () => {
    const cases: Array<[object, string]> = [
      [{ size: 0, epochs: 1 }, "size"],
      [{ size: 10, epochs: 1.5 }, "epochs"],
      [{ size: 10, epochs: 2, delta: 1.2 }, "delta"],
      [{ size: 10, epochs: 2, seed: -1 }, "seed"],
      [{ size: 2, epochs: 2, lengths: [1] }, "lengths"],
      [{ size: 2, epochs: 2, budget: { target: 0.2, unit: "tokens" } }, "budget.unit"],
      [{ size: 2, epochs: 2, budget: { target: 1 } }, "budget.target"],
      [{ size: 2, epochs: 2, lengthAware: true }, "lengthAware"],
    ];
    for (const [options, path] of cases) {
      let error: unknown;
      try {
        new InfoBatch(options as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InfoBatchError);
      expect((error as InfoBatchError).path[0]).toBe(path);
    }
    expect(() => new InfoBatch({ size: 2, epochs: 2, lengths: [1, -3] })).toThrow(/lengths\.1/);
  });
});

describe("annealing", () => {
  for (const [epochs, delta, start] of [
    [10, 0.875, 8],
    [90, 0.875, 78],
    [100, 0.875, 87],
    [100, 0.29, 29],
    [8, 0.875, 7],
  ] as const) {
    it(`E = ${epochs}, δ = ${delta}: epochs ≥ ${start} train everything with weight exactly 1`, () => {
      const engine = new InfoBatch({ size: 64, epochs, delta, seed: 9 });
      expect(engine.annealStart).toBe(start);
      const losses = randomValues(64 * epochs, 1, 0.5, 3);
      for (let e = 0; e < epochs; e++) {
        const plan = engine.planEpoch(e);
        expect(plan.info.annealing).toBe(e >= start);
        if (e >= start) {
          expect(plan.size).toBe(64);
          expect(plan.weights.every((w) => w === 1)).toBe(true);
          expect(new Set(plan.ids).size).toBe(64);
        } else if (e > 0) {
          expect(plan.size).toBeLessThan(64);
          expect(plan.weights.some((w) => w === 2)).toBe(true);
        }
        const ids = plan.ids;
        engine.update(
          ids,
          Array.from(ids, (_, i) => losses[e * 64 + i]),
        );
      }
    });
  }
});

describe("never-scored examples", () => {
  it("stay in every plan with weight 1 until they are scored (no stale initial score)", () => {
    const engine = new InfoBatch({ size: 50, epochs: 6, seed: 4 });
    for (let e = 0; e < 5; e++) {
      const plan = engine.planEpoch(e);
      expect(plan.has(7)).toBe(true);
      expect(plan.weightOfId(7)).toBe(1);
      const ids = Array.from(plan.ids).filter((id) => id !== 7);
      engine.update(
        ids,
        ids.map((id) => 0.01 * id),
      );
    }
  });
});

describe("randomness", () => {
  it("never touches Math.random and depends only on the seed", () => {
    const spy = vi.spyOn(Math, "random");
    const a = scoredEngine({ size: N, epochs: 4, seed: 21 }, LOSSES);
    const b = scoredEngine({ size: N, epochs: 4, seed: 21 }, LOSSES);
    const c = scoredEngine({ size: N, epochs: 4, seed: 22 }, LOSSES);
    const pa = Array.from(a.planEpoch(1).ids);
    expect(Array.from(b.planEpoch(1).ids)).toEqual(pa);
    expect(Array.from(c.planEpoch(1).ids)).not.toEqual(pa);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});

describe("snapshot / restore", () => {
  function drive(engine: InfoBatch, fromEpoch: number, epochs: number, seed: number): number[][] {
    const losses = randomValues(N * epochs, seed, 0.2, 4);
    const trace: number[][] = [];
    for (let e = fromEpoch; e < epochs; e++) {
      engine.planEpoch(e);
      const ids = collectIds(engine, 32);
      engine.update(
        ids,
        ids.map((id) => losses[e * N + id]),
      );
      trace.push(ids, Array.from(engine.plan!.weights));
    }
    return trace;
  }

  for (const extra of [
    {},
    { lengths: LENGTHS, lengthAware: true, budget: { target: 0.2 } },
    // r above the cap: every member of W sits at the cap, the solved scale is ∞ (JSON null).
    { lengths: LENGTHS, lengthAware: true, pruneRatio: 0.95 },
  ]) {
    it(`resumes mid-epoch with byte-identical futures ${Object.keys(extra).join(", ")}`, () => {
      const options = { size: N, epochs: 8, seed: 31, ...extra };
      const original = new InfoBatch(options);
      drive(original, 0, 3, 1);
      const plan = original.planEpoch(3);
      const half = original.nextBatch(64)!;
      original.update(
        half.ids,
        Array.from(half.ids, () => 0.5),
      );
      const bytes = original.snapshot();
      const restored = InfoBatch.restore(bytes);
      expect(restored.snapshot()).toEqual(bytes);
      expect(restored.cursor).toBe(64);
      expect(Array.from(restored.plan!.ids)).toEqual(Array.from(plan.ids));
      const restOriginal = collectIds(original, 32);
      const restRestored = collectIds(restored, 32);
      expect(restRestored).toEqual(restOriginal);
      expect(drive(restored, 4, 8, 2)).toEqual(drive(original, 4, 8, 2));
      expect(restored.savings({ batchSize: 8 })).toEqual(original.savings({ batchSize: 8 }));
    });
  }

  it("refuses corrupted or truncated bytes with a clear error", () => {
    const engine = scoredEngine({ size: N, epochs: 4 }, LOSSES);
    engine.planEpoch(1);
    const bytes = engine.snapshot();
    const flipped = bytes.slice();
    flipped[bytes.length - 100] ^= 1;
    expect(() => InfoBatch.restore(flipped)).toThrow(/checksum/);
    expect(() => InfoBatch.restore(bytes.subarray(0, bytes.length - 8))).toThrowError(
      expect.objectContaining({ code: "invalid_snapshot" }),
    );
    expect(() => InfoBatch.restore(new Uint8Array(3))).toThrow(/too short/);
  });

  it("restores from an unaligned view", () => {
    const engine = scoredEngine({ size: N, epochs: 4 }, LOSSES);
    const bytes = engine.snapshot();
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    expect(InfoBatch.restore(padded.subarray(1)).snapshot()).toEqual(bytes);
  });
});

describe("large ids", () => {
  it("keeps ids past 2^24 exact (no float round-off)", () => {
    const size = 2 ** 24 + 64;
    const engine = new InfoBatch({ size, epochs: 3, seed: 1 });
    const plan = engine.planEpoch(0);
    const top = [2 ** 24 + 1, 2 ** 24 + 3, size - 1];
    engine.update(top, [0.1, 0.2, 0.3]);
    expect(Array.from(top, (id) => engine.scores[id])).toEqual([0.1, 0.2, 0.3].map(Math.fround));
    expect(engine.scores[2 ** 24]).toBeNaN();
    expect(engine.scores[2 ** 24 + 4]).toBeNaN();
    // The whole epoch is a permutation of all ids, the top ones included.
    const ids = plan.ids;
    const seen = new Uint8Array(size);
    for (const id of ids) seen[id]++;
    expect(seen.every((c) => c === 1)).toBe(true);
    // A later plan drops some of the top ids, by their exact id.
    engine.update(
      ids,
      Array.from(ids, (id) => (id >= 2 ** 24 ? 0 : 1)),
    );
    const next = engine.planEpoch(1);
    expect(next.isWellLearned(2 ** 24 + 1)).toBe(true);
    expect(next.isWellLearned(2 ** 24 - 1)).toBe(false);
    expect(next.info.wellLearned).toBe(64);
  });
});
