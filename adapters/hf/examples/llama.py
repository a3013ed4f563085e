"""A Llama in PyTorch as llama2.c's model.py defines it, all of it in this file: RMSNorm, RoPE on
consecutive pairs, grouped-query attention, SwiGLU, output head tied to the embedding; the legacy
llama2.c ``.bin`` checkpoint format (read and write); LoRA on the attention projections.

Why our own and not transformers': the example trainer must run on a bare Debian PyTorch, and
the llama2.c checkpoints (stories260K) are what the project benchmarks with. The forward pass is
exact enough to reproduce run.c's greedy output token for token (tests/check_stories260k.py).

Attention is computed causally in query blocks (each block only against the keys it may see),
which skips most of the masked half of the work: at B = 16, T = 256 on a 2-core CPU this measured
2.5-4x faster than one masked (T, T) product per head, with the same result.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

HEADER = struct.Struct("<7i")


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """An uninitialised bias-free Linear: weights come from a checkpoint or `Llama.random`, so
    nothing is drawn from (or perturbs) the global RNG."""
    return nn.Linear(n_in, n_out, bias=False, device="meta").to_empty(device="cpu")


@dataclass(frozen=True)
class LlamaConfig:
    dim: int = 64  # model width
    hidden_dim: int = 172  # SwiGLU inner width
    n_layers: int = 5
    n_heads: int = 8
    n_kv_heads: int = 4  # < n_heads: grouped-query attention (heads share K/V in groups)
    vocab_size: int = 512
    seq_len: int = 512  # longest sequence the model was trained on
    norm_eps: float = 1e-5  # llama2.c files imply 1e-5 and RoPE theta 10000
    rope_theta: float = 10000.0
    shared_classifier: bool = True  # output head = token embedding (llama2.c: vocab_size > 0)

    @property
    def head_size(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.head_size * self.n_kv_heads

    def check(self) -> "LlamaConfig":
        if self.dim % self.n_heads != 0 or self.n_heads % self.n_kv_heads != 0:
            raise ValueError(
                f"dim {self.dim} must divide into n_heads {self.n_heads}, and n_heads into "
                f"n_kv_heads {self.n_kv_heads}"
            )
        if self.head_size % 2 != 0:
            raise ValueError(f"RoPE needs an even head size, received {self.head_size}")
        return self


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(config: LlamaConfig, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of pos * theta^(-2i/hs), (length, hs/2) each (llama2.c precompute_freqs_cis)."""
    hs = config.head_size
    freqs = 1.0 / (config.rope_theta ** (torch.arange(0, hs, 2)[: hs // 2].float() / hs))
    angles = torch.outer(torch.arange(length).float(), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, hs): rotates the pairs (x0, x1), (x2, x3), … by each position's angles."""
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (B, T, H, hs/2)
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2)


def causal_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block: int = 64
) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs) + causal mask) v with grouped K/V.

    q (B, T, H, hs) at positions S - T … S - 1; k and v (B, S, KV, hs) at positions 0 … S - 1
    (S > T when earlier keys come from a cache) -> (B, T, H * hs). Queries of one K/V group are
    stacked into one matrix per group, and each block of `block` queries meets only the keys at or
    before its last position.
    """
    B, T, H, hs = q.shape
    S, KV = k.shape[1], k.shape[2]
    G = H // KV
    offset = S - T
    q = (q * (1.0 / math.sqrt(hs))).view(B, T, KV, G, hs).permute(0, 2, 1, 3, 4)  # (B, KV, T, G, hs)
    kt = k.permute(0, 2, 3, 1)  # (B, KV, hs, S)
    vv = v.permute(0, 2, 1, 3)  # (B, KV, S, hs)
    mask = torch.full((T, S), float("-inf"), device=q.device, dtype=q.dtype).triu(offset + 1)
    outs = []
    for start in range(0, T, block):
        end = min(T, start + block)
        n, keys = end - start, offset + end
        qb = q[:, :, start:end].reshape(B * KV, n * G, hs)  # rows: (position, head in group)
        bias = mask[start:end, :keys].repeat_interleave(G, 0)  # (n * G, keys)
        att = torch.baddbmm(bias, qb, kt[..., :keys].reshape(B * KV, hs, keys))  # (B*KV, n*G, keys)
        y = torch.bmm(att.softmax(-1), vv[:, :, :keys].reshape(B * KV, keys, hs))  # (B*KV, n*G, hs)
        outs.append(y.view(B, KV, n, G, hs))
    y = torch.cat(outs, 2)  # (B, KV, T, G, hs)
    return y.permute(0, 2, 1, 3, 4).reshape(B, T, H * hs)


class KVCache:
    """Keys and values of positions already forwarded, per layer (for generation)."""

    def __init__(self, config: LlamaConfig, batch: int) -> None:
        shape = (config.n_layers, batch, config.seq_len, config.n_kv_heads, config.head_size)
        self.k = torch.zeros(shape)
        self.v = torch.zeros(shape)


class Attention(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_size = config.n_heads, config.n_kv_heads, config.head_size
        self.wq: nn.Module = _linear(config.dim, config.dim)
        self.wk: nn.Module = _linear(config.dim, config.kv_dim)
        self.wv: nn.Module = _linear(config.dim, config.kv_dim)
        self.wo: nn.Module = _linear(config.dim, config.dim)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
        start: int = 0,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q = apply_rope(self.wq(x).view(B, T, self.n_heads, self.head_size), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, self.n_kv_heads, self.head_size), cos, sin)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_size)
        if cache is not None:  # (B, seq_len, KV, hs) each: append, then attend to all so far
            cache[0][:, start : start + T] = k
            cache[1][:, start : start + T] = v
            k, v = cache[0][:, : start + T], cache[1][:, : start + T]
        return self.wo(causal_attention(q, k, v))


class FeedForward(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.w1 = _linear(config.dim, config.hidden_dim)
        self.w2 = _linear(config.hidden_dim, config.dim)
        self.w3 = _linear(config.dim, config.hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.feed_forward = FeedForward(config)
        self.attention_norm = RMSNorm(config.dim, config.norm_eps)
        self.ffn_norm = RMSNorm(config.dim, config.norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
        start: int = 0,
    ) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, cache, start)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(nn.Module):
    """The model; its weights start uninitialised: build it with `Llama.random` or
    `load_llama2c`."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config.check()
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.dim, device="meta").to_empty(device="cpu")
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.output = _linear(config.dim, config.vocab_size)
        if config.shared_classifier:
            self.output.weight = self.tok_embeddings.weight
        cos, sin = rope_tables(config, config.seq_len)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(
        self, tokens: torch.Tensor, cache: Optional[KVCache] = None, start: int = 0
    ) -> torch.Tensor:
        """tokens (B, T) int64 at positions start … start + T - 1 -> logits (B, T, V) at every
        position. With a `cache`, earlier positions' keys and values come from it (and these are
        added to it)."""
        B, T = tokens.shape
        if start + T > self.config.seq_len:
            raise ValueError(
                f"cannot forward positions up to {start + T}, the model's seq_len is {self.config.seq_len}"
            )
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        x = self.tok_embeddings(tokens)  # (B, T, dim)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if cache is None else (cache.k[i], cache.v[i]), start)
        return self.output(self.norm(x))  # (B, T, V)

    @torch.no_grad()
    def generate_greedy(self, prompt: Sequence[int], steps: int, stop: Sequence[int] = ()) -> list[int]:
        """Greedy (temperature 0) continuation of `prompt` as run.c does it: up to `steps`
        positions in all, prompt included, stopping when a token in `stop` is sampled."""
        if not prompt:
            raise ValueError("the prompt is empty: give at least the BOS token")
        if steps > self.config.seq_len:
            raise ValueError(f"{steps} steps exceed the model's seq_len {self.config.seq_len}")
        cache = KVCache(self.config, 1)
        logits = self(torch.tensor([list(prompt)]), cache, 0)[0, -1]
        position = len(prompt)
        out: list[int] = []
        while True:
            next_id = int(torch.argmax(logits))
            if next_id in stop:
                break
            out.append(next_id)
            if position >= steps:
                break
            logits = self(torch.tensor([[next_id]]), cache, position)[0, -1]
            position += 1
        return out

    @staticmethod
    def random(config: LlamaConfig, generator: torch.Generator) -> "Llama":
        """A randomly initialised model (llama2.c's init: N(0, 0.02), residual outputs scaled by
        1/sqrt(2 * n_layers)), drawn from `generator` only."""
        model = Llama(config)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("norm.weight"):
                    continue
                std = 0.02 / math.sqrt(2 * config.n_layers) if name.endswith(("wo.weight", "w3.weight")) else 0.02
                p.normal_(0.0, std, generator=generator)
        return model


