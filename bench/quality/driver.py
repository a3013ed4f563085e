"""Trainer for the two quality-benchmark arms the example trainer does not cover, built from its
own parts (adapters/hf/examples/train_lora.py: data, collate, evaluate; infobatch_hf: client,
sampler, loss, schedule), so every arm trains the same model the same way.

    --subsample-tokens T0,T1,...   "random" arm: the run is a full-data run (pruneRatio 0); each
                                   epoch e trains a random subset of the server's plan (seeded
                                   generator, seed and epoch) whose tokens come closest to T_e,
                                   weight 1, then closes the epoch (POST .../close).
    --token-budget N               "full, shorter" arm: full data, weight 1, stops after S steps,
                                   S = round(N / mean tokens per full-data step); the LR schedule
                                   (5% warmup + cosine) is indexed by global step so it ends at S.

Tokens reported in each evaluation are what this process trained (BOS..EOS of every example
forwarded), not the server's plan.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "adapters" / "hf" / "examples"))

from train_lora import collate, evaluate, read_jsonl  # noqa: E402
from infobatch_hf import (  # noqa: E402
    ControlPlaneClient,
    infobatch_loss,
    learning_rate_at,
    progress_at,
)
from llama import add_lora, load_llama2c  # noqa: E402


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--train", required=True, type=Path)
    p.add_argument("--heldout", required=True, type=Path)
    p.add_argument("--server", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--warmup", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--subsample-tokens", default=None)
    mode.add_argument("--token-budget", type=int, default=None)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    model = load_llama2c(args.checkpoint)
    params = add_lora(model, rank=8, alpha=16.0, dropout=0.0, generator=generator)
    model.train()
    train = read_jsonl(args.train, model.config.seq_len)
    heldout = read_jsonl(args.heldout, model.config.seq_len)
    optimizer = torch.optim.AdamW(
        params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay
    )
    client = ControlPlaneClient(args.server)
    run = client.get_run(args.run)
    epochs = int(run["epochs"])
    B = args.batch_size

    budgets = None
    total_steps = None
    if args.subsample_tokens is not None:
        budgets = [int(x) for x in args.subsample_tokens.split(",")]
        if len(budgets) != epochs:
            raise SystemExit(f"expected {epochs} per-epoch token targets, received {len(budgets)}")
    else:
        full_tokens = sum(len(ids) for ids, _ in train)
        full_steps = math.ceil(len(train) / B)
        total_steps = max(1, round(args.token_budget / (full_tokens / full_steps)))

    global_step = 0
    for epoch in range(epochs):
        share = client.plan(args.run, epoch=epoch, rank=0, wait=120)
        ids = [int(i) for i in share.ids]
        if budgets is not None:
            rng = random.Random(args.seed * 1_000_003 + epoch)
            order = ids[:]
            rng.shuffle(order)
            chosen: list[int] = []
            tokens = 0
            for i in order:
                n = len(train[i][0])
                if tokens + n > budgets[epoch] and abs(tokens + n - budgets[epoch]) > abs(tokens - budgets[epoch]):
                    break
                chosen.append(i)
                tokens += n
            ids = chosen
        steps = math.ceil(len(ids) / B)
        if total_steps is not None:
            steps = min(steps, total_steps - global_step)
        epoch_tokens, weighted_sum, started = 0, 0.0, time.perf_counter()
        for step in range(steps):
            batch_ids = ids[step * B : (step + 1) * B]
            if total_steps is not None:
                progress = (global_step + 1) / total_steps
            else:
                progress = progress_at(epoch, step, steps, epochs)
            lr = learning_rate_at(progress, args.lr, warmup_fraction=args.warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            tokens_t, labels = collate([train[i] for i in batch_ids])
            out = infobatch_loss(model(tokens_t), labels, torch.ones(len(batch_ids)))
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            client.report_losses(
                args.run, epoch=epoch, step=step, rank=0, ids=batch_ids, losses=out.per_example.tolist()
            )
            epoch_tokens += sum(len(train[i][0]) for i in batch_ids)
            weighted_sum += float(out.loss)
            global_step += 1
        seconds = time.perf_counter() - started
        run_view = client.get_run(args.run)
        if (
            run_view["status"] == "running"
            and run_view["epoch"] == epoch
            and run_view["reported"] < run_view["planSize"]
        ):
            client.close_epoch(args.run, epoch)
        held = evaluate(model, heldout, args.eval_batch_size)
        client.report_evaluation(
            args.run, epoch=epoch, held_out_loss=held, train_loss=weighted_sum / max(1, steps),
            tokens=epoch_tokens, seconds=seconds,
        )
        record = {"type": "epoch", "epoch": epoch, "steps": steps, "examples": min(len(ids), steps * B),
                  "tokens": epoch_tokens, "seconds": round(seconds, 3), "held_out_loss": held}
        print(json.dumps(record), file=sys.stderr)
        if total_steps is not None and global_step >= total_steps:
            break
    print(json.dumps({"type": "end", "run": args.run, "steps": global_step}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
