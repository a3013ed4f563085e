/**
 * Loss reports as the engine takes them: per-example float32 losses, checked finite. A report
 * arrives as JSON (checked against LossReportSchema) or in the binary layout below
 * (docs/binary-reports.md); both give the same `ParsedReport` and the same errors downstream.
 */
import type { ZodError, ZodType } from "zod";
import { meanTokenLosses } from "../core/index.js";
import { ApiError } from "./errors.js";
import { LossReportSchema } from "./schemas.js";
import type { StoredReport } from "./store.js";

/** A validated report: from JSON (arrays of numbers) or from the binary layout (typed arrays). */
export interface ParsedReport {
  epoch: number;
  step: number;
  rank: number;
  ids: ArrayLike<number>;
  losses?: ArrayLike<number>;
  tokenLosses?: ArrayLike<number>;
  mask?: ArrayLike<number>;
}

/**
 * The binary loss report (`Content-Type: application/octet-stream`), little-endian:
 *
 * ```
 * offset   size  field
 * 0        4     magic "IBLR" (0x49 0x42 0x4c 0x52)
 * 4        4     u32 version = 1
 * 8        4     u32 epoch
 * 12       4     u32 step
 * 16       4     u32 rank
 * 20       4     u32 n, examples in the batch (>= 1)
 * 24       4·n   u32 ids[n]
 * 24+4·n   4·n   f32 losses[n], per-example losses
 * ```
 *
 * The body is exactly 24 + 8·n bytes.
 */
export const BINARY_REPORT = {
  contentType: "application/octet-stream",
  magic: "IBLR",
  version: 1,
  headerBytes: 24,
} as const;

/** Whether a request's Content-Type announces a binary loss report (parameters ignored). */
export function isBinaryReport(contentType: string | undefined | null): boolean {
  if (contentType === undefined || contentType === null) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim();
  return type.toLowerCase() === BINARY_REPORT.contentType;
}

const MAGIC = 0x524c4249; // "IBLR" read as a little-endian u32
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Decodes a binary loss report; the ids and losses are views on `body` (or on an aligned copy). */
export function decodeBinaryReport(body: Uint8Array): ParsedReport {
  const header = BINARY_REPORT.headerBytes;
  if (body.byteLength < header) {
    throw new ApiError(
      400,
      "invalid_request",
      `a binary loss report starts with a ${header}-byte header, received ${body.byteLength} bytes`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (view.getUint32(0, true) !== MAGIC) {
    throw new ApiError(
      400,
      "invalid_request",
      `not a binary loss report: expected magic "${BINARY_REPORT.magic}"`,
    );
  }
  const version = view.getUint32(4, true);
  if (version !== BINARY_REPORT.version) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected binary loss report version ${BINARY_REPORT.version}, received ${version}`,
    );
  }
  const n = view.getUint32(20, true);
  if (n === 0) {
    throw new ApiError(400, "invalid_request", "Too small: expected array to have >=1 items", [
      "ids",
    ]);
  }
  const expected = header + 8 * n;
  if (body.byteLength !== expected) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected ${expected} bytes (${header} + 8·n for n = ${n}), received ${body.byteLength}`,
    );
  }
  let ids: Uint32Array;
  let losses: Float32Array;
  if (LITTLE_ENDIAN) {
    // Typed-array views need 4-byte alignment: a body sliced out of a socket read may lack it.
    const aligned = body.byteOffset % 4 === 0 ? body : new Uint8Array(body);
    ids = new Uint32Array(aligned.buffer, aligned.byteOffset + header, n);
    losses = new Float32Array(aligned.buffer, aligned.byteOffset + header + 4 * n, n);
  } else {
    ids = new Uint32Array(n);
    losses = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = view.getUint32(header + 4 * i, true);
      losses[i] = view.getFloat32(header + 4 * n + 4 * i, true);
    }
  }
  return {
    epoch: view.getUint32(8, true),
    step: view.getUint32(12, true),
    rank: view.getUint32(16, true),
    ids,
    losses,
  };
}

