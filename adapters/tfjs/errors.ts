/**
 * Errors as data (as in the core engine): every error of the TensorFlow.js adapter carries a
 * stable `code`, the `path` of the offending value (a config field, a tensor name, a byte offset)
 * and a readable message that states what was expected and what was found.
 */
export type ModelErrorCode =
  | "invalid_config"
  | "invalid_checkpoint"
  | "invalid_safetensors"
  | "unsupported_dtype"
  | "missing_tensor"
  | "unexpected_tensor"
  | "shape_mismatch"
  | "invalid_input"
  | "backend_unavailable";

/** An error of the model, its checkpoints or its backend; see `ModelErrorCode`. */
export class ModelError extends Error {
  override readonly name = "ModelError";
  readonly code: ModelErrorCode;
  readonly path: ReadonlyArray<string | number>;

  constructor(code: ModelErrorCode, message: string, path: ReadonlyArray<string | number> = []) {
    super(path.length > 0 ? `${message} (at ${path.join(".")})` : message);
    this.code = code;
    this.path = path;
  }

  toJSON(): { code: ModelErrorCode; message: string; path: ReadonlyArray<string | number> } {
    return { code: this.code, message: this.message, path: this.path };
  }
}
