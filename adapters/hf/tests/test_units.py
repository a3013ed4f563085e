"""Unit tests that need no server: the loss helper, the schedule (against the TypeScript one), the
sampler over a fake client, the plan's binary form, and the example Llama.

    PYTHONPATH=adapters/hf:adapters/hf/examples python3 -m unittest discover -s adapters/hf/tests -p 'test_units.py'
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import unittest
from array import array
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from infobatch_hf import (
    EpochNotOpenError,
    InfoBatchSampler,
    Share,
    decode_share,
    infobatch_loss,
    labels_from_mask,
    learning_rate_at,
    per_example_loss,
    progress_at,
)
from llama import Llama, add_lora, causal_attention, load_llama2c, lora_state, save_llama2c, tiny_config


class FakeClient:
    """Serves fixed shares per epoch; epochs not in `shares` are not open yet."""

    def __init__(self, shares: dict[int, tuple[list[int], list[float]]]) -> None:
        self.shares = shares
        self.requests: list[tuple[int, int, Optional[int]]] = []

    def plan(self, run_id: str, epoch: int, rank: int, world: Optional[int] = None, *, wait: float = 0.0) -> Share:
        self.requests.append((epoch, rank, world))
        if epoch not in self.shares:
            raise EpochNotOpenError(
                method="GET", url="fake", status=409, code="epoch_not_open", message=f"epoch {epoch}"
            )
        ids, weights = self.shares[epoch]
        return Share(epoch=epoch, rank=rank, world=world, ids=array("I", ids), weights=array("f", weights))


class LossTest(unittest.TestCase):
    def test_per_example_loss_is_the_mean_over_each_rows_targets(self) -> None:
        g = torch.Generator().manual_seed(1)
        logits = torch.randn(2, 5, 7, generator=g)
        labels = torch.tensor([[-100, -100, 3, 4, -100], [-100, 1, 2, 3, 6]])
        got = per_example_loss(logits, labels)
        for row in range(2):
            terms = [
                F.cross_entropy(logits[row, t - 1 : t], labels[row, t : t + 1])
                for t in range(1, 5)
                if labels[row, t] != -100
            ]
            self.assertAlmostEqual(float(got[row]), float(torch.stack(terms).mean()), places=5)
        unshifted = per_example_loss(logits[:, :-1], labels[:, 1:], shift=False)
        torch.testing.assert_close(unshifted, got)

    def test_half_precision_logits_give_float32_losses(self) -> None:
        logits = torch.randn(3, 6, 11, generator=torch.Generator().manual_seed(2))
        labels = torch.randint(0, 11, (3, 6), generator=torch.Generator().manual_seed(3))
        reference = per_example_loss(logits.bfloat16().float(), labels)
        got = per_example_loss(logits.bfloat16(), labels)
        self.assertEqual(got.dtype, torch.float32)
        torch.testing.assert_close(got, reference)

    def test_a_row_without_targets_is_refused_by_name(self) -> None:
        labels = torch.tensor([[1, 2, 3], [-100, -100, -100]])
        with self.assertRaisesRegex(ValueError, r"rows \[1\] .* no target token"):
            per_example_loss(torch.zeros(2, 3, 5), labels)

    def test_weighted_loss_is_sum_of_weighted_means_over_batch_size(self) -> None:
        logits = torch.randn(4, 6, 9, generator=torch.Generator().manual_seed(4), requires_grad=True)
        labels = torch.randint(0, 9, (4, 6), generator=torch.Generator().manual_seed(5))
        out = infobatch_loss(logits, labels, [1.0, 2.0, 1.0, 2.0])
        l = per_example_loss(logits, labels)
        self.assertAlmostEqual(float(out.loss), float((l[0] + 2 * l[1] + l[2] + 2 * l[3]) / 4), places=5)
        self.assertFalse(out.per_example.requires_grad)
        out.loss.backward()
        self.assertIsNotNone(logits.grad)
        with self.assertRaisesRegex(ValueError, "one weight per example"):
            infobatch_loss(logits, labels, [1.0, 2.0])

    def test_labels_from_mask(self) -> None:
        ids = torch.tensor([[1, 5, 6, 7]])
        self.assertEqual(labels_from_mask(ids, torch.tensor([[0, 0, 1, 1]])).tolist(), [[-100, -100, 6, 7]])


class ScheduleTest(unittest.TestCase):
    def test_matches_the_typescript_schedule(self) -> None:
        path = os.environ.get("INFOBATCH_SCHEDULE_TABLE")
        if not path:
            self.skipTest("INFOBATCH_SCHEDULE_TABLE not set (hf.test.ts writes it)")
        table = json.loads(Path(path).read_text())
        for row in table:
            progress = progress_at(row["epoch"], row["step"], row["steps"], row["epochs"])
            self.assertEqual(progress, row["progress"])
            lr = learning_rate_at(progress, row["lr"], warmup_fraction=row["warmup"])
            self.assertTrue(math.isclose(lr, row["rate"], rel_tol=1e-12, abs_tol=1e-18), (row, lr))

    def test_ends_at_zero_on_the_true_last_step(self) -> None:
        steps = [10, 7, 4]  # pruned epochs are shorter, known when each starts
        rates = [
            learning_rate_at(progress_at(e, s, n, len(steps)), 1e-2)
            for e, n in enumerate(steps)
            for s in range(n)
        ]
        self.assertGreater(rates[0], 0)
        self.assertLess(rates[0], rates[1])  # warming up
        self.assertLessEqual(max(rates), 1e-2)
        self.assertLess(abs(rates[-1]), 1e-18)  # cosine reaches 0 at the last step


class SamplerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = FakeClient(
            {0: ([4, 0, 3, 1, 2], [1, 2, 1, 2, 1]), 1: ([3, 0, 2], [1, 1, 2])}
        )

    def make(self) -> InfoBatchSampler:
        return InfoBatchSampler(self.client, "run-1", rank=1, world=2, wait=0)  # type: ignore[arg-type]

    def test_length_is_known_before_the_epoch_and_follows_set_epoch(self) -> None:
        sampler = self.make()
        self.assertEqual(len(sampler), 5)
        self.assertEqual(sampler.steps(2), 3)
        self.assertEqual(sampler.steps(2, drop_last=True), 2)
        self.assertEqual(list(sampler), [4, 0, 3, 1, 2])
        sampler.set_epoch(1)
        self.assertEqual(len(sampler), 3)
        self.assertEqual(self.client.requests, [(0, 1, 2), (1, 1, 2)])
        sampler.set_epoch(2)
        with self.assertRaises(EpochNotOpenError):
            len(sampler)

    def test_batches_carry_plan_weights_and_steps(self) -> None:
        sampler = self.make()
        batches = list(sampler.batches(2))
        self.assertEqual([b.step for b in batches], [0, 1, 2])
        self.assertEqual([b.ids for b in batches], [[4, 0], [3, 1], [2]])
        self.assertEqual(batches[1].weights.tolist(), [1.0, 2.0])
        self.assertEqual(sampler.weights_for(torch.tensor([1, 0])).tolist(), [2.0, 2.0])
        self.assertEqual(sampler.position_of([2, 4]).tolist(), [4, 0])
        with self.assertRaisesRegex(KeyError, r"\[7\] are not in rank 1's share of epoch 0"):
            sampler.weights_for([7])

    def test_a_share_repeating_an_id_maps_it_to_its_first_position(self) -> None:
        client = FakeClient({0: ([5, 2, 5, 7], [1, 2, 1, 1]), 1: ([], [])})
        sampler = InfoBatchSampler(client, "r", rank=0, world=1)  # type: ignore[arg-type]
        self.assertEqual(sampler.position_of([5, 2, 7]).tolist(), [0, 1, 3])
        sampler.set_epoch(1)
        self.assertEqual((len(sampler), list(sampler.batches(2))), (0, []))

    def test_state_dict_resumes_mid_epoch(self) -> None:
        sampler = self.make()
        it = iter(sampler)
        self.assertEqual([next(it), next(it)], [4, 0])
        state = sampler.state_dict()
        self.assertEqual(state, {"version": 1, "run_id": "run-1", "rank": 1, "world": 2, "epoch": 0, "position": 2})
        restored = self.make()
        restored.load_state_dict(json.loads(json.dumps(state)))
        self.assertEqual(list(restored), [3, 1, 2])
        restored = self.make()
        restored.load_state_dict({**state, "position": 2})
        self.assertEqual([b.step for b in restored.batches(2)], [1, 2])
        self.assertEqual(sampler.state_dict(consumed=0)["position"], 0)

    def test_load_state_dict_refuses_other_runs_and_shapes(self) -> None:
        state = self.make().state_dict()
        for change, pattern in (
            ({"run_id": "other"}, "run_id 'other'"),
            ({"rank": 0}, "rank 0"),
            ({"world": 4}, "world 4"),
            ({"position": -1}, "position"),
            ({"version": 9}, "version 9"),
        ):
            with self.assertRaisesRegex(ValueError, pattern):
                self.make().load_state_dict({**state, **change})
        with self.assertRaisesRegex(ValueError, "keys"):
            self.make().load_state_dict({"epoch": 0})

    def test_draws_no_global_random_numbers(self) -> None:
        before = torch.get_rng_state()
        sampler = self.make()
        list(sampler.batches(2))
        self.assertTrue(torch.equal(before, torch.get_rng_state()))

    def test_checks_rank_and_world(self) -> None:
        with self.assertRaises(ValueError):
            InfoBatchSampler(self.client, "r", rank=2, world=2)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            InfoBatchSampler(self.client, "r", rank=0)  # type: ignore[arg-type]
        sampler = InfoBatchSampler(self.client, "r")  # type: ignore[arg-type]
        self.assertEqual((sampler.rank, sampler.world), (0, 1))  # torch.distributed not initialised


class ShareBytesTest(unittest.TestCase):
    def test_decodes_the_binary_plan(self) -> None:
        payload = struct.pack("<I3I3f", 3, 7, 2**32 - 1, 0, 1.0, 2.0, 0.5)
        ids, weights = decode_share(payload)
        self.assertEqual(list(ids), [7, 2**32 - 1, 0])
        self.assertEqual(list(weights), [1.0, 2.0, 0.5])
        with self.assertRaisesRegex(ValueError, "does not hold 3"):
            decode_share(payload[:-1])


class LlamaTest(unittest.TestCase):
    def test_blocked_attention_equals_the_plain_formula(self) -> None:
        g = torch.Generator().manual_seed(6)
        B, T, H, KV, hs = 2, 70, 4, 2, 8
        q, k, v = torch.randn(B, T, H, hs, generator=g), torch.randn(B, T, KV, hs, generator=g), torch.randn(B, T, KV, hs, generator=g)
        kk, vv = k.repeat_interleave(H // KV, 2), v.repeat_interleave(H // KV, 2)
        scores = torch.einsum("bthd,bshd->bhts", q, kk) / math.sqrt(hs)
        scores = scores + torch.full((T, T), float("-inf")).triu(1)
        expected = torch.einsum("bhts,bshd->bthd", scores.softmax(-1), vv).reshape(B, T, H * hs)
        torch.testing.assert_close(causal_attention(q, k, v, block=16), expected)
        torch.testing.assert_close(causal_attention(q, k, v, block=64), expected)

    def test_cached_generation_equals_full_forwards(self) -> None:
        model = Llama.random(tiny_config(), torch.Generator().manual_seed(7)).eval()
        tokens = torch.randint(0, 64, (1, 20), generator=torch.Generator().manual_seed(8))
        with torch.no_grad():
            full = model(tokens)
            from llama import KVCache

            cache = KVCache(model.config, 1)
            first = model(tokens[:, :12], cache, 0)
            rest = torch.cat([model(tokens[:, t : t + 1], cache, t) for t in range(12, 20)], 1)
        torch.testing.assert_close(torch.cat([first, rest], 1), full, rtol=1e-4, atol=1e-5)

    def test_lora_starts_at_the_base_model_and_trains_only_adapters(self) -> None:
        before = torch.get_rng_state()
        model = Llama.random(tiny_config(), torch.Generator().manual_seed(9))
        tokens = torch.randint(0, 64, (2, 10), generator=torch.Generator().manual_seed(10))
        base = model(tokens).detach()
        params = add_lora(model, rank=4, alpha=8, generator=torch.Generator().manual_seed(11))
        self.assertTrue(torch.equal(before, torch.get_rng_state()), "the global RNG was used")
        torch.testing.assert_close(model(tokens), base)
        self.assertEqual(len(params), 2 * 4 * model.config.n_layers)
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.assertEqual(trainable, set(lora_state(model)))

    def test_llama2c_files_round_trip(self) -> None:
        model = Llama.random(tiny_config(), torch.Generator().manual_seed(12)).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tiny.bin"
            save_llama2c(model, path)
            loaded = load_llama2c(path).eval()
            tokens = torch.randint(0, 64, (1, 16), generator=torch.Generator().manual_seed(13))
            torch.testing.assert_close(loaded(tokens), model(tokens))
            path.write_bytes(path.read_bytes()[:-4])
            with self.assertRaisesRegex(ValueError, "expected .* floats after the header"):
                load_llama2c(path)


if __name__ == "__main__":
    unittest.main()
