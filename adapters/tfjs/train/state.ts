/**
 * A trainer checkpoint as bytes: LoRA weights, AdamW moments and step counts, so a run resumes
 * exactly where its last checkpoint left it. Layout: "IBT1", u32 header length, the JSON header
 * (counters and, per tensor, its name and length), then the float32 values in header order.
 */

export interface TrainerState {
  /** Optimizer steps taken, and the AdamW bias-correction step. */
  steps: number;
  optimizerStep: number;
  lora: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  /** Anything the caller keeps with it (e.g. the last epoch trained). */
  meta: Record<string, unknown>;
}

const MAGIC = 0x31544249; // "IBT1" little-endian

export function encodeTrainerState(state: TrainerState): Uint8Array {
  const groups = { lora: state.lora, m: state.m, v: state.v };
  const tensors: Array<{ group: string; name: string; length: number }> = [];
  const parts: Float32Array[] = [];
  for (const [group, map] of Object.entries(groups)) {
    for (const [name, values] of map) {
      tensors.push({ group, name, length: values.length });
      parts.push(values);
    }
  }
  const header = new TextEncoder().encode(
    JSON.stringify({
      steps: state.steps,
      optimizerStep: state.optimizerStep,
      meta: state.meta,
      tensors,
    }),
  );
  const headerEnd = 8 + header.length;
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const total = dataStart + 4 * parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  let at = dataStart;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

export function decodeTrainerState(bytes: Uint8Array): TrainerState {
  if (bytes.byteLength < 8) throw new RangeError("trainer state: truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError("trainer state: bad magic");
  const headerLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as {
    steps: number;
    optimizerStep: number;
    meta: Record<string, unknown>;
    tensors: Array<{ group: "lora" | "m" | "v"; name: string; length: number }>;
  };
  const state: TrainerState = {
    steps: header.steps,
    optimizerStep: header.optimizerStep,
    meta: header.meta,
    lora: new Map(),
    m: new Map(),
    v: new Map(),
  };
  let at = Math.ceil((8 + headerLength) / 4) * 4;
  for (const t of header.tensors) {
    const end = at + 4 * t.length;
    if (end > bytes.byteLength) throw new RangeError(`trainer state: ${t.name} is truncated`);
    state[t.group].set(t.name, new Float32Array(bytes.slice(at, end).buffer));
    at = end;
  }
  return state;
}
