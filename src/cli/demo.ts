/**
 * `infobatch demo`: the engine on a simulated run, so the two-command start shows something real
 * about the algorithm before any model is involved. Each example has a difficulty and a length;
 * its loss falls with every epoch it is actually trained (pruned examples do not improve).
 */
import { InfoBatch, Xoshiro128 } from "../core/index.js";

export interface DemoOptions {
  size: number;
  epochs: number;
  batchSize: number;
  seed: number;
}

export function runDemo(options: DemoOptions, print: (line: string) => void): void {
  const { size, epochs, batchSize, seed } = options;
  const rng = new Xoshiro128(seed);
  const difficulty = Float64Array.from({ length: size }, () => 0.3 + 2.5 * rng.nextFloat() ** 2);
  const lengths = Uint32Array.from(
    { length: size },
    () => 32 + Math.floor(480 * rng.nextFloat() ** 3),
  );
  const visits = new Uint16Array(size);
  const engine = new InfoBatch({ size, epochs, seed, lengths });

  print(`InfoBatch engine demo: ${size} simulated examples, ${epochs} epochs, batch ${batchSize}`);
  print("epoch  annealing  threshold  well-learned  trained   tokens trained  steps");
  for (let e = 0; e < epochs; e++) {
    const plan = engine.planEpoch(e);
    for (const batch of plan.batches(batchSize)) {
      const losses = new Float32Array(batch.ids.length);
      batch.ids.forEach((id, i) => {
        visits[id]++;
        losses[i] = difficulty[id] * Math.exp(-0.35 * visits[id]) + 0.05 * rng.nextFloat();
      });
      engine.update(batch.ids, losses);
    }
    const info = plan.info;
    print(
      [
        String(e).padStart(5),
        (info.annealing ? "yes" : "no").padStart(10),
        (info.threshold === null ? "—" : info.threshold.toFixed(3)).padStart(10),
        String(info.wellLearned).padStart(13),
        String(info.size).padStart(8),
        String(info.tokens).padStart(16),
        String(plan.steps(batchSize)).padStart(6),
      ].join(" "),
    );
  }
  const report = engine.savings({ batchSize, parameterCount: 260_000 });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  print("");
  print(
    `examples saved: ${report.total.examples.saved} of ${report.total.examples.full} (${pct(report.total.examples.savedFraction)})`,
  );
  print(
    `tokens saved:   ${report.total.tokens!.saved} of ${report.total.tokens!.full} (${pct(report.total.tokens!.savedFraction)})`,
  );
  print(
    `steps saved:    ${report.total.steps!.saved} of ${report.total.steps!.full} (${pct(report.total.steps!.savedFraction)})`,
  );
  print(`FLOPs saved (260K-parameter model): ${report.total.flops!.saved.toExponential(2)}`);
}
