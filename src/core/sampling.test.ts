import { describe, expect, it } from "vitest";
import {
  classify,
  classifyAndSample,
  dropMask,
  keepWeight,
  popcount,
  Q_ONE,
  quantise,
  sampleWell,
} from "./sampling.js";
import { randomValues } from "./test-helpers.js";

describe("sampling", () => {
  it("the fused fast path equals classify + sampleWell, bit for bit", () => {
    for (const size of [1, 31, 32, 33, 1000, 4099]) {
      const scores = Float32Array.from(randomValues(size, size, 0, 2));
      scores[0] = Number.NaN; // never scored: never in W
      const words = Math.ceil(size / 32);
      const q = quantise(0.6);
      const fused = classifyAndSample(
        scores,
        1,
        q,
        1234,
        new Uint32Array(size),
        new Uint32Array(words),
        new Uint32Array(words),
      );
      const classes = classify(scores, 1, null, new Uint32Array(words));
      const slow = sampleWell(
        size,
        classes.well,
        { kind: "constant", q },
        1234,
        new Uint32Array(size),
        new Uint32Array(words),
      );
      expect(fused.count).toBe(slow.count);
      expect(fused.wellCount).toBe(classes.count);
      expect(Array.from(fused.kept.subarray(0, fused.count))).toEqual(
        Array.from(slow.kept.subarray(0, slow.count)),
      );
      expect(Array.from(fused.inPlan)).toEqual(Array.from(slow.inPlan));
      expect(Array.from(fused.well)).toEqual(Array.from(classes.well));
      expect(fused.kept[0]).toBe(0);
    }
  });

  it("quantises drop probabilities to 2^-24 and never to 1", () => {
    expect(quantise(0.5)).toBe(Q_ONE / 2);
    expect(keepWeight(quantise(0.5))).toBe(2);
    expect(quantise(0.999999999)).toBe(Q_ONE - 1);
    expect(Number.isFinite(keepWeight(quantise(0.999999999)))).toBe(true);
    expect(quantise(0)).toBe(0);
  });

  it("drops each member of W with probability q / 2^24 across keys", () => {
    const size = 64;
    const words = 2;
    const well = new Uint32Array([0xffffffff, 0xffffffff]);
    let kept = 0;
    const runs = 4000;
    for (let key = 0; key < runs; key++) {
      kept += sampleWell(
        size,
        well,
        { kind: "constant", q: quantise(0.25) },
        key * 2654435761,
        new Uint32Array(size),
        new Uint32Array(words),
      ).count;
    }
    const rate = kept / (runs * size);
    // sd of the rate ≈ sqrt(0.75·0.25 / 256000) ≈ 0.00086
    expect(Math.abs(rate - 0.75)).toBeLessThan(0.004);
  });

  it("dropMask gives independent bits with probability exactly q / 2^24", () => {
    for (const r of [0.5, 0.3, 0.97, 1 / 3]) {
      const q = quantise(r);
      let ones = 0;
      let pairs = 0; // bits 0 and 1 both set
      const words = 40_000;
      for (let w = 0; w < words; w++) {
        const m = dropMask(q, 777, w);
        ones += popcount(m);
        pairs += m & 1 & (m >>> 1);
      }
      const p = q / Q_ONE;
      const rate = ones / (32 * words);
      expect(Math.abs(rate - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / (32 * words)));
      expect(Math.abs(pairs / words - p * p)).toBeLessThan(
        4 * Math.sqrt((p * p * (1 - p * p)) / words),
      );
    }
    expect(dropMask(0, 1, 2)).toBe(0);
  });
});
