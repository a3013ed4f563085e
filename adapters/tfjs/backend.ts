/**
 * Picks the TensorFlow.js backend. `@tensorflow/tfjs-node` / `-node-gpu` (native TensorFlow) are
 * optional: they download libtensorflow when installed, so they are never dependencies; when
 * present they are found with a dynamic import. Otherwise wasm (XNNPACK, SIMD), else the
 * pure-JS cpu backend (~20× slower on matmuls).
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.js";

/** A backend `initBackend` can select. "tensorflow" is tfjs-node(-gpu)'s native backend. */
export type BackendName = "tensorflow" | "wasm" | "cpu";

/** Options of `initBackend`. */
export interface BackendOptions {
  /**
   * Where the wasm binaries are served from (browsers, Workers): a folder URL ending in "/" or
   * the per-file map of `setWasmPaths`. Not needed under Node, where the package finds them.
   */
  wasmPaths?: string | Record<string, string>;
}

/** What `initBackend` selected, and why not the preferred one when it fell back. */
export interface BackendChoice {
  backend: BackendName;
  /** One line per backend tried and unavailable, e.g. "tensorflow: @tensorflow/tfjs-node is not installed". */
  skipped: string[];
}

/** Native packages, fastest first. Held in a variable so bundlers do not try to resolve them. */
const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/**
 * Selects and initialises a backend, falling back along tensorflow → wasm → cpu from
 * `preferred`. Without a preference: tensorflow when tfjs-node(-gpu) is installed, else wasm.
 * Throws a `ModelError` "backend_unavailable" only when none of the chain works.
 *
 * @example
 * const { backend, skipped } = await initBackend("wasm"); // "wasm", or "cpu" with the reason
 */
export async function initBackend(
  preferred?: BackendName,
  options: BackendOptions = {},
): Promise<BackendChoice> {
  const chain: BackendName[] = ["tensorflow", "wasm", "cpu"];
  const start = preferred === undefined ? 0 : chain.indexOf(preferred);
  if (start < 0) {
    throw new ModelError("invalid_config", `unknown backend "${preferred}"`, ["backend"]);
  }
  const skipped: string[] = [];
  for (const name of chain.slice(start)) {
    const why = await tryBackend(name, options);
    if (why === null) return { backend: name, skipped };
    skipped.push(`${name}: ${why}`);
  }
  throw new ModelError(
    "backend_unavailable",
    `no TensorFlow.js backend works: ${skipped.join("; ")}`,
  );
}

/** Registers and selects `name`; null on success, else the reason it is unavailable. */
async function tryBackend(name: BackendName, options: BackendOptions): Promise<string | null> {
  try {
    if (name === "tensorflow") {
      const why = await importNative();
      if (why !== null) return why;
    } else if (name === "wasm") {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
    } else {
      await import("@tensorflow/tfjs-backend-cpu");
    }
    // setBackend resolves false (after logging) when the backend fails to initialise.
    if (!(await tf.setBackend(name))) return "failed to initialise";
    await tf.ready();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Imports the first native package that loads; null on success, else why none did. */
async function importNative(): Promise<string | null> {
  const reasons: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    try {
      await import(name);
      return null;
    } catch (error) {
      // "Not installed" is the normal case; an installed package that fails to load is reported.
      const code = (error as { code?: unknown }).code;
      const missing = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
      reasons.push(`${name} ${missing ? "is not installed" : `failed to load: ${String(error)}`}`);
    }
  }
  return reasons.join(", ");
}
