"""InfoBatch for PyTorch and Hugging Face trainers, driven by the InfoBatch control plane.

The control plane (``npm run serve``) keeps each example's score, plans every epoch (prunes part
of the well-learned examples, up-weights the rest), shards the plan over ranks and accounts the
savings. This package is the trainer's side:

- `ControlPlaneClient`: the HTTP API, with retries that idempotency makes safe;
- `InfoBatchSampler`: this rank's share of each epoch, its length known before the epoch starts;
- `infobatch_loss` / `per_example_loss`: response-token losses and the weighted batch loss;
- `progress_at` / `learning_rate_at`: the warmup + cosine schedule indexed to the true last step;
- `infobatch_hf.hf.InfoBatchTrainer`: the Hugging Face Trainer integration (imports transformers,
  so it is a separate module: ``from infobatch_hf.hf import InfoBatchTrainer``).
"""

from .client import ControlPlaneClient, ReportOutcome, Share, decode_share
from .errors import (
    ApiError,
    ConflictingReportError,
    EndpointNotFoundError,
    EpochClosedError,
    EpochNotOpenError,
    InfoBatchError,
    RunNotFoundError,
    RunNotRunningError,
    ServerUnreachableError,
    UnauthorizedError,
)
from .loss import IGNORE_INDEX, WeightedLoss, infobatch_loss, labels_from_mask, per_example_loss
from .sampler import InfoBatchSampler, SamplerBatch, distributed_rank_world
from .schedule import learning_rate_at, progress_at

__version__ = "0.1.0"

__all__ = [
    "IGNORE_INDEX",
    "ApiError",
    "ConflictingReportError",
    "ControlPlaneClient",
    "EndpointNotFoundError",
    "EpochClosedError",
    "EpochNotOpenError",
    "InfoBatchError",
    "InfoBatchSampler",
    "ReportOutcome",
    "RunNotFoundError",
    "RunNotRunningError",
    "SamplerBatch",
    "ServerUnreachableError",
    "Share",
    "UnauthorizedError",
    "WeightedLoss",
    "decode_share",
    "distributed_rank_world",
    "infobatch_loss",
    "labels_from_mask",
    "learning_rate_at",
    "per_example_loss",
    "progress_at",
]
