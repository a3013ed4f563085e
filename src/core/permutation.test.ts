import { describe, expect, it } from "vitest";
import { IndexShuffle } from "./permutation.js";

describe("IndexShuffle", () => {
  it("is a bijection of [0, n) for every size", () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 100, 1023, 1024, 1025, 65537, 200_003]) {
      const shuffle = new IndexShuffle(n, n * 31 + 7);
      const seen = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const j = shuffle.map(i);
        expect(j >= 0 && j < n && seen[j] === 0).toBe(true);
        seen[j] = 1;
      }
    }
  });

  it("unmap inverts map, and gather materialises values[map(p)]", () => {
    for (const n of [5, 70_000, 300_001]) {
      const shuffle = new IndexShuffle(n, 5);
      const values = Uint32Array.from({ length: n }, (_, i) => i * 3 + 1);
      const out = shuffle.gather(values, new Uint32Array(n));
      for (let p = 0; p < n; p += Math.max(1, n >> 10)) {
        expect(shuffle.unmap(shuffle.map(p))).toBe(p);
        expect(out[p]).toBe(values[shuffle.map(p)]);
      }
    }
  });

  it("stays in range near the top of the u32 id space", () => {
    const n = 2 ** 32 - 5;
    const shuffle = new IndexShuffle(n, 99);
    const out = new Set<number>();
    for (let i = n - 2000; i < n; i++) {
      const j = shuffle.map(i);
      expect(Number.isInteger(j) && j >= 0 && j < n).toBe(true);
      out.add(j);
    }
    expect(out.size).toBe(2000);
  });

  it("spreads every index uniformly over positions across keys (χ² test)", () => {
    const n = 10;
    const runs = 20_000;
    const counts = Array.from({ length: n }, () => new Float64Array(n));
    for (let key = 0; key < runs; key++) {
      const shuffle = new IndexShuffle(n, key);
      for (let i = 0; i < n; i++) counts[i][shuffle.map(i)]++;
    }
    const expected = runs / n;
    let chi2 = 0;
    for (const row of counts) for (const c of row) chi2 += (c - expected) ** 2 / expected;
    // 100 cells, ~81 degrees of freedom: the 99.99th percentile is about 135.
    expect(chi2).toBeLessThan(135);
  });

  it("gives different orders for different keys", () => {
    const a = Array.from({ length: 50 }, (_, i) => new IndexShuffle(50, 1).map(i));
    const b = Array.from({ length: 50 }, (_, i) => new IndexShuffle(50, 2).map(i));
    expect(a).not.toEqual(b);
  });
});
