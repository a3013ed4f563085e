/**
 * Errors as data (after zod): every error the engine raises carries a stable `code`, the `path`
 * of the offending value (option name, array index, …) and a readable message built from them.
 */
export type InfoBatchErrorCode =
  | "invalid_option"
  | "invalid_argument"
  | "id_out_of_range"
  | "id_not_in_plan"
  | "non_finite_loss"
  | "epoch_order"
  | "no_plan"
  | "stale_plan"
  | "invalid_snapshot";

export class InfoBatchError extends Error {
  override readonly name = "InfoBatchError";
  readonly code: InfoBatchErrorCode;
  readonly path: ReadonlyArray<string | number>;

  constructor(
    code: InfoBatchErrorCode,
    message: string,
    path: ReadonlyArray<string | number> = [],
  ) {
    super(path.length > 0 ? `${message} (at ${path.join(".")})` : message);
    this.code = code;
    this.path = path;
  }

  toJSON(): { code: InfoBatchErrorCode; message: string; path: ReadonlyArray<string | number> } {
    return { code: this.code, message: this.message, path: this.path };
  }
}
