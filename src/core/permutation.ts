/**
 * A random permutation of [0, n) with O(1) random access.
 *
 * Up to 2^16 elements: an explicit Fisher–Yates table (exactly uniform, at most 256 KB).
 * Above: as Google's grain / TF `index_shuffle`, a keyed Feistel network on the smallest b-bit
 * domain that holds n, with cycle-walking back into [0, n) (the domain is < 2n, so fewer than two
 * walks on average). Each round is a bijection, so the whole map is one. Feistel networks are
 * measurably non-uniform on tiny domains (permutation.test.ts shows it at n = 10), hence the table.
 *
 * Why not always Fisher–Yates: an order that is a function of (key, position) costs nothing to
 * plan for 10M examples, holds no 40 MB table, and can be sharded, resumed mid-epoch and served
 * for any rank without materialising it.
 */
import { mix32, splitmix32, Xoshiro128 } from "./rng.js";

const ROUNDS = 6;
const TABLE_LIMIT = 65536;

export class IndexShuffle {
  readonly size: number;
  private readonly leftBits: number;
  private readonly rightBits: number;
  private readonly keys: Int32Array;
  private readonly table: Uint32Array | null = null;

  constructor(size: number, key: number) {
    this.size = size;
    if (size <= TABLE_LIMIT) {
      const table = new Uint32Array(size);
      for (let i = 0; i < size; i++) table[i] = i;
      const rng = new Xoshiro128(key);
      for (let i = size - 1; i > 0; i--) {
        const j = rng.nextBelow(i + 1);
        const t = table[i];
        table[i] = table[j];
        table[j] = t;
      }
      this.table = table;
    }
    let bits = 2;
    while (bits < 32 && 2 ** bits < size) bits++;
    this.leftBits = bits >>> 1;
    this.rightBits = bits - this.leftBits;
    this.keys = new Int32Array(ROUNDS);
    let k = key >>> 0; // Int32Array keeps round keys as small integers in the hot loop
    for (let r = 0; r < ROUNDS; r++) this.keys[r] = k = splitmix32(k);
  }

  /** The position that `index` moves to; a bijection of [0, size). */
  map(index: number): number {
    if (this.table !== null) return this.table[index];
    const n = this.size;
    let x = index;
    do x = this.encrypt(x);
    while (x >= n);
    return x;
  }

  /** The index that moves to `position`: the inverse of `map`. */
  unmap(position: number): number {
    if (this.table !== null) return this.table.indexOf(position);
    const n = this.size;
    let x = position;
    do x = this.decrypt(x);
    while (x >= n);
    return x;
  }

  /**
   * out[p] = values[map(p)] (or map(p) itself when `values` is null) for every position, written
   * by scattering (out[unmap(i)] = values[i]) so the source is read in order: scattered stores
   * are far cheaper than scattered loads.
   */
  gather(values: Uint32Array | null, out: Uint32Array): Uint32Array {
    const table = this.table;
    if (table !== null) {
      for (let p = 0; p < out.length; p++) out[p] = values === null ? table[p] : values[table[p]];
      return out;
    }
    for (let i = 0; i < this.size; i++) out[this.unmap(i)] = values === null ? i : values[i];
    return out;
  }

  private decrypt(x: number): number {
    let wl = this.leftBits;
    let wr = this.rightBits;
    let left = x >>> wr;
    let right = x & ((1 << wr) - 1);
    const keys = this.keys;
    for (let r = ROUNDS - 1; r >= 0; r--) {
      // (left: wl bits, right: wr bits) came from (right ^ F(left): wr bits, left: wl bits)
      const previous = (right ^ mix32((left + keys[r]) | 0)) & ((1 << wr) - 1);
      right = left;
      left = previous;
      const w = wl;
      wl = wr;
      wr = w;
    }
    return ((left << wr) | right) >>> 0;
  }

  private encrypt(x: number): number {
    // Both halves are at most 16 bits wide, so plain 32-bit integer ops are exact.
    let wl = this.leftBits;
    let wr = this.rightBits;
    let left = x >>> wr;
    let right = x & ((1 << wr) - 1);
    const keys = this.keys;
    for (let r = 0; r < ROUNDS; r++) {
      // (left: wl bits, right: wr bits) → (right: wr bits, left ^ F(right): wl bits)
      const next = (left ^ mix32((right + keys[r]) | 0)) & ((1 << wl) - 1);
      left = right;
      right = next;
      const w = wl;
      wl = wr;
      wr = w;
    }
    return ((left << wr) | right) >>> 0;
  }
}
