"""One LoRA training step of stories260K in PyTorch (CPU), the baseline bench/train.ts compares
against: batch B x T tokens (T - 1 predicted positions), LoRA rank 8 on wq, wk, wv, wo, masked
next-token cross-entropy, AdamW. Prints one JSON line: tokens/s over the median step.

    OMP_WAIT_POLICY=PASSIVE python3 bench/torch/lora_step.py --checkpoint stories260K.bin
"""
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn.functional as F


def load_llama2c(path):
    with open(path, "rb") as f:
        dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("7i", f.read(28))
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    shared = vocab > 0
    vocab = abs(vocab)
    kv_dim = dim * n_kv // n_heads
    hs = dim // n_heads
    offset = 0

    def take(*shape):
        nonlocal offset
        n = math.prod(shape)
        t = data[offset:offset + n].view(*shape).clone()
        offset += n
        return t

    w = {"emb": take(vocab, dim), "att_norm": take(n_layers, dim), "wq": take(n_layers, dim, dim),
         "wk": take(n_layers, kv_dim, dim), "wv": take(n_layers, kv_dim, dim), "wo": take(n_layers, dim, dim),
         "ffn_norm": take(n_layers, dim), "w1": take(n_layers, hidden, dim), "w2": take(n_layers, dim, hidden),
         "w3": take(n_layers, hidden, dim), "norm": take(dim)}
    take(seq_len, hs // 2)
    take(seq_len, hs // 2)
    w["out"] = w["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab, seq_len=seq_len)
    return cfg, w


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


def rope(x, cos, sin):
    # x (B, T, H, hs): consecutive pairs rotate together (llama2.c)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)


def forward(cfg, w, lora, ids, scale):
    B, T = ids.shape
    H, KV = cfg["n_heads"], cfg["n_kv"]
    hs = cfg["dim"] // H
    freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
    ang = torch.outer(torch.arange(T).float(), freqs)
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    mask = torch.full((T, T), float("-inf")).triu(1)
    x = w["emb"][ids]
    for l in range(cfg["n_layers"]):
        h = rms(x, w["att_norm"][l])

        def proj(name, inp):
            a, b = lora[name][l]
            return inp @ w[name][l].T + (inp @ a.T) @ b.T * scale

        q = rope(proj("wq", h).view(B, T, H, hs), cos, sin)
        k = rope(proj("wk", h).view(B, T, KV, hs), cos, sin)
        v = proj("wv", h).view(B, T, KV, hs)
        k = k.repeat_interleave(H // KV, dim=2)
        v = v.repeat_interleave(H // KV, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + proj("wo", y)
        h = rms(x, w["ffn_norm"][l])
        x = x + (F.silu(h @ w["w1"][l].T) * (h @ w["w3"][l].T)) @ w["w2"][l].T
    return rms(x, w["norm"]) @ w["out"].T


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "0")) or None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg, w = load_llama2c(args.checkpoint)
    r = args.rank
    lora = {}
    for name, out in (("wq", cfg["dim"]), ("wk", cfg["dim"] * cfg["n_kv"] // cfg["n_heads"]),
                      ("wv", cfg["dim"] * cfg["n_kv"] // cfg["n_heads"]), ("wo", cfg["dim"])):
        lora[name] = [(torch.empty(r, cfg["dim"]).uniform_(-0.1, 0.1).requires_grad_(),
                       torch.zeros(out, r).requires_grad_()) for _ in range(cfg["n_layers"])]
    params = [t for pairs in lora.values() for pair in pairs for t in pair]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.01)
    ids = torch.randint(3, cfg["vocab"], (args.batch, args.tokens))
    target_mask = torch.ones(args.batch, args.tokens - 1)
    target_mask[:, :32] = 0
    weights = torch.ones(args.batch)
    times = []
    for _ in range(args.steps + 2):
        t0 = time.perf_counter()
        logits = forward(cfg, w, lora, ids, 16 / r)
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, cfg["vocab"]), ids[:, 1:].reshape(-1), reduction="none")
        per_example = (nll.view(args.batch, -1) * target_mask).sum(1) / target_mask.sum(1)
        loss = (per_example * weights).sum() / args.batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    step = sorted(times[2:])[len(times[2:]) // 2]
    positions = args.batch * (args.tokens - 1)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "step_ms": step * 1000,
                      "tokens_per_s": positions / step}))


if __name__ == "__main__":
    main()
