import { describe, expect, it } from "vitest";
import { deriveKey, Xoshiro128 } from "./rng.js";

describe("Xoshiro128", () => {
  it("is reproducible from its seed and its state", () => {
    const a = new Xoshiro128(42);
    const first = Array.from({ length: 5 }, () => a.next());
    const b = new Xoshiro128(42);
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first);
    const state = a.getState();
    const next = a.next();
    const c = new Xoshiro128(0);
    c.setState(state);
    expect(c.next()).toBe(next);
    expect(first.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
  });

  it("draws integers below n without bias, for small and huge n", () => {
    const rng = new Xoshiro128(7);
    const counts = new Float64Array(6);
    for (let i = 0; i < 60_000; i++) counts[rng.nextBelow(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    for (const n of [2 ** 21 + 3, 2 ** 31 + 11, 2 ** 32]) {
      let max = 0;
      for (let i = 0; i < 1000; i++) {
        const x = rng.nextBelow(n);
        expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
        max = Math.max(max, x);
      }
      expect(max).toBeGreaterThan(n * 0.9);
    }
  });

  it("derives distinct keys per (seed, epoch)", () => {
    const keys = new Set<number>();
    for (let seed = 0; seed < 20; seed++)
      for (let e = 0; e < 50; e++) keys.add(deriveKey(seed, e, 0));
    expect(keys.size).toBe(1000);
  });
});
