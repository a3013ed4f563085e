import { describe, expect, it } from "vitest";
import { parseSafetensors, serializeSafetensors } from "./safetensors.js";

/** A file built by hand from the format's description, as a reference writer would lay it out. */
function handMade(header: object, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.byteLength + data.length);
  new DataView(bytes.buffer).setUint32(0, json.byteLength, true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.byteLength);
  return bytes;
}

describe("safetensors", () => {
  it("reads F32, F16 and BF16 tensors as float32, with the metadata", () => {
    const bytes = handMade(
      {
        __metadata__: { format: "pt" },
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F16", shape: [1, 2], data_offsets: [8, 12] },
        c: { dtype: "BF16", shape: [], data_offsets: [12, 14] },
      },
      // 1.5f, -2f | half 1.0 (0x3c00), half -0.5 (0xb800) | bf16 3.0 (0x4040)
      [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0, 0x00, 0x3c, 0x00, 0xb8, 0x40, 0x40],
    );
    const { tensors, metadata } = parseSafetensors(bytes);
    expect(metadata).toEqual({ format: "pt" });
    expect([...tensors.keys()]).toEqual(["a", "b", "c"]);
    expect(tensors.get("a")).toEqual({ dtype: "F32", shape: [2], data: Float32Array.of(1.5, -2) });
    expect(tensors.get("b")).toEqual({
      dtype: "F16",
      shape: [1, 2],
      data: Float32Array.of(1, -0.5),
    });
    expect(tensors.get("c")).toEqual({ dtype: "BF16", shape: [], data: Float32Array.of(3) });
  });

  it("writes an 8-byte-aligned header and reads back what it wrote, in every dtype", () => {
    const data = Float32Array.of(0.1, -2.5, 1e-3, 65504, 0, -0);
    const bytes = serializeSafetensors(
      {
        f32: { shape: [2, 3], data },
        f16: { shape: [6], data, dtype: "F16" },
        bf16: { shape: [3, 2], data, dtype: "BF16" },
      },
      { metadata: { format: "pt" } },
    );
    const headerBytes = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerBytes % 8).toBe(0);
    const { tensors, metadata } = parseSafetensors(bytes);
    expect(metadata).toEqual({ format: "pt" });
    expect(tensors.get("f32")).toEqual({ dtype: "F32", shape: [2, 3], data });
    expect(tensors.get("f16")?.data).toEqual(
      Float32Array.of(0.0999755859375, -2.5, 0.0010004043579101562, 65504, 0, -0),
    );
    expect(tensors.get("bf16")?.data).toEqual(
      Float32Array.of(0.10009765625, -2.5, 0.00099945068359375, 65536, 0, -0),
    );
  });

  it("names the tensor in its errors", () => {
    const entry = (dtype: string, offsets: number[]) =>
      handMade({ w: { dtype, shape: [2], data_offsets: offsets } }, [0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => parseSafetensors(entry("I64", [0, 8]))).toThrow(
      /dtype I64 is not supported .*\(at w\)/,
    );
    expect(() => parseSafetensors(entry("F32", [0, 12]))).toThrow(
      /run past the 8 data bytes \(at w\)/,
    );
    expect(() => parseSafetensors(entry("F16", [0, 8]))).toThrow(
      /8 bytes for F16 \[2\], expected 4 \(at w\)/,
    );
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/shorter than the 8-byte length/);
    const notJson = handMade({}, []);
    notJson[8] = 0x7a;
    expect(() => parseSafetensors(notJson)).toThrow(/header is not JSON/);
    expect(() => serializeSafetensors({ w: { shape: [3], data: new Float32Array(2) } })).toThrow(
      /shape \[3\] holds 3 values, data has 2 \(at w\)/,
    );
  });
});
