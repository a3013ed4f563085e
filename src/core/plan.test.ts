import { describe, expect, it } from "vitest";
import { randomValues, scoredEngine } from "./test-helpers.js";

const N = 1001;

describe("shards", () => {
  const engine = scoredEngine({ size: N, epochs: 4, seed: 3 }, randomValues(N, 1, 0.5, 3));
  const plan = engine.planEpoch(1);

  it('"drop": equal, disjoint shares; their union is the plan minus K mod world positions', () => {
    const world = 4;
    const shares = Array.from({ length: world }, (_, rank) => plan.shard(rank, world, "drop"));
    const size = Math.floor(plan.size / world);
    const all: number[] = [];
    for (const s of shares) {
      expect(s.size).toBe(size);
      all.push(...s.ids);
    }
    expect(new Set(all).size).toBe(all.length);
    const planIds = Array.from(plan.ids);
    expect(new Set(all)).toEqual(new Set(planIds.slice(0, size * world)));
  });

  it('"pad": equal shares of ceil(K / world) whose union is the whole plan', () => {
    for (const world of [1, 3, 7]) {
      const shares = Array.from({ length: world }, (_, rank) => plan.shard(rank, world));
      const all: number[] = [];
      for (const s of shares) {
        expect(s.size).toBe(Math.ceil(plan.size / world));
        all.push(...s.ids);
      }
      expect(new Set(all)).toEqual(new Set(plan.ids));
      expect(all.length - plan.size).toBe(Math.ceil(plan.size / world) * world - plan.size);
    }
  });

  it("carries each example's weight into its share and is deterministic", () => {
    const share = plan.shard(2, 3);
    const twin = scoredEngine(
      { size: N, epochs: 4, seed: 3 },
      randomValues(N, 1, 0.5, 3),
    ).planEpoch(1);
    expect(Array.from(share.ids)).toEqual(Array.from(twin.shard(2, 3).ids));
    // Weight 2 (r = 0.5) exactly for examples scored below the threshold, 1 for the rest.
    const scores = randomValues(N, 1, 0.5, 3);
    const t = plan.info.threshold!;
    for (let p = 0; p < share.size; p++) {
      expect(share.weightAt(p)).toBe(Math.fround(scores[share.idAt(p)]) < t ? 2 : 1);
    }
    expect(share.steps(10)).toBe(Math.ceil(share.size / 10));
    expect(() => plan.shard(3, 3)).toThrow(/rank/);
    expect(() => plan.shard(0, 0)).toThrow(/world/);
  });

  it("finds any example's position and the ranks that hold it", () => {
    const ids = plan.ids;
    for (let p = 0; p < plan.size; p += 7) expect(plan.positionOf(ids[p])).toBe(p);
    const outside = Array.from({ length: N }, (_, id) => id).find((id) => !plan.has(id))!;
    expect(plan.positionOf(outside)).toBe(-1);
    for (const policy of ["pad", "drop"] as const) {
      const world = 4;
      const shares = Array.from({ length: world }, (_, r) => plan.shard(r, world, policy));
      for (let r = 0; r < world; r++) {
        const mine = new Set(shares[r].ids);
        for (let id = 0; id < N; id++) expect(shares[r].holds(id)).toBe(mine.has(id));
      }
    }
  });

  it("batches cover the plan in order and reject indices past the end", () => {
    const ids: number[] = [];
    for (const b of plan.batches(64)) ids.push(...b.ids);
    expect(ids).toEqual(Array.from(plan.ids));
    expect(() => plan.batch(plan.steps(64), 64)).toThrow(/outside this epoch/);
    expect(() => plan.batch(0, 0)).toThrow(/batch size/);
  });
});
