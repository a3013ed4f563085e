/**
 * Segments → token ids and a target mask, with BOS/EOS and truncation.
 *
 * Layout of one example: [BOS] segment tokens … EOS. Each segment is encoded on its own (the
 * first with `encode`, later ones with `encodeContinuation`), so a token never straddles the
 * prompt/response boundary and the mask is exact. EOS is appended after the last segment and is
 * a target: the model must learn to stop. `mask[t] = 1` when token t is a target (predicted from
 * tokens < t); the BOS and position 0 never are.
 */
import type { Segment } from "./templates/segments.js";
import type { Tokenizer } from "./types.js";

/**
 * How an example longer than `maxLength` is shortened:
 * - `"prompt-left"`: drop prompt tokens from the left (after BOS) first, then cut the end;
 * - `"right"`: keep the first `maxLength` tokens (the benchmark protocol's rule);
 * - `"drop"`: leave the example out.
 * Any example left with no target token is left out too, and counted.
 */
export type TruncationPolicy = "prompt-left" | "right" | "drop";

export interface EncodeOptions {
  /** Longest sequence, in tokens including BOS and EOS. */
  maxLength: number;
  truncation?: TruncationPolicy;
  /** Prepend the tokenizer's BOS (when it has one). Default true. */
  addBos?: boolean;
}

export type EncodeResult =
  | { ok: true; tokens: Uint32Array; mask: Uint8Array; truncated: boolean }
  | { ok: false; reason: "too_long" | "no_target" };

function specialSplitter(tokenizer: Tokenizer): RegExp | null {
  const specials = tokenizer.specialTokens;
  if (specials === undefined || specials.size === 0) return null;
  const escaped = [...specials.keys()]
    .sort((a, b) => b.length - a.length)
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(${escaped.join("|")})`);
}

const splitters = new WeakMap<Tokenizer, RegExp | null>();

/** Encodes one segment's text, turning special-token strings into their ids. */
function encodeText(
  tokenizer: Tokenizer,
  text: string,
  continuation: boolean,
  out: number[],
): void {
  let splitter = splitters.get(tokenizer);
  if (splitter === undefined) {
    splitter = specialSplitter(tokenizer);
    splitters.set(tokenizer, splitter);
  }
  const parts = splitter === null ? [text] : text.split(splitter);
  const start = out.length; // the BOS may already be there: it does not make this a continuation
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === "") continue;
    // split() with a capture group puts the separators at odd indices.
    const special = i % 2 === 1 ? tokenizer.specialTokens!.get(part) : undefined;
    if (special !== undefined) {
      out.push(special);
    } else {
      const cont = continuation || out.length > start;
      const ids =
        cont && tokenizer.encodeContinuation
          ? tokenizer.encodeContinuation(part)
          : tokenizer.encode(part);
      for (const id of ids) out.push(id);
    }
  }
}

export function encodeSegments(
  tokenizer: Tokenizer,
  segments: Segment[],
  options: EncodeOptions,
): EncodeResult {
  const ids: number[] = [];
  const mask: number[] = [];
  const bos = options.addBos !== false && tokenizer.bosId !== null;
  if (bos) {
    ids.push(tokenizer.bosId!);
    mask.push(0);
  }
  let firstTarget = -1;
  for (const segment of segments) {
    const start = ids.length;
    encodeText(tokenizer, segment.text, start > (bos ? 1 : 0), ids);
    for (let t = start; t < ids.length; t++) mask.push(segment.trainable ? 1 : 0);
    if (segment.trainable && firstTarget < 0 && ids.length > start) firstTarget = start;
  }
  ids.push(tokenizer.eosId);
  mask.push(1);
  if (firstTarget < 0) firstTarget = ids.length - 1;
  mask[0] = 0;

  // Kept tokens: [0, head) and [skipTo, end).
  const max = options.maxLength;
  const head = bos ? 1 : 0;
  let skipTo = head;
  let end = ids.length;
  const truncated = ids.length > max;
  if (truncated) {
    const policy = options.truncation ?? "prompt-left";
    if (policy === "drop") return { ok: false, reason: "too_long" };
    if (policy === "right") {
      end = max;
    } else {
      // Drop the prompt's leftmost tokens (never the BOS), then cut the end.
      skipTo = head + Math.min(ids.length - max, Math.max(0, firstTarget - head));
      end = Math.min(ids.length, max + skipTo - head);
    }
  }
  const tokens = new Uint32Array(head + end - skipTo);
  const targets = new Uint8Array(tokens.length);
  let o = 0;
  for (let t = 0; t < head; t++, o++) tokens[o] = ids[t];
  for (let t = skipTo; t < end; t++, o++) {
    tokens[o] = ids[t];
    targets[o] = mask[t];
  }
  targets[0] = 0;
  if (!targets.includes(1)) return { ok: false, reason: "no_target" };
  return { ok: true, tokens, mask: targets, truncated };
}
