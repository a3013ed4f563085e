"""Greedy generation from a llama2.c checkpoint, as ``./run model.bin -z tok.bin -t 0.0`` does it,
and a check against the reference output that the checkpoint's README records.

    python3 generate.py --checkpoint stories260K.bin --tokenizer tok512.bin
    python3 generate.py --checkpoint stories260K.bin --tokenizer tok512.bin --check stories260K.md

With ``--check`` it exits 1 unless the text equals the code block after the ``./run … -t 0.0``
command in the given markdown file, token for token.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from llama import load_llama2c
from tokenizer import BOS_ID, Llama2cTokenizer

COMMAND = "$ ./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0"


def reference_text(markdown: Path, command: str = COMMAND) -> str:
    """The lines printed after `command` in `markdown`, up to the closing code fence."""
    lines = markdown.read_text(encoding="utf-8").split("\n")
    if command not in lines:
        raise ValueError(f'"{command}" not found in {markdown}')
    start = lines.index(command)
    end = lines.index("```", start)
    return "\n".join(lines[start + 1 : end])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--steps", type=int, default=256, help="positions in all, as run.c -n (default 256)")
    parser.add_argument("--check", type=Path, help="markdown file holding the reference output")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    model = load_llama2c(args.checkpoint).eval()
    tokenizer = Llama2cTokenizer.load(args.tokenizer)
    started = time.perf_counter()
    ids = model.generate_greedy([BOS_ID], args.steps, stop=[BOS_ID])
    seconds = time.perf_counter() - started
    text = tokenizer.decode([BOS_ID, *ids])
    print(text)
    print(json.dumps({"tokens": len(ids), "seconds": round(seconds, 3), "first_ids": ids[:10]}), file=sys.stderr)
    if args.check is not None:
        expected = reference_text(args.check)
        if text != expected:
            at = next((i for i, (a, b) in enumerate(zip(text, expected)) if a != b), min(len(text), len(expected)))
            print(
                f"MISMATCH at character {at}: got {text[at:at + 40]!r}, expected {expected[at:at + 40]!r}",
                file=sys.stderr,
            )
            return 1
        print(f"OK: {len(ids)} tokens equal the reference output of {args.check.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
