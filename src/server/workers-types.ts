/**
 * The few Cloudflare Workers runtime types the Worker entry and the Durable Object store use,
 * written structurally (a subset of @cloudflare/workers-types, which this project does not
 * depend on). Only what is called here is declared; the names follow the runtime's.
 */

/** What a SQLite column holds as JavaScript: BLOBs come back as ArrayBuffer. */
export type SqlStorageValue = ArrayBuffer | string | number | null;

/** A value that may be bound to a `?`: typed arrays are bound as BLOBs (their own bytes). */
export type SqlBinding = SqlStorageValue | ArrayBufferView;

export interface SqlStorageCursor<T> extends Iterable<T> {
  toArray(): T[];
  /** The only row; throws unless there is exactly one. */
  one(): T;
  readonly rowsRead: number;
  readonly rowsWritten: number;
}

/** `ctx.storage.sql`: synchronous SQLite, one statement per `exec` (or several without bindings). */
export interface SqlStorage {
  exec<T = Record<string, SqlStorageValue>>(
    query: string,
    ...bindings: SqlBinding[]
  ): SqlStorageCursor<T>;
  readonly databaseSize: number;
}

/** `ctx.storage` of a SQLite-backed Durable Object (class listed in `new_sqlite_classes`). */
export interface DurableObjectStorage {
  readonly sql: SqlStorage;
  /** Runs `closure` in a transaction: committed when it returns, rolled back when it throws. */
  transactionSync<T>(closure: () => T): T;
}

export interface DurableObjectId {
  toString(): string;
  readonly name?: string;
}

export interface DurableObjectState {
  readonly id: DurableObjectId;
  readonly storage: DurableObjectStorage;
}

export interface DurableObjectStub {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

export interface DurableObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): DurableObjectStub;
}
