/**
 * The llama2.c `tok*.bin` tokenizer (sentencepiece BPE exported by karpathy/llama2.c), encoding
 * and decoding exactly as `run.c` does (`build_tokenizer`, `encode`, `decode`), so token ids match
 * the ones the llama2.c models (stories260K, stories15M, …) were trained and benchmarked on.
 *
 * File format: int32 `max_token_length`, then per token: float32 score, int32 byte length, bytes
 * (little-endian). The vocabulary size is not stored: run.c takes it from the model header, we
 * read entries until the end of the file.
 *
 * No file system here (Workers, browsers): `loadLlama2cTokenizer` in files.ts reads from a path.
 */
import { DataError, type Tokenizer } from "../types.js";

/** A llama2.c tokenizer: the `Tokenizer` interface plus run.c's BOS variant and the raw pieces. */
export interface Llama2cTokenizer extends Tokenizer {
  readonly bosId: 1;
  readonly eosId: 2;
  readonly padId: 0;
  /** The file's `max_token_length` header (longest piece in bytes). */
  readonly maxTokenLength: number;
  /**
   * run.c `encode(text, bos = 1, eos = 0)`: BOS, then what `encode` gives (dummy prefix space
   * included). This is the benchmark protocol's encoding; `[1]` for empty text.
   */
  encodeWithBos(text: string): number[];
  /** Text continuing earlier text: no dummy prefix space (prompt + response round-trips). */
  encodeContinuation(text: string): number[];
  /** The raw piece of `id` as stored in the file (e.g. `" the"`, `"<0x0A>"`), UTF-8 decoded. */
  piece(id: number): string;
  /** The float32 merge score of `id`. */
  score(id: number): number;
}

/** run.c: `<unk>`, `<s>`, `</s>` are ids 0, 1, 2; the 256 byte pieces follow at 3 … 258. */
const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const BYTE_OFFSET = 3;
/** run.c starts each merge scan with `best_score = -1e10`: pairs scoring at or below never merge. */
const MIN_SCORE = -1e10;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Parses `tok*.bin` bytes (no file system: usable in Workers and browsers). `name` becomes
 * `llama2c:<name>`; `file` only labels errors.
 */
export function llama2cTokenizerFromBytes(
  bytes: Uint8Array,
  name: string,
  file = `${name}.bin`,
): Llama2cTokenizer {
  const invalid = (message: string) =>
    new DataError("invalid_tokenizer", `not a llama2.c tokenizer: ${message}`, { file });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw invalid("shorter than its 4-byte header");
  const maxTokenLength = view.getInt32(0, true);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (offset < bytes.byteLength) {
    if (offset + 8 > bytes.byteLength) throw invalid(`truncated entry at byte ${offset}`);
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || offset + length > bytes.byteLength) {
      throw invalid(`token ${pieces.length} has length ${length} past the end (byte ${offset})`);
    }
    // A copy: the tokenizer must not change if the caller reuses its buffer.
    pieces.push(bytes.slice(offset, offset + length));
    scores.push(score);
    offset += length;
  }
  // run.c's byte fallback hard-codes id = byte + 3: make sure the file agrees before trusting it.
  if (pieces.length < BYTE_OFFSET + 256) {
    throw invalid(`${pieces.length} tokens, fewer than the 259 that byte fallback needs`);
  }
  for (let b = 0; b < 256; b++) {
    const match = BYTE_PIECE.exec(latin1(pieces[BYTE_OFFSET + b]));
    if (match === null || Number.parseInt(match[1], 16) !== b) {
      throw invalid(`token ${BYTE_OFFSET + b} should be the byte piece <0x${hex2(b)}>`);
    }
  }
  return new Llama2c(name, pieces, Float32Array.from(scores), maxTokenLength, invalid);
}