# -- llama2.c .bin checkpoints (legacy "version 0" format) -------------------------------------


def _layer_tensors(model: Llama) -> Iterator[tuple[str, list[torch.Tensor]]]:
    """The per-layer weights in file order, each stacked over layers."""
    layers = list(model.layers)
    attn = [layer.attention for layer in layers]
    ffn = [layer.feed_forward for layer in layers]
    yield "attention_norm", [layer.attention_norm.weight for layer in layers]
    for name in ("wq", "wk", "wv", "wo"):
        yield name, [_base_linear(getattr(a, name)).weight for a in attn]
    yield "ffn_norm", [layer.ffn_norm.weight for layer in layers]
    for name in ("w1", "w2", "w3"):
        yield name, [getattr(f, name).weight for f in ffn]


def load_llama2c(path: Union[str, Path]) -> Llama:
    """Reads a llama2.c ``.bin``: 7 int32 header values, then float32 weights; checks the size."""
    data = Path(path).read_bytes()
    if len(data) < HEADER.size:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the 28-byte header")
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = HEADER.unpack_from(data)
    if dim == 0x616B3432:
        raise ValueError(f"{path}: a versioned llama2.c file (magic ak42); only version 0 is read")
    config = LlamaConfig(
        dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
        vocab_size=abs(vocab), seq_len=seq_len, shared_classifier=vocab > 0,
    ).check()
    model = Llama(config)
    expected = _float_count(config)
    available = (len(data) - HEADER.size) // 4
    if available != expected or (len(data) - HEADER.size) % 4:
        raise ValueError(
            f"{path}: expected {expected} floats after the header {list(HEADER.unpack_from(data))}, "
            f"file has {(len(data) - HEADER.size) / 4:g}"
        )
    floats = torch.frombuffer(bytearray(data[HEADER.size :]), dtype=torch.float32)
    offset = 0

    def take(target: torch.Tensor) -> None:
        nonlocal offset
        n = target.numel()
        with torch.no_grad():
            target.copy_(floats[offset : offset + n].view_as(target))
        offset += n

    take(model.tok_embeddings.weight)
    for _, stack in _layer_tensors(model):
        for tensor in stack:
            take(tensor)
    take(model.norm.weight)
    offset += config.seq_len * config.head_size  # legacy RoPE tables (cos, sin), recomputed
    if not config.shared_classifier:
        take(model.output.weight)
    assert offset == expected
    return model


