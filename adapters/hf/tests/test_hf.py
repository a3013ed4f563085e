"""InfoBatchTrainer end to end on a tiny random Llama (no download), where transformers is
installed (skipped otherwise). Needs INFOBATCH_URL.

    INFOBATCH_URL=http://127.0.0.1:8787 PYTHONPATH=adapters/hf python3 -m unittest adapters/hf/tests/test_hf.py
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import unittest
from typing import Any

import torch

from infobatch_hf import ControlPlaneClient, labels_from_mask

URL = os.environ.get("INFOBATCH_URL", "")
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


class Examples(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.items = []
        for i in range(n):
            length = int(torch.randint(6, 20, (1,), generator=g))
            body = [10 + t % 2 for t in range(length)] if i % 2 == 0 else torch.randint(3, 64, (length,), generator=g).tolist()
            ids = torch.tensor([1, 5, 6, *body, 2])
            mask = torch.tensor([0, 0, 0] + [1] * (length + 1))
            self.items.append({"input_ids": ids, "labels": labels_from_mask(ids, mask)})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    T = max(len(x["input_ids"]) for x in items)
    out = {"input_ids": torch.zeros(len(items), T, dtype=torch.long),
           "attention_mask": torch.zeros(len(items), T, dtype=torch.long),
           "labels": torch.full((len(items), T), -100, dtype=torch.long)}
    for row, x in enumerate(items):
        n = len(x["input_ids"])
        out["input_ids"][row, :n] = x["input_ids"]
        out["attention_mask"][row, :n] = 1
        out["labels"][row, :n] = x["labels"]
    return out


@unittest.skipUnless(HAS_TRANSFORMERS and URL, "needs transformers and INFOBATCH_URL")
class InfoBatchTrainerTest(unittest.TestCase):
    def test_trains_the_plans_reports_every_example_and_ends_the_schedule(self) -> None:
        from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments

        from infobatch_hf.hf import InfoBatchTrainer

        config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
        client = ControlPlaneClient(URL)
        data = Examples(40)
        run = client.create_run({"trainer": "remote", "dataset": {"size": len(data)},
                                 "engine": {"epochs": 4, "seed": 2}, "batchSize": 8})
        args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=8,
                                 num_train_epochs=4, learning_rate=1e-2, warmup_ratio=0.05,
                                 save_strategy="no", report_to=[], use_cpu=True, logging_steps=1000)
        trainer = InfoBatchTrainer(model=model, args=args, train_dataset=data, data_collator=collate,
                                   client=client, run_id=run["id"])
        lrs: list[float] = []
        original = trainer.create_scheduler

        def record(*a: Any, **k: Any) -> Any:
            scheduler = original(*a, **k)
            step = scheduler.optimizer.step

            def stepped(*sa: Any, **sk: Any) -> Any:
                lrs.append(scheduler.optimizer.param_groups[0]["lr"])
                return step(*sa, **sk)

            scheduler.optimizer.step = stepped
            return scheduler

        trainer.create_scheduler = record  # type: ignore[method-assign]
        trainer.train()
        savings = client.savings(run["id"])
        trained = [e["examples"]["trained"] for e in savings["epochs"]]
        self.assertEqual(trained[0], 40)
        self.assertLess(trained[1], 40)  # pruned
        self.assertEqual(client.get_run(run["id"])["status"], "completed")
        steps = sum(-(-n // 8) for n in trained)
        self.assertEqual(len(lrs), steps)  # one LR per optimizer step, the pruned epochs' count
        self.assertGreater(lrs[0], 0)
        self.assertLess(lrs[-1], 1e-2 * 0.05)  # cosine ends near 0 at the true last step


if __name__ == "__main__":
    unittest.main()
