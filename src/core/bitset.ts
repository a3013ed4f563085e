/** Fixed-size bitsets as plain Uint32Array words (1 bit per example: 0.125 bytes). */

export function hasBit(words: Uint32Array, index: number): boolean {
  return ((words[index >>> 5] >>> (index & 31)) & 1) === 1;
}
