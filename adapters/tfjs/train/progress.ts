/**
 * A terminal progress bar for `LoraTrainer.fit` events (cli-progress): steps of the epoch,
 * tokens/s, loss and the fraction of examples InfoBatch kept. Off a TTY it prints one line per
 * epoch instead, so logs stay readable.
 */
import { Presets, SingleBar } from "cli-progress";
import type { TrainEvent } from "./trainer.js";

export interface ProgressOptions {
  /** Where to draw. Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Label before the bar, e.g. the run's name. */
  label?: string;
}

/** An `onEvent` handler that draws progress; call `stop()` when training ends. */
export function progressBar(options: ProgressOptions = {}): {
  onEvent: (e: TrainEvent) => void;
  stop: () => void;
} {
  const stream = options.stream ?? process.stderr;
  const label = options.label === undefined ? "" : `${options.label} `;
  const interactive = stream.isTTY === true;
  let bar: SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const onEvent = (e: TrainEvent) => {
    if (e.type === "step") {
      if (!interactive) return;
      if (bar === null) {
        bar = new SingleBar(
          {
            stream,
            format: `${label}epoch {epoch} [{bar}] {value}/{total} steps | {tps} tok/s | loss {loss} | kept {kept}`,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        bar.start(e.steps, 0, { epoch: e.epoch, tps: "-", loss: "-", kept: "-" });
      }
      bar.update(e.step + 1, {
        epoch: e.epoch,
        tps: Math.round(e.tokensPerSecond),
        loss: e.loss.toFixed(3),
        kept: `${(100 * e.keptFraction).toFixed(0)}%`,
      });
      return;
    }
    stop();
    const evalPart =
      e.eval === null
        ? ""
        : ` | held-out loss ${e.eval.loss.toFixed(4)} (ppl ${e.eval.perplexity.toFixed(2)})`;
    stream.write(
      `${label}epoch ${e.epoch}: ${e.steps} steps, ${e.tokens} tokens in ${e.seconds.toFixed(1)} s, kept ${(100 * e.keptFraction).toFixed(0)}%, train loss ${e.trainLoss.toFixed(4)}${evalPart}\n`,
    );
  };
  return { onEvent, stop };
}
