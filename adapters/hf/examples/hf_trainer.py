"""The Hugging Face path end to end: a Llama (transformers) with PEFT LoRA trained by the
`Trainer`, with InfoBatch (``--mode infobatch``: `InfoBatchTrainer` against the control plane) or
without (``--mode full``: the plain `Trainer` on all data). Prints one JSON line: wall seconds,
tokens trained, tokens/s, and the held-out loss (mean of per-example response-token means).

    python3 adapters/hf/examples/hf_trainer.py --server http://127.0.0.1:8787 --mode infobatch
    python3 adapters/hf/examples/hf_trainer.py --mode full

Data: pre-tokenized JSONL (``--train``/``--heldout``, as export-jsonl.ts writes it) or, by
default, synthetic examples of varied difficulty. Model: ``--model PATH`` (a local
transformers checkpoint) or a randomly initialised Llama of ``--size`` (no download needed).
Needs transformers >= 4.46, accelerate and peft. Under torchrun each process is one rank.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # infobatch_hf from a checkout

from infobatch_hf import ControlPlaneClient, labels_from_mask, per_example_loss  # noqa: E402

Example = dict[str, list[int]]


def synthetic(n: int, vocab: int, seed: int) -> list[Example]:
    """BOS, a random prompt, then an easy (repeated pair) or hard (random) response, EOS."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        prompt = torch.randint(3, vocab, (int(torch.randint(8, 32, (1,), generator=g)),), generator=g).tolist()
        length = int(torch.randint(32, 224, (1,), generator=g))
        if i % 2 == 0:
            response = [10 + (t % 2) for t in range(length)]
        else:
            response = torch.randint(3, vocab, (length,), generator=g).tolist()
        ids = [1, *prompt, *response, 2]
        out.append({"ids": ids, "mask": [0] * (1 + len(prompt)) + [1] * (len(response) + 1)})
    return out


def read_jsonl(path: Path) -> list[Example]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Examples(torch.utils.data.Dataset):
    """Item i = example id i, as the model's inputs (labels -100 on prompt tokens)."""

    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ids = torch.tensor(self.examples[i]["ids"])
        return {"input_ids": ids, "labels": labels_from_mask(ids, torch.tensor(self.examples[i]["mask"]))}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Right padding: pad id 0, attention mask 0, label -100."""
    T = max(len(item["input_ids"]) for item in items)
    batch = {
        "input_ids": torch.zeros(len(items), T, dtype=torch.long),
        "attention_mask": torch.zeros(len(items), T, dtype=torch.long),
        "labels": torch.full((len(items), T), -100, dtype=torch.long),
    }
    for row, item in enumerate(items):
        n = len(item["input_ids"])
        batch["input_ids"][row, :n] = item["input_ids"]
        batch["attention_mask"][row, :n] = 1
        batch["labels"][row, :n] = item["labels"]
    return batch


SIZES = {  # hidden, layers, heads, kv heads, intermediate
    "tiny": (256, 4, 4, 2, 688),
    "small": (768, 12, 12, 4, 2048),
    "medium": (1536, 16, 16, 8, 4096),
}


def build_model(args: argparse.Namespace) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if args.model:
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    else:
        hidden, layers, heads, kv, inter = SIZES[args.size]
        config = LlamaConfig(
            vocab_size=args.vocab, hidden_size=hidden, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=kv, intermediate_size=inter,
            max_position_embeddings=512, tie_word_embeddings=True,
        )
        torch.manual_seed(args.seed)  # a script, not a library: it owns the global RNG
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


@torch.no_grad()
def held_out_loss(model: Any, examples: list[Example], device: torch.device, batch_size: int) -> float:
    model.eval()
    data = Examples(examples)
    total = 0.0
    for start in range(0, len(data), batch_size):
        batch = collate([data[i] for i in range(start, min(len(data), start + batch_size))])
        labels = batch.pop("labels").to(device)
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        total += float(per_example_loss(logits, labels).sum())
    return total / len(data)


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["infobatch", "full"], required=True)
    p.add_argument("--server", default="http://127.0.0.1:8787")
    p.add_argument("--train", type=Path)
    p.add_argument("--heldout", type=Path)
    p.add_argument("--synthetic", type=int, default=4096, help="examples when no --train is given")
    p.add_argument("--model", help="a local transformers checkpoint (default: a random Llama)")
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16, help="per device")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from transformers import Trainer, TrainingArguments

    from infobatch_hf.hf import InfoBatchTrainer

    train = read_jsonl(args.train) if args.train else synthetic(args.synthetic, args.vocab, args.seed)
    heldout = read_jsonl(args.heldout) if args.heldout else synthetic(256, args.vocab, args.seed + 1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    training = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="infobatch-hf-"),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        warmup_ratio=0.05,
        lr_scheduler_type="cosine",
        weight_decay=0.01,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        max_grad_norm=0.0,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        logging_steps=50,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=args.seed,
        dataloader_drop_last=False,
    )
    model = build_model(args)
    common = dict(model=model, args=training, train_dataset=Examples(train), data_collator=collate)
    if args.mode == "infobatch":
        client = ControlPlaneClient(args.server)
        run = client.create_run(
            {
                "name": "hf_trainer", "trainer": "remote",
                "dataset": {"size": len(train), "lengths": [len(e["ids"]) for e in train]},
                "engine": {"epochs": args.epochs, "seed": args.seed},
                "world": world, "batchSize": args.batch_size,
            }
        ) if training.process_index == 0 else None
        run_id = _broadcast(run["id"] if run else "", world)
        trainer: Any = InfoBatchTrainer(**common, client=client, run_id=run_id)
    else:
        trainer = Trainer(**common)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    if args.mode == "infobatch":
        tokens = client.savings(run_id)["total"]["tokens"]["trained"]
    else:
        tokens = args.epochs * sum(len(e["ids"]) for e in train)
    if training.process_index == 0:
        loss = held_out_loss(trainer.model, heldout, training.device, args.batch_size)
        print(json.dumps({
            "mode": args.mode, "world": world, "examples": len(train), "epochs": args.epochs,
            "seconds": round(seconds, 2), "tokens": tokens, "tokens_per_s": round(tokens / seconds),
            "held_out_loss": round(loss, 4),
        }))
    return 0


def _broadcast(value: str, world: int) -> str:
    """Rank 0's run id to every rank (the Trainer's process group is up by now)."""
    if world == 1:
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
