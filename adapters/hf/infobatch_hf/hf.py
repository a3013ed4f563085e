"""The Hugging Face `Trainer` integration: InfoBatch plans, weighted losses and loss reports.

Importing this module imports transformers (nothing else in the package does). Needs
transformers >= 4.46 (the training loop that calls ``set_epoch`` on the train DataLoader before
taking its length, and ``on_optimizer_step``).

What changes against a plain `Trainer`, and why:

- The train DataLoader iterates an `InfoBatchSampler` over this rank's share of the server's plan.
  It is *not* passed through accelerate's sharding: the server already shards the plan by rank,
  and sharding twice would drop three quarters of it on 2 GPUs. Its ``set_epoch`` moves the
  sampler, so ``len(dataloader)`` (the Trainer's steps of the epoch) is the pruned epoch's.
- Each example carries its id to `compute_loss` (under the key ``infobatch_ids``, which the
  collator adds after the model's unused columns are removed), so the loss is the weighted
  ``sum(w_i * l_i) / B`` of per-example response-token means, and those means are reported to
  the server at every micro-batch.
- The learning-rate schedule is linear warmup + cosine to 0 over *progress*, counted per epoch
  from each epoch's true step count (known when the epoch starts): it ends at the true last
  step. ``lr_scheduler_type`` is not used (pass ``optimizers=(opt, sched)`` to bring your own).
- With ``dataloader_drop_last``, an epoch's last partial batch is never reported: after every
  rank has finished the epoch, process 0 closes it on the server.
- Held-out evaluations at epoch ends are reported to the run (``eval_loss``, computed as the
  mean of per-example response-token means when the eval batches carry labels).

Resuming from a Trainer checkpoint is refused: the Trainer computes the epochs to skip from
full-data epoch lengths, which pruning makes wrong.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Optional

import torch
from torch.utils.data import DataLoader, Dataset
from transformers import Trainer, TrainerCallback

from .client import ControlPlaneClient
from .errors import EndpointNotFoundError
from .loss import infobatch_loss, per_example_loss
from .sampler import InfoBatchSampler
from .schedule import learning_rate_at, progress_at

IDS_KEY = "infobatch_ids"


class _WithIds(Dataset):
    """Items as (id, item), so the example id reaches the collator."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


class _IdCollator:
    """Collates the items with the Trainer's collator, then adds the ids as a tensor."""

    def __init__(self, collate: Callable[[list[Any]], dict[str, Any]]) -> None:
        self.collate = collate

    def __call__(self, features: list[tuple[int, Any]]) -> dict[str, Any]:
        batch = self.collate([item for _, item in features])
        batch[IDS_KEY] = torch.tensor([i for i, _ in features], dtype=torch.int64)
        return batch


class InfoBatchDataLoader(DataLoader):
    """A DataLoader whose ``set_epoch`` (called by the Trainer each epoch) moves the sampler."""

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)  # type: ignore[union-attr]


class _Hooks(TrainerCallback):
    """Forwards the Trainer's events to the `InfoBatchTrainer` that owns it."""

    def __init__(self, trainer: "InfoBatchTrainer") -> None:
        self.trainer = trainer

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.trainer._epoch_begin()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.trainer._updates_done += 1

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.trainer._epoch_end()

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        self.trainer._evaluated(state, metrics or {})


