/**
 * Loss-report parsing: the binary layout round-trips at any alignment, and the hand check of
 * JSON reports accepts exactly what LossReportSchema accepts, with the schema's errors.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.js";
import { decodeBinaryReport, encodeBinaryReport, parse, parseLossReport } from "./losses.js";
import { LossReportSchema } from "./schemas.js";

describe("binary loss reports", () => {
  it("decode what was encoded, from any byte offset", () => {
    const report = {
      epoch: 3,
      step: 70_000,
      rank: 5,
      ids: [9, 4_000_000_000, 0],
      losses: [0.5, 2, 1e-3],
    };
    const bytes = encodeBinaryReport(report);
    expect(bytes.byteLength).toBe(24 + 8 * 3);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("IBLR");
    for (let offset = 0; offset < 4; offset++) {
      const shifted = new Uint8Array(bytes.byteLength + offset);
      shifted.set(bytes, offset);
      const decoded = decodeBinaryReport(shifted.subarray(offset));
      expect({
        ...decoded,
        ids: Array.from(decoded.ids),
        losses: Array.from(decoded.losses!),
      }).toEqual({
        ...report,
        losses: Array.from(Float32Array.from(report.losses)),
      });
    }
  });
});

describe("the JSON loss report check", () => {
  const ok = { epoch: 0, step: 1, rank: 2, ids: [3, 4], losses: [0.5, 1] };
  const outcome = (f: () => unknown) => {
    try {
      return { data: f() };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { error: error.toJSON() };
    }
  };
  const variants: unknown[] = [
    ok,
    { ...ok, ids: [0, 4294967295] },
    { ...ok, ids: [4294967296, 1] },
    { ...ok, ids: [-1, 1] },
    { ...ok, ids: [1.5, 1] },
    { ...ok, ids: ["1", 1] },
    { ...ok, ids: [] },
    { ...ok, ids: {} },
    { ...ok, losses: [1, null] },
    { ...ok, losses: [1, Number.NaN] },
    { ...ok, losses: [1, Number.POSITIVE_INFINITY] },
    { ...ok, losses: [1] },
    { ...ok, losses: [] },
    { ...ok, epoch: -0 },
    { ...ok, epoch: -1 },
    { ...ok, step: 2 ** 53 },
    { ...ok, rank: 1.5 },
    { ...ok, rank: "2" },
    { ...ok, extra: 1 },
    { ...ok, mask: [1, 1] },
    { ...ok, tokenLosses: [1, 2] },
    { epoch: 0, step: 1, rank: 2, ids: [3, 4] },
    { epoch: 0, step: 1, rank: 2, ids: [3, 4], tokenLosses: [1, 2, 3, 4] },
    { epoch: 0, step: 1, ids: [3, 4], losses: [1, 2], extra: 0 },
    [ok],
    null,
    "report",
    Object.assign(Object.create({ inherited: 1 }), ok),
  ];

  it("gives the schema's answer for every input", () => {
    for (const value of variants) {
      expect([value, outcome(() => parseLossReport(value))]).toEqual([
        value,
        outcome(() => parse(LossReportSchema, value)),
      ]);
    }
  });
});
