"""Per-example response-token losses and the InfoBatch-weighted batch loss.

InfoBatch scores an example by the mean cross-entropy over its *response* tokens (prompt tokens
carry label -100 and are left out), and trains on ``sum(w_i * l_i) / B``: kept well-learned
examples weigh ``1 / (1 - r)`` so that the expected gradient over an epoch equals full data's.
Losses are computed in float32 whatever the logits' dtype (fp16/bf16 logits are upcast), and the
per-example losses come back detached, ready to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


@dataclass(frozen=True)
class WeightedLoss:
    """``loss``: the scalar to backpropagate; ``per_example``: (B,) float32, detached."""

    loss: torch.Tensor
    per_example: torch.Tensor


def per_example_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    shift: bool = True,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Mean next-token cross-entropy over each example's target tokens: (B,) float32.

    Args:
        logits: (B, T, V) scores at every position, any float dtype.
        labels: (B, T) token ids, `ignore_index` (-100) where a token is not a target.
        shift: True (Hugging Face convention) when ``labels[:, t]`` is predicted by
            ``logits[:, t - 1]``; False when labels are already aligned with the logits.

    Raises:
        ValueError: when shapes disagree, or a row has no target token: its mean would be 0/0,
            and the server refuses non-finite losses (drop such examples when preparing data).
    """
    if logits.dim() != 3 or labels.dim() != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(
            f"expected logits (B, T, V) and labels (B, T), received {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if shift:
        logits = logits[:, :-1]
        labels = labels[:, 1:]
    B, T, V = logits.shape
    nll = F.cross_entropy(
        logits.reshape(B * T, V).float(),
        labels.reshape(B * T),
        ignore_index=ignore_index,
        reduction="none",
    ).view(B, T)  # 0 at ignored positions
    counts = (labels != ignore_index).sum(1)  # (B)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"rows {empty} of the batch have no target token (every label is {ignore_index}): "
            "an example needs at least one response token to be scored"
        )
    return nll.sum(1) / counts


def infobatch_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: Union[torch.Tensor, Sequence[float]],
    *,
    shift: bool = True,
    ignore_index: int = IGNORE_INDEX,
) -> WeightedLoss:
    """The InfoBatch-weighted loss ``sum(w_i * l_i) / B`` and the per-example losses to report.

    `weights` are the plan's weights of the batch's examples, in batch order (1 for examples
    that were not pruned candidates, ``1 / (1 - r)`` for kept well-learned ones).
    """
    losses = per_example_loss(logits, labels, shift=shift, ignore_index=ignore_index)
    w = torch.as_tensor(weights, dtype=torch.float32, device=losses.device)
    if w.shape != losses.shape:
        raise ValueError(
            f"expected one weight per example ({losses.shape[0]}), received {tuple(w.shape)}"
        )
    loss = (w * losses).sum() / losses.shape[0]
    return WeightedLoss(loss=loss, per_example=losses.detach())


def labels_from_mask(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Labels in the Hugging Face convention from a target mask (``mask[t] = 1`` when token t is a
    target, predicted from tokens < t): the token id where the mask is set, -100 elsewhere."""
    return torch.where(mask.bool(), ids, torch.full_like(ids, IGNORE_INDEX))