class InfoBatchTrainer(Trainer):
    """A `transformers.Trainer` that trains on the InfoBatch plans of a control-plane run.

    Args (besides the Trainer's own):
        client: A `ControlPlaneClient`.
        run_id: A run created with ``trainer: "remote"``, ``world`` = the number of processes and
            ``engine.epochs`` = ``args.num_train_epochs``.
        warmup_fraction: Warmup share of progress. Default: ``args.warmup_ratio``.

    The train dataset's item i must be example id i of the run. Batches need ``labels`` in the
    Hugging Face convention (-100 on prompt and padding tokens).

    Example::

        trainer = InfoBatchTrainer(model=model, args=args, train_dataset=train,
                                   data_collator=collator, client=client, run_id=run["id"])
        trainer.train()
    """

    def __init__(
        self,
        *args: Any,
        client: ControlPlaneClient,
        run_id: str,
        warmup_fraction: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.infobatch_client = client
        self.infobatch_run_id = run_id
        run = client.get_run(run_id)
        self._epochs = int(run["epochs"])
        if self.args.max_steps is not None and self.args.max_steps > 0:
            raise ValueError("InfoBatchTrainer trains whole epochs: leave max_steps unset (-1)")
        if not math.isclose(float(self.args.num_train_epochs), self._epochs):
            raise ValueError(
                f"run {run_id} has {self._epochs} epochs but num_train_epochs is "
                f"{self.args.num_train_epochs}: set them equal"
            )
        if int(run["world"]) != self.args.world_size:
            raise ValueError(
                f"run {run_id} has world {run['world']} but {self.args.world_size} processes train it"
            )
        self._warmup = (
            warmup_fraction if warmup_fraction is not None else float(getattr(self.args, "warmup_ratio", 0.0) or 0.0)
        )
        # Our loss is already the batch mean; the Trainer then divides by accumulation steps.
        self.model_accepts_loss_kwargs = False
        self.infobatch_sampler: Optional[InfoBatchSampler] = None
        self._updates_done = 0
        self._updates_in_epoch = 0
        self.add_callback(_Hooks(self))

    # -- data ------------------------------------------------------------------------------------

    def get_train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise ValueError("InfoBatchTrainer: training requires a train_dataset")
        dataset = self.train_dataset
        collate = self.data_collator
        try:
            import datasets  # noqa: PLC0415 - optional, as in the Trainer

            is_hf_dataset = isinstance(dataset, datasets.Dataset)
        except ImportError:
            is_hf_dataset = False
        if is_hf_dataset:
            dataset = self._remove_unused_columns(dataset, description="training")
        else:
            collate = self._get_collator_with_removed_columns(collate, description="training")
        if self.infobatch_sampler is None:
            self.infobatch_sampler = InfoBatchSampler(
                self.infobatch_client,
                self.infobatch_run_id,
                rank=self.args.process_index,
                world=self.args.world_size,
            )
        options: dict[str, Any] = {}
        if self.args.dataloader_num_workers > 0:
            options["persistent_workers"] = self.args.dataloader_persistent_workers
            if self.args.dataloader_prefetch_factor is not None:
                options["prefetch_factor"] = self.args.dataloader_prefetch_factor
        return InfoBatchDataLoader(
            _WithIds(dataset),
            sampler=self.infobatch_sampler,
            batch_size=self._train_batch_size,
            collate_fn=_IdCollator(collate),
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            drop_last=self.args.dataloader_drop_last,
            **options,
        )

    def train(self, resume_from_checkpoint: Any = None, *args: Any, **kwargs: Any) -> Any:
        if resume_from_checkpoint:
            raise NotImplementedError(
                "InfoBatchTrainer cannot resume from a Trainer checkpoint yet: the Trainer derives "
                "the epochs to skip from full-data epoch lengths, which pruning changes"
            )
        return super().train(None, *args, **kwargs)

    # -- loss ------------------------------------------------------------------------------------

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, **kwargs: Any
    ) -> Any:
        ids = inputs.pop(IDS_KEY, None)
        labels = inputs.pop("labels", None)
        if labels is None:
            if ids is not None:
                raise ValueError("InfoBatchTrainer needs `labels` in every training batch (-100 on prompt tokens)")
            return super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        if ids is None:  # evaluation: the protocol's metric, mean of per-example means
            loss = per_example_loss(logits, labels).mean()
            return (loss, outputs) if return_outputs else loss
        sampler = self.infobatch_sampler
        assert sampler is not None
        weighted = infobatch_loss(logits, labels, sampler.weights_for(ids))
        step = int(sampler.position_of(ids[:1])[0]) // self._train_batch_size
        self.infobatch_client.report_losses(
            self.infobatch_run_id,
            epoch=sampler.epoch,
            step=step,
            rank=sampler.rank,
            ids=ids.tolist(),
            losses=weighted.per_example.tolist(),
        )
        return (weighted.loss, outputs) if return_outputs else weighted.loss

    # -- schedule --------------------------------------------------------------------------------

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
        if self.lr_scheduler is None:
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer if optimizer is None else optimizer, self._lr_factor
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def _lr_factor(self, _: int) -> float:
        """LR multiplier of the next optimizer update (the LambdaLR's step count is not used:
        progress comes from the epoch and the updates done in it)."""
        sampler = self.infobatch_sampler
        if sampler is None:
            return 0.0
        updates = self._updates_in_epoch or self._updates_of(len(sampler))
        if self._updates_done >= updates:
            # The next update opens the next epoch, whose length is not known yet: the epoch start
            # sets the exact value before that update runs.
            progress = (sampler.epoch + 1) / self._epochs
        else:
            progress = progress_at(sampler.epoch, self._updates_done, updates, self._epochs)
        return learning_rate_at(progress, 1.0, warmup_fraction=self._warmup)

    def _updates_of(self, examples: int) -> int:
        batches = (
            examples // self._train_batch_size
            if self.args.dataloader_drop_last
            else math.ceil(examples / self._train_batch_size)
        )
        return math.ceil(batches / self.args.gradient_accumulation_steps)

    # -- epoch events ----------------------------------------------------------------------------

    def _epoch_begin(self) -> None:
        assert self.infobatch_sampler is not None
        self._updates_done = 0
        self._updates_in_epoch = self._updates_of(len(self.infobatch_sampler))
        scheduler = self.lr_scheduler
        if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR) and self._created_lr_scheduler:
            factor = self._lr_factor(0)
            for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
                group["lr"] = base * factor
            scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]

    def _epoch_end(self) -> None:
        if not self.args.dataloader_drop_last:
            return  # every example was reported: the server closed the epoch itself
        assert self.infobatch_sampler is not None
        self.accelerator.wait_for_everyone()  # no rank may still be reporting this epoch
        if self.args.process_index == 0:
            self.infobatch_client.close_epoch(self.infobatch_run_id, self.infobatch_sampler.epoch)

    def _evaluated(self, state: Any, metrics: dict[str, Any]) -> None:
        epoch = state.epoch
        loss = metrics.get("eval_loss")
        if self.args.process_index != 0 or loss is None or epoch is None:
            return
        if abs(epoch - round(epoch)) > 1e-6 or round(epoch) < 1:
            return  # only evaluations at epoch ends belong to an epoch
        try:
            self.infobatch_client.report_evaluation(
                self.infobatch_run_id, epoch=int(round(epoch)) - 1, held_out_loss=float(loss)
            )
        except EndpointNotFoundError as error:
            warnings.warn(f"held-out loss not reported: {error}", stacklevel=2)
