/** HTTP-facing errors as data: status, stable code, the path of the offending value. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: 400 | 401 | 404 | 409 | 413 | 422 | 500;
  readonly code: string;
  readonly path: ReadonlyArray<string | number>;

  constructor(
    status: ApiError["status"],
    code: string,
    message: string,
    path: ReadonlyArray<string | number> = [],
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, path: this.path } };
  }
}
