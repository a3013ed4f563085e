"""The learning-rate schedule, mirrored from adapters/tfjs/train/schedule.ts.

A pure function of training progress in [0, 1]: linear warmup, then cosine to a floor. Progress is
counted per epoch, ``(e + (s + 1) / steps_e) / E`` for step s of epoch e, because a pruned run's
later step counts are unknown until each epoch is planned; the schedule therefore ends exactly at
the run's true last step, whatever pruning did.
"""

from __future__ import annotations

import math


def progress_at(epoch: int, step: int, steps: int, epochs: int) -> float:
    """Progress after step `step` (0-based) of epoch `epoch` with `steps` steps, of `epochs`."""
    return (epoch + (step + 1) / steps) / epochs


def learning_rate_at(
    progress: float, lr: float, *, warmup_fraction: float = 0.05, min_ratio: float = 0.0
) -> float:
    """The learning rate at `progress`: ``lr * progress / warmup`` during warmup, then cosine
    from `lr` down to ``min_ratio * lr`` at progress 1."""
    if not 0 <= warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in [0, 1), received {warmup_fraction}")
    floor = min_ratio * lr
    if progress < warmup_fraction:
        return lr * progress / warmup_fraction
    t = min(1.0, (progress - warmup_fraction) / (1 - warmup_fraction))
    return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * t))
