/**
 * The safetensors format, read and written from bytes (no file system; node.ts has the file
 * helpers). Layout: u64 little-endian N, then N bytes of JSON header
 * `{ "__metadata__": { string: string }, name: { dtype, shape, data_offsets: [begin, end] } }`,
 * then the tensor data, offsets counted from the end of the header.
 *
 * Every tensor is returned as float32 (F16 and BF16 widened exactly); writing narrows on request.
 */
import { ModelError } from "../errors.js";
import { readFloat32LE, writeFloat32LE } from "./bytes.js";
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from "./float16.js";

/** The element types this module reads and writes. */
export type SafetensorsDtype = "F32" | "F16" | "BF16";

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** The reference implementation refuses larger headers (a guard against garbage lengths). */
const MAX_HEADER_BYTES = 100_000_000;

/** A tensor read from a file: its stored dtype, its shape, its values as float32. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

/** A tensor to write: `dtype` overrides the file-wide one of `serializeSafetensors`. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
  dtype?: SafetensorsDtype;
}

/** The contents of a safetensors file, tensors in header order. */
export interface SafetensorsContents {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/**
 * Reads safetensors bytes. Throws a `ModelError` "invalid_safetensors" (malformed header, offsets
 * outside the data, a size that does not match dtype × shape) or "unsupported_dtype", with the
 * tensor's name as path.
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (bytes.byteLength < 8)
    throw invalid(`${bytes.byteLength} bytes, shorter than the 8-byte length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.byteLength) {
    throw invalid(`header length ${headerBytes} does not fit the ${bytes.byteLength}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (error) {
    throw invalid(`header is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(header)) throw invalid("header is not a JSON object");

  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = readMetadata(entry);
      continue;
    }
    const { dtype, shape, begin, end } = readEntry(name, entry);
    if (end > dataBytes) {
      throw invalid(`data_offsets [${begin}, ${end}] run past the ${dataBytes} data bytes`, name);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES_PER_ELEMENT[dtype]) {
      throw invalid(
        `${end - begin} bytes for ${dtype} [${shape}], expected ${count * BYTES_PER_ELEMENT[dtype]}`,
        name,
      );
    }
    tensors.set(name, { dtype, shape, data: toFloat32(bytes, dataStart + begin, count, dtype) });
  }
  return { tensors, metadata };
}

/**
 * Safetensors bytes of `tensors` (in iteration order) with `metadata`, stored as `dtype`
 * (default "F32") unless a tensor names its own. The header is padded with spaces to a multiple
 * of 8 bytes, as the reference writer does, so the data is aligned.
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  options: { metadata?: Record<string, string>; dtype?: SafetensorsDtype } = {},
): Uint8Array {
  const entries: [string, TensorToWrite][] =
    tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const [name, tensor] of entries) {
    const dtype = tensor.dtype ?? options.dtype ?? "F32";
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new ModelError(
        "shape_mismatch",
        `shape [${tensor.shape}] holds ${count} values, data has ${tensor.data.length}`,
        [name],
      );
    }
    if (!(dtype in BYTES_PER_ELEMENT)) {
      throw new ModelError("unsupported_dtype", `cannot write dtype ${dtype}`, [name]);
    }
    const size = count * BYTES_PER_ELEMENT[dtype];
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(padded - json.byteLength));
  }
  const bytes = new Uint8Array(8 + padded + offset);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, padded % 2 ** 32, true);
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  bytes.set(json, 8);
  let at = 8 + padded;
  for (const [name, tensor] of entries) {
    const dtype = (header[name] as { dtype: SafetensorsDtype }).dtype;
    writeValues(bytes, at, tensor.data, dtype);
    at += tensor.data.length * BYTES_PER_ELEMENT[dtype];
  }
  return bytes;
}

function readEntry(
  name: string,
  entry: unknown,
): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  if (!isRecord(entry)) throw invalid("header entry is not an object", name);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") throw invalid("dtype is missing", name);
  if (!(dtype in BYTES_PER_ELEMENT)) {
    throw new ModelError(
      "unsupported_dtype",
      `dtype ${dtype} is not supported (F32, F16, BF16 are)`,
      [name],
    );
  }
  const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isIndex))
    throw invalid(`shape ${JSON.stringify(shape)} is not a list of sizes`, name);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isIndex) ||
    offsets[0] > offsets[1]
  ) {
    throw invalid(`data_offsets ${JSON.stringify(offsets)} is not [begin, end]`, name);
  }
  return { dtype: dtype as SafetensorsDtype, shape, begin: offsets[0], end: offsets[1] };
}

function readMetadata(entry: unknown): Record<string, string> {
  if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === "string")) {
    throw invalid("__metadata__ is not a map of strings", "__metadata__");
  }
  return entry as Record<string, string>;
}

function toFloat32(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
): Float32Array {
  if (dtype === "F32") return readFloat32LE(bytes, offset, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * count);
  const widen = dtype === "F16" ? halfToFloat : bfloat16ToFloat;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = widen(view.getUint16(2 * i, true));
  return out;
}

function writeValues(
  bytes: Uint8Array,
  offset: number,
  data: Float32Array,
  dtype: SafetensorsDtype,
): void {
  if (dtype === "F32") {
    writeFloat32LE(bytes, offset, data);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * data.length);
  const narrow = dtype === "F16" ? floatToHalf : floatToBfloat16;
  for (let i = 0; i < data.length; i++) view.setUint16(2 * i, narrow(data[i]), true);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(message: string, tensor?: string): ModelError {
  return new ModelError(
    "invalid_safetensors",
    `not a valid safetensors file: ${message}`,
    tensor === undefined ? [] : [tensor],
  );
}
