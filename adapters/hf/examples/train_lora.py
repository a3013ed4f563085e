"""LoRA fine-tuning of a llama2.c checkpoint in plain PyTorch, with InfoBatch pruning driven by the
control plane: each epoch this rank trains its share of the server's plan, weights each example's
loss by the plan, reports every step's per-example losses, and reports the held-out loss after
every epoch.

    OMP_WAIT_POLICY=PASSIVE python3 adapters/hf/examples/train_lora.py \\
        --checkpoint stories260K.bin --train train.jsonl --heldout test.jsonl \\
        --server http://127.0.0.1:8787 --batch-size 16 --lr 1e-2 --epochs 8 --threads 2

Data is pre-tokenized JSONL, one example per line: ``{"ids": [...], "mask": [...]}`` with
``mask[t] = 1`` when token t is a target (adapters/hf/examples/export-jsonl.ts writes it); line i
is example id i. Without ``--run`` the trainer creates the run (dataset size and token lengths from
the file). Several ranks: start one process per rank with the same ``--run``, ``--world`` and
``--dist-init`` (or under torchrun); gradients are averaged over ranks with torch.distributed.

Settings follow bench/BENCH-PROTOCOL: LoRA r = 8, alpha 16 on wq, wk, wv, wo; AdamW betas
(0.9, 0.999), eps 1e-8, weight decay 0.01, no clipping; linear warmup over 5% of progress then
cosine to 0, progress counted per epoch so the schedule ends at the run's true last step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

import torch

# Runs from a checkout without installing: the infobatch_hf package is in the folder above.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infobatch_hf import (  # noqa: E402
    ControlPlaneClient,
    EndpointNotFoundError,
    InfoBatchSampler,
    infobatch_loss,
    learning_rate_at,
    per_example_loss,
    progress_at,
)
from llama import Llama, LlamaConfig, add_lora, load_llama2c, lora_state  # noqa: E402

Example = tuple[list[int], list[int]]


def read_jsonl(path: Path, seq_len: int) -> list[Example]:
    """Examples of a JSONL file; refuses any the model cannot train on, naming the line."""
    examples: list[Example] = []
    with path.open(encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            ids, mask = record["ids"], record["mask"]
            where = f"{path}:{line_number}"
            if len(ids) != len(mask) or len(ids) < 2:
                raise ValueError(f"{where}: expected ids and mask of one length >= 2")
            if len(ids) > seq_len:
                raise ValueError(f"{where}: {len(ids)} tokens exceed the model's seq_len {seq_len}")
            if not any(mask[1:]):
                raise ValueError(f"{where}: no target token (mask is 0 after position 0)")
            examples.append((ids, mask))
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


def collate(examples: Sequence[Example], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded tokens (B, T) and labels (B, T): the token where it is a target, else -100."""
    T = max(len(ids) for ids, _ in examples)
    tokens = torch.full((len(examples), T), pad_id, dtype=torch.int64)
    labels = torch.full((len(examples), T), -100, dtype=torch.int64)
    for row, (ids, mask) in enumerate(examples):
        n = len(ids)
        t = torch.tensor(ids, dtype=torch.int64)
        tokens[row, :n] = t
        labels[row, :n] = torch.where(torch.tensor(mask, dtype=torch.bool), t, torch.tensor(-100))
    return tokens, labels


@torch.no_grad()
def evaluate(model: Llama, examples: Sequence[Example], batch_size: int) -> float:
    """Mean over examples of each example's mean response-token loss (the protocol's metric)."""
    model.eval()
    total = 0.0
    for start in range(0, len(examples), batch_size):
        tokens, labels = collate(examples[start : start + batch_size])
        total += float(per_example_loss(model(tokens), labels).sum())
    model.train()
    return total / len(examples)


def random_config(spec: str) -> LlamaConfig:
    """``dim=32,n_layers=2,…`` -> a LlamaConfig (unnamed fields keep the tiny defaults)."""
    fields = {k: int(v) for k, v in (item.split("=") for item in spec.split(",") if item)}
    base = LlamaConfig(dim=32, hidden_dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, seq_len=64)
    return LlamaConfig(**{**base.__dict__, **fields}).check()