class Llama2c implements Llama2cTokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly padId = UNK_ID;
  readonly maxTokenLength: number;

  private readonly pieces: Uint8Array[];
  private readonly scores: Float32Array;
  /**
   * Piece bytes as latin1 strings (one char per byte): concatenating two keys is concatenating
   * the bytes, which is what run.c's `sprintf("%s%s")` + lookup does, for any bytes.
   */
  private readonly keys: string[];
  private readonly ids = new Map<string, number>();
  /** Id of each single-byte piece (ASCII fast path of the codepoint lookup), or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly spaceId: number;
  /** Decoded bytes of each id (`<0xXX>` → that byte), and the same after BOS / at the start. */
  private readonly out: Uint8Array[];
  private readonly outStripped: Uint8Array[];
  /** Merged id of a pair, cached by `left * vocabSize + right` (-1: not in the vocabulary). */
  private readonly pairCache = new Map<number, number>();
  private readonly utf8 = new TextEncoder();
  private readonly text = new TextDecoder();
  private scratch = new MergeScratch(1024);

  constructor(
    name: string,
    pieces: Uint8Array[],
    scores: Float32Array,
    maxTokenLength: number,
    invalid: (message: string) => DataError,
  ) {
    this.name = `llama2c:${name}`;
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    this.pieces = pieces;
    this.scores = scores;
    this.keys = pieces.map(latin1);
    // run.c bsearches a sorted copy; with duplicate pieces it may return either id. We keep the
    // lowest id (tok512 has no duplicates).
    this.keys.forEach((key, id) => {
      if (!this.ids.has(key)) this.ids.set(key, id);
    });
    for (let b = 0; b < 256; b++) this.byteIds[b] = this.ids.get(String.fromCharCode(b)) ?? -1;
    const spaceId = this.ids.get(" ");
    if (spaceId === undefined) throw invalid('no " " piece for the dummy prefix');
    this.spaceId = spaceId;
    this.out = pieces.map((piece) => pieceByte(piece) ?? piece);
    // run.c decode_piece drops the leading space after BOS first, then checks for a byte piece.
    this.outStripped = pieces.map((piece, id) => {
      if (piece[0] !== 0x20) return this.out[id];
      const rest = piece.subarray(1);
      return pieceByte(rest) ?? rest;
    });
  }

  encode(text: string): number[] {
    return this.run(text, false);
  }

  /**
   * The tokens of text that continues earlier text: no dummy prefix space, so a response encoded
   * after its prompt decodes back to prompt + response exactly.
   */
  encodeContinuation(text: string): number[] {
    return this.run(text, false, false);
  }

  encodeWithBos(text: string): number[] {
    return this.run(text, true);
  }

  decode(ids: ArrayLike<number>): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = this.check(ids[i], i);
      if (id === UNK_ID || id === BOS_ID || id === EOS_ID) continue;
      // The first piece starts with the dummy prefix space, which is not part of the text (as
      // sentencepiece decodes); dropping a leading space after BOS is run.c's own rule.
      const bytes = i === 0 || ids[i - 1] === BOS_ID ? this.outStripped[id] : this.out[id];
      parts.push(bytes);
      total += bytes.length;
    }
    const buffer = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      buffer.set(part, at);
      at += part.length;
    }
    return this.text.decode(buffer);
  }

  piece(id: number): string {
    return this.text.decode(this.pieces[this.check(id)]);
  }

  score(id: number): number {
    return this.scores[this.check(id)];
  }

  private check(id: number, at?: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      const where = at === undefined ? "" : ` (at ${at})`;
      throw new DataError(
        "invalid_token_id",
        `token id ${id}${where} is not in 0…${this.vocabSize - 1}`,
      );
    }
    return id;
  }

  /**
   * run.c `encode`: BOS (optional), the dummy prefix " " when the text is not empty, one token per
   * UTF-8 codepoint (or its bytes + 3 when the codepoint is not a piece), then merge the
   * best-scoring adjacent pair (leftmost on ties) until no pair is a piece. run.c rescans all
   * pairs after every merge (quadratic); a heap of candidates gives the same merges in
   * O(n log n): each position's candidate is its pair with its right neighbour, and a heap entry
   * is live while that candidate still has the entry's score.
   */
  private run(text: string, bos: boolean, dummyPrefix = true): number[] {
    const bytes = this.utf8.encode(text);
    if (bytes.length === 0) return bos ? [BOS_ID] : [];
    const capacity = bytes.length + 2;
    if (this.scratch.capacity < capacity) this.scratch = new MergeScratch(capacity * 2);
    const { token, next, prev, candidate, candidateScore } = this.scratch;
    let n = 0;
    if (bos) token[n++] = BOS_ID;
    if (dummyPrefix) token[n++] = this.spaceId;
    // run.c reads a C string and would stop at a NUL character; here NUL is just byte 0 (<0x00>).
    for (let i = 0; i < bytes.length; ) {
      const lead = bytes[i];
      // TextEncoder output is well-formed UTF-8, so the lead byte gives the codepoint's length.
      const width = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
      let id: number;
      if (width === 1) id = this.byteIds[lead];
      else id = this.ids.get(latin1(bytes.subarray(i, i + width))) ?? -1;
      if (id >= 0) token[n++] = id;
      else for (let k = 0; k < width; k++) token[n++] = bytes[i + k] + BYTE_OFFSET;
      i += width;
    }

    const heap = this.scratch.heap;
    heap.clear();
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    for (let i = 0; i + 1 < n; i++) this.offer(i, token[i + 1]);
    while (heap.size > 0) {
      const score = heap.topScore();
      const i = heap.pop();
      // Stale entry: the position was merged away (candidate -1) or its pair changed score.
      if (candidate[i] < 0 || candidateScore[i] !== score) continue;
      const j = next[i];
      token[i] = candidate[i];
      candidate[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) this.offer(prev[i], token[i]);
      if (next[i] >= 0) this.offer(i, token[next[i]]);
      else candidate[i] = -1;
    }
    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) result.push(token[i]);
    return result;
  }

  /** Sets position i's merge candidate with its right neighbour (id `right`), queueing it. */
  private offer(i: number, right: number): void {
    const { token, candidate, candidateScore, heap } = this.scratch;
    const merged = this.pair(token[i], right);
    if (merged < 0 || !(this.scores[merged] > MIN_SCORE)) {
      candidate[i] = -1;
      return;
    }
    candidate[i] = merged;
    candidateScore[i] = this.scores[merged];
    heap.push(this.scores[merged], i);
  }

  private pair(left: number, right: number): number {
    const key = left * this.vocabSize + right;
    let merged = this.pairCache.get(key);
    if (merged === undefined) {
      merged = this.ids.get(this.keys[left] + this.keys[right]) ?? -1;
      // Bounded so a huge vocabulary over a huge corpus cannot grow it without limit.
      if (this.pairCache.size >= 1 << 20) this.pairCache.clear();
      this.pairCache.set(key, merged);
    }
    return merged;
  }
}

