"""A `torch.utils.data.Sampler` over this rank's share of each epoch's InfoBatch plan.

Why it asks the server rather than sampling itself: the plan of epoch e depends on every rank's
losses of epoch e - 1, and must be the same global plan for all ranks; the control plane holds the
scores and shards the plan. The sampler fetches its share when the epoch's length or order is
first needed, so ``len(sampler)`` is right *before* the epoch is iterated (step-based LR
schedules see the true step count; the reference implementation reports the previous epoch's).

Randomness lives on the server (seeded from the run's seed and the epoch): this object draws no
random numbers and never touches a global RNG.
"""

from __future__ import annotations

import math
import operator
from array import array
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import torch
from torch.utils.data import Sampler

from .client import ControlPlaneClient, Share

STATE_VERSION = 1
STATE_KEYS = ("version", "run_id", "rank", "world", "epoch", "position")

IdsLike = Union[torch.Tensor, Sequence[int]]


@dataclass(frozen=True)
class SamplerBatch:
    """One batch of this rank's share: `step` (0-based within the epoch) is the report key."""

    epoch: int
    step: int
    ids: list[int]
    weights: torch.Tensor


def distributed_rank_world() -> tuple[int, int]:
    """(rank, world) of the default process group when torch.distributed is initialised, else
    (0, 1)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class InfoBatchSampler(Sampler[int]):
    """Yields this rank's example ids of the current epoch, in plan order.

    Args:
        client: A `ControlPlaneClient`.
        run_id: The run (created with ``trainer: "remote"``).
        rank, world: This process's place; default: from `torch.distributed` when it is
            initialised, else 0 and 1. `world` must equal the run's world.
        epoch: First epoch. Default 0; `set_epoch` moves it.
        wait: Seconds to wait for an epoch's plan to open (other ranks may still be reporting the
            previous epoch). Default 600.

    Example::

        sampler = InfoBatchSampler(client, run_id)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            steps = sampler.steps(batch_size)           # known before the epoch starts
            for batch in sampler.batches(batch_size):
                out = infobatch_loss(model(x[batch.ids]), y[batch.ids], batch.weights)
                ...
                client.report_losses(run_id, epoch=epoch, step=batch.step, rank=sampler.rank,
                                     ids=batch.ids, losses=out.per_example.tolist())
    """

    def __init__(
        self,
        client: ControlPlaneClient,
        run_id: str,
        *,
        rank: Optional[int] = None,
        world: Optional[int] = None,
        epoch: int = 0,
        wait: float = 600.0,
    ) -> None:
        if (rank is None) != (world is None):
            raise ValueError("give both rank and world, or neither (torch.distributed decides)")
        if rank is None or world is None:
            rank, world = distributed_rank_world()
        if not (isinstance(world, int) and world >= 1 and isinstance(rank, int) and 0 <= rank < world):
            raise ValueError(f"expected 0 <= rank < world, received rank {rank}, world {world}")
        self.client = client
        self.run_id = run_id
        self.rank = rank
        self.world = world
        self.wait = wait
        self._epoch = _check_epoch(epoch)
        self._position = 0
        self._share: Optional[Share] = None
        self._ids: Optional[torch.Tensor] = None
        self._weights_by_id: Optional[torch.Tensor] = None
        self._position_by_id: Optional[torch.Tensor] = None

    # -- epochs ----------------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def position(self) -> int:
        """Examples of this epoch handed out so far (where `__iter__` resumes)."""
        return self._position

    def set_epoch(self, epoch: int) -> None:
        """Moves to `epoch` (its plan is fetched on first use). The same epoch again is a no-op,
        so a resumed position survives frameworks that call this at every epoch start."""
        epoch = _check_epoch(epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._position = 0
            self._share = None

    def share(self) -> Share:
        """This rank's share of the current epoch (fetched once; waits while it is not open)."""
        if self._share is None or self._share.epoch != self._epoch:
            share = self.client.plan(
                self.run_id, self._epoch, self.rank, self.world, wait=self.wait
            )
            ids = _as_ids(share.ids)
            size = int(ids.max()) + 1 if len(ids) else 0
            weights = torch.ones(size, dtype=torch.float32)
            weights[ids] = _as_weights(share.weights)
            # First position of each id (a padded share may repeat one); -1 for ids not held.
            ordered, order = torch.sort(ids, stable=True)  # equal ids keep their order
            first = torch.ones(len(ids), dtype=torch.bool)
            first[1:] = ordered[1:] != ordered[:-1]
            positions = torch.full((size,), -1, dtype=torch.int64)
            positions[ordered[first]] = order[first]
            self._share, self._ids = share, ids
            self._weights_by_id, self._position_by_id = weights, positions
        return self._share

    def __len__(self) -> int:
        """Examples in this rank's share of the current epoch (not of the previous one)."""
        return len(self.share())

    def steps(self, batch_size: int, *, drop_last: bool = False) -> int:
        """Optimizer steps of the current epoch at `batch_size` per rank."""
        if batch_size < 1:
            raise ValueError(f"expected a batch size >= 1, received {batch_size}")
        n = len(self)
        return n // batch_size if drop_last else math.ceil(n / batch_size)

    def __iter__(self) -> Iterator[int]:
        self.share()
        assert self._ids is not None
        ids = self._ids.tolist()
        while self._position < len(ids):
            i = ids[self._position]
            self._position += 1
            yield i

    def batches(self, batch_size: int, *, drop_last: bool = False) -> Iterator[SamplerBatch]:
        """The rest of the epoch as batches of ids and weights, numbered by position (a resumed
        epoch continues with the step numbers it had)."""
        n = self.steps(batch_size, drop_last=drop_last)
        assert self._ids is not None
        if self._position % batch_size != 0:
            raise ValueError(
                f"position {self._position} is not a multiple of the batch size {batch_size}"
            )
        end = min(len(self._ids), n * batch_size)  # drop_last leaves the partial batch out
        while self._position < end:
            step = self._position // batch_size
            ids = self._ids[self._position : self._position + batch_size].tolist()
            self._position += len(ids)
            yield SamplerBatch(self._epoch, step, ids, self.weights_for(ids))

    # -- per-example facts -----------------------------------------------------------------------

    def weights_for(self, ids: IdsLike) -> torch.Tensor:
        """The plan weights of `ids` (float32, on the ids' device when they are a tensor)."""
        index = self._index(ids)
        assert self._weights_by_id is not None
        weights = self._weights_by_id[index.cpu()]
        return weights.to(ids.device) if isinstance(ids, torch.Tensor) else weights

    def position_of(self, ids: IdsLike) -> torch.Tensor:
        """Position within this rank's share of each id (the first, for a repeated one)."""
        index = self._index(ids)
        assert self._position_by_id is not None
        return self._position_by_id[index.cpu()]

    def _index(self, ids: IdsLike) -> torch.Tensor:
        self.share()
        assert self._position_by_id is not None
        index = torch.as_tensor(ids, dtype=torch.int64).flatten()
        size = len(self._position_by_id)
        outside = (index < 0) | (index >= size)
        outside[~outside] = self._position_by_id[index[~outside].cpu()] < 0
        if bool(outside.any()):
            bad = index[outside][:5].tolist()
            raise KeyError(
                f"examples {bad} are not in rank {self.rank}'s share of epoch {self._epoch} "
                f"of run {self.run_id}"
            )
        return index

    # -- checkpoints -----------------------------------------------------------------------------

    def state_dict(self, consumed: Optional[int] = None) -> dict[str, Any]:
        """Where this rank is: run, rank, world, epoch and position within the epoch.

        `consumed`: examples of the epoch actually trained, when it differs from what the sampler
        handed out (a DataLoader prefetches ahead of the training step).
        """
        position = self._position if consumed is None else int(consumed)
        return {
            "version": STATE_VERSION,
            "run_id": self.run_id,
            "rank": self.rank,
            "world": self.world,
            "epoch": self._epoch,
            "position": position,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores epoch and position; refuses a state of another run, rank or world."""
        keys = sorted(state.keys())
        if keys != sorted(STATE_KEYS):
            raise ValueError(f"expected sampler state keys {sorted(STATE_KEYS)}, received {keys}")
        if state["version"] != STATE_VERSION:
            raise ValueError(f"sampler state version {state['version']} is not {STATE_VERSION}")
        for key, mine in (("run_id", self.run_id), ("rank", self.rank), ("world", self.world)):
            if state[key] != mine:
                raise ValueError(
                    f"sampler state is for {key} {state[key]!r}, this sampler has {mine!r}"
                )
        position = state["position"]
        if not (isinstance(position, int) and position >= 0):
            raise ValueError(f"expected a position >= 0, received {position!r}")
        self.set_epoch(state["epoch"])
        self._position = position


def _check_epoch(epoch: int) -> int:
    try:
        value = operator.index(epoch)
    except TypeError:
        value = -1
    if value < 0:
        raise ValueError(f"expected an integer epoch >= 0, received {epoch!r}")
    return value


def _as_ids(ids: Sequence[int]) -> torch.Tensor:
    """int64 ids from the client's array('I') (zero-copy view, widened) or any sequence."""
    if isinstance(ids, array) and ids.typecode == "I" and len(ids) > 0:
        return torch.frombuffer(ids, dtype=torch.int32).to(torch.int64) & 0xFFFFFFFF
    return torch.tensor(list(ids), dtype=torch.int64)


def _as_weights(weights: Sequence[float]) -> torch.Tensor:
    if isinstance(weights, array) and weights.typecode == "f" and len(weights) > 0:
        return torch.frombuffer(weights, dtype=torch.float32).clone()
    return torch.tensor(list(weights), dtype=torch.float32)
