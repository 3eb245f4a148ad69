"""The connection's own WebSocket framing of client frames (one write for many frames).

Checked against websockets' parser, which is what a server reads them with: every frame is a
final, masked binary frame whose payload unmasks to the original, and no masking key repeats.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from quicko.client import connection
from quicko.client.connection import _client_frames, _MaskKeys


def parse_all(data: bytes, count: int) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    for _ in range(count):
        parser: Generator[None, None, Frame] = Frame.parse(
            reader.read_exact, mask=True, max_size=None
        )
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:  # pragma: no cover - the whole input was fed
            raise AssertionError("incomplete frame")
    assert reader.at_eof()
    return frames


@pytest.mark.parametrize("sizes", [[0], [1, 125], [126, 65535], [65536], [3, 200, 70000, 5]])
def test_frames_parse_back_masked_and_unchanged(sizes: list[int]) -> None:
    payloads = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    data = _client_frames(payloads, _MaskKeys())
    frames = parse_all(data, len(payloads))
    assert [(f.opcode, f.fin, f.data) for f in frames] == [
        (Opcode.BINARY, True, p) for p in payloads
    ]


def test_mask_keys_are_fresh_and_drawn_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []
    real = secrets.token_bytes

    def counting(size: int) -> bytes:
        draws.append(size)
        return real(size)

    monkeypatch.setattr(secrets, "token_bytes", counting)
    masks = _MaskKeys()
    keys = [masks.take() for _ in range(2 * connection._MASK_BLOCK_BYTES // 4 + 1)]
    assert draws == [connection._MASK_BLOCK_BYTES] * 3
    assert all(len(key) == 4 for key in keys)
    # Each key is the next 4 bytes of a block, never reused: random 32-bit keys (an occasional
    # chance collision among 2,049 is allowed; a reused position would repeat them all).
    assert len(set(keys)) > len(keys) * 0.99