def save_llama2c(model: Llama, path: Union[str, Path]) -> None:
    """Writes `model` (base weights; LoRA deltas are not merged) as a llama2.c ``.bin``."""
    c = model.config
    vocab = c.vocab_size if c.shared_classifier else -c.vocab_size
    parts = [HEADER.pack(c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, vocab, c.seq_len)]

    def put(t: torch.Tensor) -> None:
        parts.append(_to_bytes(t.detach().float().contiguous().flatten()))

    put(model.tok_embeddings.weight)
    for _, stack in _layer_tensors(model):
        for tensor in stack:
            put(tensor)
    put(model.norm.weight)
    cos, sin = rope_tables(c, c.seq_len)
    put(cos)
    put(sin)
    if not c.shared_classifier:
        put(model.output.weight)
    Path(path).write_bytes(b"".join(parts))


def _to_bytes(flat: torch.Tensor) -> bytes:
    """float32 bytes in the machine's order (little-endian here, as llama2.c), without numpy."""
    buffer = bytearray(flat.numel() * 4)
    if flat.numel():
        torch.frombuffer(buffer, dtype=torch.float32).copy_(flat)
    return bytes(buffer)


def _float_count(c: LlamaConfig) -> int:
    per_layer = 2 * c.dim + 2 * c.dim * c.dim + 2 * c.kv_dim * c.dim + 3 * c.hidden_dim * c.dim
    embedding = c.vocab_size * c.dim
    classifier = 0 if c.shared_classifier else embedding
    return embedding + c.n_layers * per_layer + c.dim + c.seq_len * c.head_size + classifier


