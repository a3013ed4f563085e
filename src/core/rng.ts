/**
 * Seeded randomness owned by the engine: nothing here touches a global RNG.
 *
 * The engine itself needs only counter-based randomness: every decision is a pure function of
 * (seed, epoch, id), so it can be recomputed anywhere (a restored engine, another rank, a Worker)
 * without replaying a stream. `Xoshiro128` is the sequential generator for callers that need a
 * stream (LoRA initialisation, dropout, data subsets), seeded explicitly, never global.
 */

const TWO_POW_32 = 4294967296;

/** splitmix32 step: a well-mixed u32 from any u32 (used to derive keys and seed states). */
export function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/**
 * A bijective u32 → u32 mixer (Wellons' "triple32"): full avalanche, so the low 24 bits and the
 * high 8 bits of one call are usable as independent-looking draws.
 */
export function hash32(x: number): number {
  x ^= x >>> 17;
  x = Math.imul(x, 0xed5ad4bb);
  x ^= x >>> 11;
  x = Math.imul(x, 0xac4c1b51);
  x ^= x >>> 15;
  x = Math.imul(x, 0x31848bab);
  x ^= x >>> 14;
  return x >>> 0;
}

/**
 * A cheaper bijective mixer (Wellons' "lowbias32", two multiplies) for the per-example hot loop,
 * where it decides keep/drop; its bias is far below anything a drop probability could notice.
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Derives a u32 key from a seed and any number of u32 components (epoch, bucket, …). */
export function deriveKey(seed: number, ...parts: number[]): number {
  let k = splitmix32(seed >>> 0);
  for (const p of parts) k = splitmix32((k ^ hash32(p >>> 0)) >>> 0);
  return k;
}

/** xoshiro128** — 128-bit state, period 2^128 − 1. State is plain numbers for cheap snapshots. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    this.s0 = x = splitmix32(x);
    this.s1 = x = splitmix32(x);
    this.s2 = x = splitmix32(x);
    this.s3 = splitmix32(x);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next u32. */
  next(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.next() / TWO_POW_32;
  }

  /** Uniform integer in [0, n) without modulo bias (Lemire's method), for 1 ≤ n ≤ 2^32. */
  nextBelow(n: number): number {
    for (;;) {
      const x = this.next();
      const low = Math.imul(x, n) >>> 0;
      if (low < n && low < (TWO_POW_32 - n) % n) continue;
      return highProduct(x, n);
    }
  }

  getState(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: readonly number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** floor(x·n / 2^32) exactly, for u32 x and n ≤ 2^32. */
function highProduct(x: number, n: number): number {
  if (n < 2097152) return Math.floor((x * n) / TWO_POW_32);
  const a = (x >>> 16) * n;
  const b = (x & 0xffff) * n;
  return Math.floor((a + Math.floor(b / 65536)) / 65536);
}
