/** Loss reports as the engine takes them: per-example float32 losses, checked finite. */
import type { ZodError, ZodType } from "zod";
import { meanTokenLosses } from "../core/index.js";
import { ApiError } from "./errors.js";
import type { LossReport } from "./schemas.js";
import type { StoredReport } from "./store.js";

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

export function perExampleLosses(report: LossReport): Float32Array {
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
    return checkFinite(Float32Array.from(report.losses), "losses");
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
