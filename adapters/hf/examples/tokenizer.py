"""Decoding with a llama2.c ``tok*.bin`` tokenizer, exactly as run.c's ``decode`` does it.

Only decoding lives here: the training data arrives pre-tokenized from the Node side (the project's
tokenizers encode), and checking the reference generation needs ids -> text.

File format: int32 ``max_token_length``, then per token: float32 score, int32 byte length, bytes
(little-endian), until the end of the file.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Sequence, Union

BOS_ID = 1
BYTE_PIECE = re.compile(rb"^<0x([0-9A-Fa-f]{2})>")


class Llama2cTokenizer:
    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)

    @staticmethod
    def load(path: Union[str, Path]) -> "Llama2cTokenizer":
        data = Path(path).read_bytes()
        if len(data) < 4:
            raise ValueError(f"{path}: shorter than the 4-byte header of a llama2.c tokenizer")
        offset = 4
        pieces: list[bytes] = []
        while offset < len(data):
            if offset + 8 > len(data):
                raise ValueError(f"{path}: truncated entry at byte {offset}")
            _score, length = struct.unpack_from("<fi", data, offset)
            offset += 8
            if length < 0 or offset + length > len(data):
                raise ValueError(f"{path}: token {len(pieces)} has length {length} past the end")
            pieces.append(data[offset : offset + length])
            offset += length
        return Llama2cTokenizer(pieces)

    def piece(self, prev: int, token: int) -> bytes:
        """run.c ``decode(prev, token)``: after BOS the leading space is dropped; ``<0xXX>``
        pieces are raw bytes."""
        if not 0 <= token < len(self.pieces):
            raise ValueError(f"token id {token} is not in 0…{len(self.pieces) - 1}")
        piece = self.pieces[token]
        if prev == BOS_ID and piece.startswith(b" "):
            piece = piece[1:]
        match = BYTE_PIECE.match(piece)
        return bytes([int(match.group(1), 16)]) if match else piece

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids[1:]``, each token decoded after its predecessor (ids[0] is the start,
        usually BOS, and prints nothing), as run.c prints a generation."""
        out = b"".join(self.piece(prev, token) for prev, token in zip(ids, ids[1:]))
        return out.decode("utf-8", errors="replace")
