/**
 * The chart model: what each of the report's four charts plots, computed from a RunReport by pure
 * functions so the figures are testable without a browser. The page script only hands these
 * series to Chart.js.
 */
import type { ArmReport, EpochPoint, RunReport } from "./types.js";

/** Arm colours in order: the run itself, then comparisons (the full-data arm in grey). */
export const ARM_COLORS = ["#2563eb", "#6b7280", "#d97706", "#16a34a", "#9333ea", "#dc2626"];

export function armColor(index: number): string {
  return ARM_COLORS[index % ARM_COLORS.length];
}

/** One line of an x/y chart: `[x, y]` points, x ascending. */
export interface LineSeries {
  label: string;
  color: string;
  points: Array<[number, number]>;
  /** True for per-step curves (thousands of points: drawn without point markers). */
  dense: boolean;
}

/** One dataset of a per-epoch chart: a value per entry of `ChartModel.epochs` (null: none). */
export interface EpochSeries {
  label: string;
  color: string;
  values: Array<number | null>;
}

export interface ChartModel {
  /**
   * The x axis of the held-out and training-loss charts: cumulative training tokens when every
   * arm has token counts for every epoch, else epochs completed (epoch + 1 at an epoch's end).
   */
  xUnit: "tokens" | "epochs";
  /** (a) Held-out loss at the end of each evaluated epoch, one line per arm. */
  heldOut: LineSeries[];
  /** (b) Training loss: per step when the arm has steps and xUnit is "tokens", else per epoch. */
  train: LineSeries[];
  /** The x categories of the per-epoch charts: every arm's epochs, ascending. */
  epochs: number[];
  /** (c) Kept fraction per epoch, one bar series per arm. */
  kept: EpochSeries[];
  /** (c) Pruning threshold per epoch (second axis), for arms that pruned at least once. */
  threshold: EpochSeries[];
  /** (d) Cumulative tokens (examples when some arm lacks tokens) at each epoch's end, per arm. */
  cumulative: { unit: "tokens" | "examples"; series: EpochSeries[] };
}

function sortedEpochs(arm: ArmReport): EpochPoint[] {
  return [...arm.epochs].sort((a, b) => a.epoch - b.epoch);
}

function hasTokens(arm: ArmReport): boolean {
  return arm.epochs.every((e) => e.tokens !== null && Number.isFinite(e.tokens));
}

/** Running sums of `value` over the arm's epochs (ascending), keyed by epoch. */
function cumulativeBy(arm: ArmReport, value: (e: EpochPoint) => number): Map<number, number> {
  const out = new Map<number, number>();
  let total = 0;
  for (const e of sortedEpochs(arm)) {
    total += value(e);
    out.set(e.epoch, total);
  }
  return out;
}

const finite = (v: number | null | undefined): v is number =>
  typeof v === "number" && Number.isFinite(v);

export function chartModel(report: RunReport): ChartModel {
  const { arms } = report;
  const withTokens = arms.every(hasTokens);
  const xUnit: ChartModel["xUnit"] = withTokens ? "tokens" : "epochs";

  /** x of an epoch's end: cumulative tokens, or epochs completed. */
  const xAt = (arm: ArmReport) => {
    const tokens = withTokens ? cumulativeBy(arm, (e) => e.tokens ?? 0) : null;
    return (e: EpochPoint) => (tokens === null ? e.epoch + 1 : tokens.get(e.epoch)!);
  };

  const epochPoints = (arm: ArmReport, y: (e: EpochPoint) => number | null) => {
    const x = xAt(arm);
    const points: Array<[number, number]> = [];
    for (const e of sortedEpochs(arm)) {
      const value = y(e);
      if (finite(value)) points.push([x(e), value]);
    }
    return points;
  };

  const heldOut = arms.map(
    (arm, i): LineSeries => ({
      label: arm.label,
      color: armColor(i),
      points: epochPoints(arm, (e) => e.heldOutLoss),
      dense: false,
    }),
  );

  const train = arms.map((arm, i): LineSeries => {
    const perStep = xUnit === "tokens" && arm.steps.length > 0;
    const points: Array<[number, number]> = perStep
      ? arm.steps
          .filter((s) => finite(s.tokens) && finite(s.loss))
          .map((s): [number, number] => [s.tokens, s.loss])
          .sort((a, b) => a[0] - b[0])
      : epochPoints(arm, (e) => e.trainLoss);
    return { label: arm.label, color: armColor(i), points, dense: perStep };
  });

  const epochs = [...new Set(arms.flatMap((arm) => arm.epochs.map((e) => e.epoch)))].sort(
    (a, b) => a - b,
  );
  const perEpoch = (arm: ArmReport, value: (e: EpochPoint) => number | null) => {
    const byEpoch = new Map(arm.epochs.map((e) => [e.epoch, e]));
    return epochs.map((epoch) => {
      const e = byEpoch.get(epoch);
      const v = e === undefined ? null : value(e);
      return finite(v) ? v : null;
    });
  };

  const kept = arms.map(
    (arm, i): EpochSeries => ({
      label: arm.label,
      color: armColor(i),
      values: perEpoch(arm, (e) => e.keptFraction),
    }),
  );
  const threshold: EpochSeries[] = [];
  arms.forEach((arm, i) => {
    if (arm.epochs.some((e) => finite(e.threshold))) {
      threshold.push({
        label: `${arm.label} threshold`,
        color: armColor(i),
        values: perEpoch(arm, (e) => e.threshold),
      });
    }
  });

  const cumulative: ChartModel["cumulative"] = {
    unit: withTokens ? "tokens" : "examples",
    series: arms.map((arm, i): EpochSeries => {
      const sums = cumulativeBy(arm, (e) => (withTokens ? (e.tokens ?? 0) : e.examples));
      return {
        label: arm.label,
        color: armColor(i),
        values: epochs.map((epoch) => sums.get(epoch) ?? null),
      };
    }),
  };

  return { xUnit, heldOut, train, epochs, kept, threshold, cumulative };
}
