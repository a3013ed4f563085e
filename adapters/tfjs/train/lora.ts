/**
 * LoRA (Hu et al., 2021) on the frozen projections of a Llama: W·x + (α/r)·B·A·dropout(x), with
 * A, B trainable and the base weights untouched. Tensors are named as PEFT names them
 * (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`), stored here input-major
 * (A: (in, r), B: (r, out)) because that is the layout of fast products; PEFT files hold the
 * transposes (see peft.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import { Xoshiro128 } from "../../../src/core/index.js";
import { ModelError } from "../errors.js";
import { kvDim } from "../model/config.js";
import type { Llama, ProjectionAdapter, ProjectionName } from "../model/llama.js";

export const PROJECTIONS: readonly ProjectionName[] = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
];

const SHORT: Record<string, ProjectionName> = {
  q: "q_proj",
  k: "k_proj",
  v: "v_proj",
  o: "o_proj",
  gate: "gate_proj",
  up: "up_proj",
  down: "down_proj",
};

export interface LoraConfig {
  /** Rank r of A·B. */
  rank: number;
  /** Scale numerator: deltas are multiplied by alpha / rank. */
  alpha: number;
  /** Dropout on the adapter's input while training. Default 0. */
  dropout?: number;
  /** Projections to adapt: "q", "k", "v", "o", "gate", "up", "down" (or PEFT's "q_proj", …). */
  targets: readonly string[];
}

export interface ResolvedLoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  targets: ProjectionName[];
}

export function resolveLoraConfig(config: LoraConfig): ResolvedLoraConfig {
  if (!Number.isInteger(config.rank) || config.rank < 1) {
    throw new ModelError(
      "invalid_config",
      `LoRA rank must be a positive integer, received ${config.rank}`,
      ["rank"],
    );
  }
  if (!(config.alpha > 0)) {
    throw new ModelError("invalid_config", `LoRA alpha must be > 0, received ${config.alpha}`, [
      "alpha",
    ]);
  }
  const dropout = config.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) {
    throw new ModelError("invalid_config", `LoRA dropout must be in [0, 1), received ${dropout}`, [
      "dropout",
    ]);
  }
  const targets = config.targets.map((t, i) => {
    const name =
      SHORT[t] ?? (PROJECTIONS.includes(t as ProjectionName) ? (t as ProjectionName) : null);
    if (name === null) {
      throw new ModelError(
        "invalid_config",
        `unknown LoRA target "${t}"; expected one of q, k, v, o, gate, up, down`,
        ["targets", i],
      );
    }
    return name;
  });
  if (targets.length === 0)
    throw new ModelError("invalid_config", "LoRA needs at least one target", ["targets"]);
  return { rank: config.rank, alpha: config.alpha, dropout, targets: [...new Set(targets)] };
}

/** (in, out) of a projection. */
export function projectionShape(model: Llama, p: ProjectionName): [number, number] {
  const { dim, hiddenDim } = model.config;
  const kv = kvDim(model.config);
  switch (p) {
    case "q_proj":
    case "o_proj":
      return [dim, dim];
    case "k_proj":
    case "v_proj":
      return [dim, kv];
    case "gate_proj":
    case "up_proj":
      return [dim, hiddenDim];
    case "down_proj":
      return [hiddenDim, dim];
  }
}

/** PEFT's module path of a projection of layer `layer`. */
export function peftModule(layer: number, p: ProjectionName): string {
  const block =
    p.endsWith("_proj") && ["gate_proj", "up_proj", "down_proj"].includes(p) ? "mlp" : "self_attn";
  return `base_model.model.model.layers.${layer}.${block}.${p}`;
}

export class LoraAdapter {
  readonly config: ResolvedLoraConfig;
  /** A and B of every adapted projection, by PEFT tensor name (input-major layouts). */
  readonly variables = new Map<string, tf.Variable>();
  private readonly scale: number;
  private readonly nLayers: number;

  /** Initialises A ~ U(±1/√in) (PEFT's kaiming-uniform default) from `seed`, B = 0. */
  constructor(model: Llama, config: LoraConfig, seed: number) {
    this.config = resolveLoraConfig(config);
    this.scale = this.config.alpha / this.config.rank;
    this.nLayers = model.config.nLayers;
    const rng = new Xoshiro128(seed);
    const r = this.config.rank;
    for (let layer = 0; layer < this.nLayers; layer++) {
      for (const p of this.config.targets) {
        const [inDim, outDim] = projectionShape(model, p);
        const bound = 1 / Math.sqrt(inDim);
        const a = Float32Array.from({ length: inDim * r }, () => (2 * rng.nextFloat() - 1) * bound);
        const base = peftModule(layer, p);
        // tfjs variable names are process-wide: let tfjs pick them, keep PEFT names as keys.
        this.variables.set(`${base}.lora_A.weight`, tf.variable(tf.tensor2d(a, [inDim, r]), true));
        this.variables.set(`${base}.lora_B.weight`, tf.variable(tf.zeros([r, outDim]), true));
      }
    }
  }

  /** Trainable parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  /**
   * The forward hook. `dropoutSeed` (training only) makes each step's dropout masks reproducible;
   * pass null for evaluation (no dropout).
   */
  hook(model: Llama, dropoutSeed: number | null): ProjectionAdapter {
    const targets = new Set(this.config.targets);
    const dropout = dropoutSeed === null ? 0 : this.config.dropout;
    return (layer, group, x) => {
      if (!group.some((p) => targets.has(p))) return null;
      const input =
        dropout > 0
          ? tf.dropout(
              x,
              dropout,
              undefined,
              dropoutSeed! + layer * 16 + PROJECTIONS.indexOf(group[0]),
            )
          : x;
      const parts = group.map((p) => {
        if (!targets.has(p)) return tf.zeros([x.shape[0], projectionShape(model, p)[1]]);
        const base = peftModule(layer, p);
        const a = this.variables.get(`${base}.lora_A.weight`)!;
        const b = this.variables.get(`${base}.lora_B.weight`)!;
        return tf.mul(tf.matMul(tf.matMul(input, a), b), this.scale);
      });
      return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor2D;
    };
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}
