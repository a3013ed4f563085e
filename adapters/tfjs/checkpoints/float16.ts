/**
 * IEEE half (F16) and bfloat16 (BF16) bit patterns ↔ float32 values. Narrowing rounds to
 * nearest, ties to even (as PyTorch's `.half()` / `.bfloat16()`), and keeps ±Inf and NaN.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The value of a half-precision bit pattern. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The half-precision bit pattern nearest to `value`. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: ±Inf
  if (e <= 0) {
    // A half subnormal: value = M · 2^(e − 14 − 10) with M the 24-bit significand.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mantissa |= 0x800000;
    const shift = 14 - e;
    return sign | roundShift(mantissa, shift);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to Inf).
  return sign | roundShift((e << 23) | mantissa, 13);
}

/** The value of a bfloat16 bit pattern (the top half of a float32). */
export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** The bfloat16 bit pattern nearest to `value`. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) & 0x8000) | 0x7fc0; // NaN stays NaN
  return roundShift(x, 16) & 0xffff;
}

/** x / 2^shift rounded to nearest, ties to even (x < 2^32, shift ≥ 1). */
function roundShift(x: number, shift: number): number {
  const kept = Math.floor(x / 2 ** shift);
  const rest = x - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rest > half || (rest === half && kept % 2 === 1) ? kept + 1 : kept;
}
