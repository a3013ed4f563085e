import { describe, expect, it } from "vitest";
import { progressBar } from "./progress.js";
import type { TrainEvent } from "./trainer.js";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    columns: 120,
    write: (s: string) => {
      chunks.push(s);
      return true;
    },
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    on: () => stream,
    removeListener: () => stream,
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join("") };
}

const step = (i: number): TrainEvent => ({
  type: "step",
  epoch: 1,
  step: i,
  steps: 4,
  loss: 2.5 - i / 10,
  lr: 1e-2,
  tokens: 100 * (i + 1),
  tokensPerSecond: 1234,
  keptFraction: 0.75,
});
const epochEnd: TrainEvent = {
  type: "epoch",
  epoch: 1,
  steps: 4,
  trainLoss: 2.35,
  seconds: 3.2,
  tokens: 400,
  keptFraction: 0.75,
  eval: { loss: 2.1234, perplexity: 8.36, examples: 10 },
};

describe("progressBar", () => {
  it("draws steps, tokens/s, loss and kept fraction on a terminal", () => {
    const { stream, text } = fakeStream(true);
    const bar = progressBar({ stream, label: "run" });
    for (let i = 0; i < 4; i++) bar.onEvent(step(i));
    bar.onEvent(epochEnd);
    expect(text()).toMatch(
      /run epoch 1 \[.*\] \d\/4 steps \| 1234 tok\/s \| loss 2\.\d{3} \| kept 75%/,
    );
    expect(text()).toContain("held-out loss 2.1234 (ppl 8.36)");
  });

  it("prints one line per epoch off a terminal", () => {
    const { stream, text } = fakeStream(false);
    const bar = progressBar({ stream });
    for (let i = 0; i < 4; i++) bar.onEvent(step(i));
    bar.onEvent(epochEnd);
    bar.stop();
    expect(text()).toBe(
      "epoch 1: 4 steps, 400 tokens in 3.2 s, kept 75%, train loss 2.3500 | held-out loss 2.1234 (ppl 8.36)\n",
    );
  });
});
