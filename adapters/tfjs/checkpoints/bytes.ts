/** Little-endian float32 arrays from and to bytes, for the checkpoint formats. */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `count` little-endian float32 values starting at `offset` of `bytes`, as a new array. */
export function readFloat32LE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN) {
    // A copy of the bytes: any alignment works, and the result does not alias the input.
    const start = bytes.byteOffset + offset;
    return new Float32Array(bytes.buffer.slice(start, start + 4 * count));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 4 * count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** Writes `values` as little-endian float32 into `bytes` at `offset`. */
export function writeFloat32LE(bytes: Uint8Array, offset: number, values: Float32Array): void {
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, values.byteLength);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
}