/** Encodes a binary loss report (clients in TypeScript; tests). */
export function encodeBinaryReport(report: {
  epoch: number;
  step: number;
  rank: number;
  ids: ArrayLike<number>;
  losses: ArrayLike<number>;
}): Uint8Array {
  const n = report.ids.length;
  if (report.losses.length !== n) {
    throw new RangeError(`expected one loss per id: ${n} ids, ${report.losses.length} losses`);
  }
  const header = BINARY_REPORT.headerBytes;
  const out = new Uint8Array(header + 8 * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, BINARY_REPORT.version, true);
  view.setUint32(8, report.epoch, true);
  view.setUint32(12, report.step, true);
  view.setUint32(16, report.rank, true);
  view.setUint32(20, n, true);
  for (let i = 0; i < n; i++) {
    view.setUint32(header + 4 * i, report.ids[i], true);
    view.setFloat32(header + 4 * n + 4 * i, report.losses[i], true);
  }
  return out;
}

/**
 * A JSON loss report, checked: the common shape (epoch, step, rank, ids, losses; nothing else)
 * by hand, anything else by LossReportSchema. The hand check accepts only what the schema
 * accepts, and refuses nothing itself, so the errors are the schema's.
 */
export function parseLossReport(value: unknown): ParsedReport {
  if (isPlainReport(value)) return value;
  return parse(LossReportSchema, value);
}

const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;

function isPlainReport(value: unknown): value is ParsedReport {
  // What JSON.parse makes: a plain object (no inherited keys, which the schema would refuse).
  if (
    typeof value !== "object" ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return false;
  const r = value as Record<string, unknown>;
  if (Object.keys(r).length !== 5) return false;
  if (!isCount(r.epoch) || !isCount(r.step) || !isCount(r.rank)) return false;
  const { ids, losses } = r;
  if (!Array.isArray(ids) || !Array.isArray(losses) || ids.length === 0) return false;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isSafeInteger(id) || id < 0 || id > 4294967295) return false;
  }
  for (let i = 0; i < losses.length; i++) {
    const loss = losses[i];
    if (typeof loss !== "number" || !Number.isFinite(loss)) return false;
  }
  return true;
}

/** Validates `value`, turning zod's first issue into a 400 with its path. */
export function parse<T>(schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = (result.error as ZodError).issues[0];
    throw new ApiError(
      400,
      "invalid_request",
      issue.message,
      issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    );
  }
  return result.data;
}

export function perExampleLosses(report: ParsedReport): Float32Array {
  const rows = report.ids.length;
  if (report.losses !== undefined) {
    if (report.losses.length !== rows) {
      throw new ApiError(
        400,
        "invalid_request",
        `expected ${rows} losses (one per id), received ${report.losses.length}`,
        ["losses"],
      );
    }
    const losses =
      report.losses instanceof Float32Array ? report.losses : Float32Array.from(report.losses);
    return checkFinite(losses, "losses");
  }
  const tokens = report.tokenLosses!;
  if (tokens.length % rows !== 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected [${rows}, T] token losses, received ${tokens.length} values`,
      ["tokenLosses"],
    );
  }
  if (report.mask !== undefined && report.mask.length !== tokens.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `expected a mask of ${tokens.length} values, received ${report.mask.length}`,
      ["mask"],
    );
  }
  return checkFinite(
    Float32Array.from(meanTokenLosses(rows, tokens, report.mask ?? null)),
    "tokenLosses",
  );
}

export function checkFinite(losses: Float32Array, field: string): Float32Array {
  for (let i = 0; i < losses.length; i++) {
    if (!Number.isFinite(losses[i])) {
      throw new ApiError(
        400,
        "non_finite_loss",
        `loss of row ${i} is not finite (float32, or no masked token)`,
        [field, i],
      );
    }
  }
  return losses;
}

export function sameReport(a: StoredReport, b: StoredReport): boolean {
  if (a.ids.length !== b.ids.length) return false;
  for (let i = 0; i < a.ids.length; i++)
    if (a.ids[i] !== b.ids[i] || a.losses[i] !== b.losses[i]) return false;
  return true;
}
