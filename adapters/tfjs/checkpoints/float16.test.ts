import { describe, expect, it } from "vitest";
import { seededRandom } from "../test-helpers.js";
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from "./float16.js";

describe("float16 / bfloat16", () => {
  it("round-trips every half and bfloat16 bit pattern (NaN stays NaN)", () => {
    const wrong: string[] = [];
    for (let bits = 0; bits < 65536; bits++) {
      const half = halfToFloat(bits);
      const bf = bfloat16ToFloat(bits);
      const halfBack = floatToHalf(half);
      const bfBack = floatToBfloat16(bf);
      if (Number.isNaN(half) ? !Number.isNaN(halfToFloat(halfBack)) : halfBack !== bits) {
        wrong.push(`F16 ${bits}`);
      }
      if (Number.isNaN(bf) ? !Number.isNaN(bfloat16ToFloat(bfBack)) : bfBack !== bits) {
        wrong.push(`BF16 ${bits}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("rounds float32 to the nearest half, ties to even", () => {
    const halves = Array.from({ length: 0x7c00 }, (_, h) => halfToFloat(h)); // 0 … 65504
    const random = seededRandom(5);
    for (let n = 0; n < 5000; n++) {
      const value = Math.fround(random() * 2 ** (random() * 44 - 28));
      let lo = 0;
      while (lo + 1 < halves.length && halves[lo + 1] <= value) lo++;
      const below = halves[lo];
      const above = lo + 1 < halves.length ? halves[lo + 1] : 65536;
      const nearest =
        value - below < above - value ? lo : value - below > above - value ? lo + 1 : lo + (lo % 2);
      expect(floatToHalf(value)).toBe(nearest === 0x7c00 ? 0x7c00 : nearest);
    }
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1); // tie: to the even mantissa
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up past the largest half: Inf
    expect(floatToHalf(-(2 ** -25))).toBe(0x8000); // tie with the smallest subnormal: -0
  });

  it("rounds float32 to the nearest bfloat16, ties to even", () => {
    expect(bfloat16ToFloat(floatToBfloat16(1 + 2 ** -8))).toBe(1);
    expect(bfloat16ToFloat(floatToBfloat16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(bfloat16ToFloat(floatToBfloat16(Math.fround(1 + 2 ** -8 + 2 ** -20)))).toBe(1 + 2 ** -7);
    expect(bfloat16ToFloat(floatToBfloat16(-3.4e38))).toBe(Number.NEGATIVE_INFINITY);
  });
});
