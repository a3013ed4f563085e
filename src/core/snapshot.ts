/**
 * Engine state ↔ bytes. Layout (little-endian, 4-byte aligned):
 *   "IBS1" | u32 header length | header JSON (UTF-8, space-padded to 4) |
 *   f32 scores[N] | u32 lengths[N] (if any) | u32 W bitset (if the current plan has one) |
 *   u32 checksum of everything before it.
 * Typed arrays go in as raw bytes (no JSON for N numbers); the header carries everything small.
 */
import { InfoBatchError } from "./errors.js";
import type { EpochRecord } from "./ledger.js";
import type { ResolvedOptions } from "./options.js";

const MAGIC = 0x31534249; // "IBS1" read as a little-endian u32
const FORMAT = 1;

export interface SnapshotHeader {
  format: number;
  options: ResolvedOptions;
  records: EpochRecord[];
  position: number;
  unplanned: { scoringOnly: number; nonFinite: number };
  hasWell: boolean;
}

export interface SnapshotState {
  header: SnapshotHeader;
  scores: Float32Array;
  lengths: Uint32Array | null;
  well: Uint32Array | null;
}

export function encodeSnapshot(state: SnapshotState): Uint8Array {
  let json = JSON.stringify(state.header);
  while ((8 + new TextEncoder().encode(json).length) % 4 !== 0) json += " ";
  const header = new TextEncoder().encode(json);
  const parts: Uint8Array[] = [bytesOf(state.scores)];
  if (state.lengths !== null) parts.push(bytesOf(state.lengths));
  if (state.well !== null) parts.push(bytesOf(state.well));
  let total = 8 + header.length + 4;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  let offset = 8 + header.length;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  view.setUint32(offset, checksum(out, offset), true);
  return out;
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotState {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12)
    bad("too short to be an engine snapshot");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) bad('missing the "IBS1" magic: not an engine snapshot');
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength + 4 > bytes.length) bad("header runs past the end (truncated snapshot?)");
  const body = bytes.length - 4;
  if (body % 4 !== 0 || view.getUint32(body, true) !== checksum(bytes, body)) {
    bad("checksum mismatch: the snapshot is truncated or corrupted");
  }
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    bad("header is not valid JSON");
  }
  if (header.format !== FORMAT)
    bad(`unsupported snapshot format ${header.format} (expected ${FORMAT})`);
  const n = header.options.size;
  const words = Math.ceil(n / 32);
  const expected =
    8 +
    headerLength +
    4 * n * (header.options.hasLengths ? 2 : 1) +
    (header.hasWell ? 4 * words : 0) +
    4;
  if (expected !== bytes.length)
    bad(`expected ${expected} bytes for ${n} examples, found ${bytes.length}`);
  let offset = 8 + headerLength;
  const take = (count: number): ArrayBuffer => {
    const copy = bytes.slice(offset, offset + 4 * count).buffer;
    offset += 4 * count;
    return copy;
  };
  const scores = new Float32Array(take(n));
  const lengths = header.options.hasLengths ? new Uint32Array(take(n)) : null;
  const well = header.hasWell ? new Uint32Array(take(words)) : null;
  return { header, scores, lengths, well };
}

function bytesOf(array: Float32Array | Uint32Array): Uint8Array {
  // Typed arrays are little-endian on every platform this runs on (x86, ARM, wasm).
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** FNV-1a-style hash over 32-bit words; catches truncation and flipped bytes. */
function checksum(bytes: Uint8Array, length: number): number {
  const words =
    bytes.byteOffset % 4 === 0
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, length / 4)
      : new Uint32Array(bytes.slice(0, length).buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

function bad(message: string): never {
  throw new InfoBatchError("invalid_snapshot", message);
}