/** Per-tokenizer work arrays for `run`, reused across calls (encode is synchronous). */
class MergeScratch {
  readonly token: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly candidate: Int32Array;
  readonly candidateScore: Float64Array;
  readonly heap: PairHeap;
  constructor(readonly capacity: number) {
    this.token = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.candidate = new Int32Array(capacity);
    this.candidateScore = new Float64Array(capacity);
    // Every merge offers at most two new entries on top of the initial n - 1.
    this.heap = new PairHeap(3 * capacity);
  }
}

/** Max-heap of (score, position): higher score first, then lower position (run.c's leftmost). */
class PairHeap {
  private readonly scores: Float64Array;
  private readonly positions: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.scores = new Float64Array(capacity);
    this.positions = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  topScore(): number {
    return this.scores[0];
  }

  push(score: number, position: number): void {
    const { scores, positions } = this;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(score, position, scores[parent], positions[parent])) break;
      scores[i] = scores[parent];
      positions[i] = positions[parent];
      i = parent;
    }
    scores[i] = score;
    positions[i] = position;
  }

  /** Removes the top entry and returns its position. */
  pop(): number {
    const { scores, positions } = this;
    const top = positions[0];
    const n = --this.size;
    const score = scores[n];
    const position = positions[n];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (
        child + 1 < n &&
        before(scores[child + 1], positions[child + 1], scores[child], positions[child])
      ) {
        child++;
      }
      if (!before(scores[child], positions[child], score, position)) break;
      scores[i] = scores[child];
      positions[i] = positions[child];
      i = child;
    }
    scores[i] = score;
    positions[i] = position;
    return top;
  }
}

function before(scoreA: number, posA: number, scoreB: number, posB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && posA < posB);
}

/** Bytes as a string of char codes 0–255 (a lossless key for arbitrary bytes). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** The byte a `<0xXX>` piece stands for, as a one-byte array, or null for other pieces. */
function pieceByte(piece: Uint8Array): Uint8Array | null {
  const match = BYTE_PIECE.exec(latin1(piece));
  return match === null ? null : Uint8Array.of(Number.parseInt(match[1], 16));
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, "0");
}