def digest(state: dict[str, torch.Tensor]) -> str:
    """A fingerprint of the adapter weights (ranks of one run must end with the same one)."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(bytes(state[name].contiguous().view(torch.uint8).flatten().tolist()))
    return h.hexdigest()[:16]


class Log:
    """JSON lines for tests and analysis (``--log-json``); nothing when no file is given."""

    def __init__(self, path: Optional[str]) -> None:
        self.file: Optional[TextIO] = open(path, "w", encoding="utf-8") if path else None

    def write(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="llama2.c .bin (legacy version 0)")
    model.add_argument("--random-model", metavar="SPEC", help="a random Llama, e.g. dim=32,n_layers=2 (tests)")
    p.add_argument("--train", required=True, type=Path, help="JSONL of training examples")
    p.add_argument("--heldout", required=True, type=Path, help="JSONL of held-out examples")
    p.add_argument("--server", default="http://127.0.0.1:8787", help="control plane URL")
    p.add_argument("--token", default=None, help="bearer token (default $INFOBATCH_TOKEN)")
    p.add_argument("--run", default=None, help="run id; default: create a run for this data")
    p.add_argument("--rank", type=int, default=None, help="default: torch.distributed's, else 0")
    p.add_argument("--world", type=int, default=None, help="default: torch.distributed's, else 1")
    p.add_argument("--dist-init", default=None, help="init_method for world > 1 (e.g. file:///tmp/rdv)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of progress warming up")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--lora-rank", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0, help="LoRA init, dropout, and a new run's engine seed")
    p.add_argument("--epochs", type=int, default=8, help="epochs of a new run")
    p.add_argument("--prune-ratio", type=float, default=0.5, help="of a new run (0: full data)")
    p.add_argument("--delta", type=float, default=0.875, help="annealing fraction of a new run")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (timing)")
    p.add_argument("--log-json", default=None, help="write per-step JSON lines here")
    p.add_argument("--save", type=Path, default=None, help="save the LoRA weights here (torch.save)")
    return p.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rank, world = args.rank, args.world
    if world is None and "WORLD_SIZE" in os.environ:  # torchrun
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    rank, world = rank or 0, world or 1
    if world > 1:
        torch.distributed.init_process_group(
            "gloo", init_method=args.dist_init or "env://", rank=rank, world_size=world
        )
    generator = torch.Generator().manual_seed(args.seed)
    if args.checkpoint:
        model = load_llama2c(args.checkpoint)
    else:
        model = Llama.random(random_config(args.random_model), torch.Generator().manual_seed(args.seed))
    params = add_lora(
        model, rank=args.lora_rank, alpha=args.lora_alpha, dropout=args.lora_dropout, generator=generator
    )
    model.train()
    train = read_jsonl(args.train, model.config.seq_len)
    heldout = read_jsonl(args.heldout, model.config.seq_len)
    optimizer = torch.optim.AdamW(
        params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay
    )

    client = ControlPlaneClient(args.server, token=args.token)
    if args.run is None:
        if world > 1:
            raise SystemExit("several ranks need one run: create it first and pass --run to every rank")
        run = client.create_run(
            {
                "name": f"train_lora {args.train.name}",
                "trainer": "remote",
                "dataset": {"size": len(train), "lengths": [len(ids) for ids, _ in train]},
                "engine": {"epochs": args.epochs, "pruneRatio": args.prune_ratio, "delta": args.delta, "seed": args.seed},
                "world": world,
                "batchSize": args.batch_size,
            }
        )
    else:
        run = client.get_run(args.run)
    run_id, epochs = run["id"], int(run["epochs"])
    if run["epoch"] != 0 or run["reported"] != 0:
        raise SystemExit(
            f"run {run_id} is at epoch {run['epoch']} with {run['reported']} losses reported: this "
            "example keeps no checkpoints, so it only starts runs from the beginning"
        )
    sampler = InfoBatchSampler(client, run_id, rank=rank, world=world)
    log = Log(args.log_json)
    log.write({"type": "run", "run": run_id, "rank": rank, "world": world, "epochs": epochs})
    print(f"rank {rank}/{world}: run {run_id} on {args.server}, {len(train)} examples, {epochs} epochs", file=sys.stderr)

    warned = False
    total_tokens, total_seconds, steps_done = 0, 0.0, 0
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        steps = sampler.steps(args.batch_size)  # known before the epoch starts: the LR schedule needs it
        epoch_tokens, weighted_sum, started = 0, 0.0, time.perf_counter()
        for batch in sampler.batches(args.batch_size):
            lr = learning_rate_at(progress_at(epoch, batch.step, steps, epochs), args.lr, warmup_fraction=args.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            tokens, labels = collate([train[i] for i in batch.ids])
            out = infobatch_loss(model(tokens), labels, batch.weights)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            if world > 1:
                flat = torch.cat([p.grad.flatten() for p in params])
                torch.distributed.all_reduce(flat)
                flat /= world
                offset = 0
                for p in params:
                    p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
                    offset += p.numel()
            optimizer.step()
            losses = out.per_example.tolist()
            outcome = client.report_losses(
                run_id, epoch=epoch, step=batch.step, rank=rank, ids=batch.ids, losses=losses
            )
            epoch_tokens += sum(len(train[i][0]) for i in batch.ids)
            weighted_sum += float(out.loss)
            steps_done += 1
            log.write(
                {"type": "step", "epoch": epoch, "step": batch.step, "ids": batch.ids,
                 "weights": batch.weights.tolist(), "losses": losses, "lr": lr,
                 "loss": float(out.loss), "applied": outcome.applied}
            )
            if args.max_steps is not None and steps_done >= args.max_steps:
                break
        seconds = time.perf_counter() - started
        total_tokens += epoch_tokens
        total_seconds += seconds
        record: dict[str, Any] = {
            "type": "epoch", "epoch": epoch, "steps": steps, "examples": len(sampler),
            "tokens": epoch_tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(epoch_tokens / seconds, 1) if seconds > 0 else None,
            "train_loss": weighted_sum / max(1, steps),
        }
        if args.max_steps is not None and steps_done >= args.max_steps:
            log.write(record)
            print(json.dumps(record), file=sys.stderr)
            break
        if rank == 0:
            record["held_out_loss"] = evaluate(model, heldout, args.eval_batch_size)
            try:
                client.report_evaluation(
                    run_id, epoch=epoch, held_out_loss=record["held_out_loss"],
                    train_loss=record["train_loss"], tokens=epoch_tokens, seconds=seconds,
                )
            except EndpointNotFoundError as error:
                if not warned:
                    print(f"warning: held-out losses are not reported: {error}", file=sys.stderr)
                    warned = True
        log.write(record)
        print(json.dumps(record), file=sys.stderr)

    state = lora_state(model)
    if args.save is not None and rank == 0:
        torch.save(state, args.save)
    summary = {
        "type": "end", "run": run_id, "rank": rank, "steps": steps_done, "tokens": total_tokens,
        "seconds": round(total_seconds, 3),
        "tokens_per_s": round(total_tokens / total_seconds, 1) if total_seconds > 0 else None,
        "lora_digest": digest(state), "savings": client.savings(run_id)["total"],
    }
    log.write(summary)
    print(json.dumps(summary))
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
