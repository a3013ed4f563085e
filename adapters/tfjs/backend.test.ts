import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";

describe("initBackend", () => {
  it("selects wasm, and cpu on request", async () => {
    expect(await initBackend("wasm")).toEqual({ backend: "wasm", skipped: [] });
    expect(tf.getBackend()).toBe("wasm");
    expect(await initBackend("cpu")).toEqual({ backend: "cpu", skipped: [] });
    expect(tf.getBackend()).toBe("cpu");
  });

  it("falls back from tensorflow to wasm when tfjs-node is not installed, saying why", async () => {
    const choice = await initBackend("tensorflow");
    // Where tfjs-node is installed this test sees the native backend instead.
    if (choice.backend === "tensorflow") return;
    expect(choice.backend).toBe("wasm");
    expect(choice.skipped).toEqual([
      "tensorflow: @tensorflow/tfjs-node-gpu is not installed, @tensorflow/tfjs-node is not installed",
    ]);
  });

  it("refuses an unknown backend", async () => {
    await expect(initBackend("webgpu" as "wasm")).rejects.toThrow(/unknown backend "webgpu"/);
  });
});