# -- LoRA -----------------------------------------------------------------------------------------


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * B(A(dropout(x)))`` with the base frozen.

    A is initialised U(+-1/sqrt(in)) (PEFT's kaiming-uniform default) and B to zero, so training
    starts from the base model exactly. Dropout masks come from `generator` (no global RNG).
    """

    def __init__(
        self,
        base: nn.Linear,
        rank: int,
        alpha: float,
        generator: torch.Generator,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, received {rank}")
        if not 0 <= dropout < 1:
            raise ValueError(f"LoRA dropout must be in [0, 1), received {dropout}")
        self.base = base
        self.base.weight.requires_grad_(False)
        self.scale = alpha / rank
        self.dropout = dropout
        self.generator = generator
        bound = 1.0 / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features).uniform_(-bound, bound, generator=generator))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.training and self.dropout > 0:
            keep = torch.empty(x.shape, device=x.device).bernoulli_(1 - self.dropout, generator=self.generator)
            h = x * keep / (1 - self.dropout)
        return self.base(x) + (h @ self.lora_A.t()) @ self.lora_B.t() * self.scale


def _base_linear(module: nn.Module) -> nn.Linear:
    return module.base if isinstance(module, LoRALinear) else module  # type: ignore[return-value]


def add_lora(
    model: Llama,
    *,
    rank: int = 8,
    alpha: float = 16.0,
    targets: Sequence[str] = ("wq", "wk", "wv", "wo"),
    dropout: float = 0.0,
    generator: torch.Generator,
) -> list[nn.Parameter]:
    """Freezes every base weight and wraps the `targets` projections of each layer with LoRA.
    Returns the trainable parameters (A and B of every adapted projection, layer by layer)."""
    for p in model.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for layer in model.layers:
        for name in targets:
            owner = layer.attention if name in ("wq", "wk", "wv", "wo") else layer.feed_forward
            base = getattr(owner, name)
            if isinstance(base, LoRALinear):
                raise ValueError(f"{name} already has a LoRA adapter")
            adapted = LoRALinear(base, rank, alpha, generator, dropout)
            setattr(owner, name, adapted)
            params += [adapted.lora_A, adapted.lora_B]
    return params


def lora_state(model: Llama) -> dict[str, torch.Tensor]:
    """The adapter's tensors by module path (what a checkpoint of the fine-tune needs)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}


def tiny_config(**overrides: int) -> LlamaConfig:
    """A small config for tests: trains in milliseconds per step on one CPU thread."""
    base = LlamaConfig(dim=32, hidden_dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, seq_len=64)
    return replace(base, **overrides).check()


__all__ = [
    "LlamaConfig",
    "Llama",
    "LoRALinear",
    "add_lora",
    "causal_attention",
    "load_llama2c",
    "lora_state",
    "save_llama2c",
    "tiny_config",
]
