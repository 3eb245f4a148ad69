"""The relay's hot modules compiled with mypyc behave as their sources (docs/relay.md).

``scripts/compile.sh`` builds :data:`quicko.relay.compiled.HOT_MODULES` as C extensions beside
their sources; Python then imports those. The test suite runs the pure-Python path by default
(nothing is compiled in a fresh clone), so the tests marked ``compiled`` below skip there, with
the reason; after ``scripts/compile.sh`` they check that the extensions are what the relay runs
and that a real relay on them forwards, acknowledges, numbers and rate-limits as it does in
Python. (The router's unit tests, ``tests/unit/relay``, run on whatever is importable: run them
after compiling too.) The last test runs on both paths: ``quicko relay`` says which it uses.
"""

from __future__ import annotations

import types

import pytest
from relay_support import StartRelay, exchange_both_ways, joined_pair, spawn_relay

from quicko.protocol import (
    Ack,
    AckStatus,
    ErrorCode,
    Message,
    Ping,
    Pong,
    Received,
    encode_frame,
)
from quicko.relay import flow, frames
from quicko.relay.compiled import HOT_MODULES, compiled_modules, hot_path, native_built

_COMPILED = all(compiled_modules().values())
compiled = pytest.mark.skipif(
    not _COMPILED,
    reason="the relay's hot modules are not compiled (pure Python, the default): "
    "run scripts/compile.sh (mypyc) to test the compiled ones",
)


@compiled
def test_the_hot_modules_are_the_compiled_extensions() -> None:
    assert set(compiled_modules()) == set(HOT_MODULES)
    assert hot_path() in {"compiled", "compiled+native"}  # scripts/compile.sh builds both
    for module in (frames, flow):
        assert not (module.__file__ or "").endswith(".py"), module.__file__
    # Compiled functions are builtins, not Python functions with bytecode.
    assert not isinstance(frames.route_fields, types.FunctionType)
    assert not isinstance(flow.FlowLimiter.charge, types.FunctionType)


@compiled
async def test_a_relay_on_the_compiled_modules_forwards_acknowledges_and_slows_down(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay()  # the default limits: 30 frames/s, burst 60 per address
    alice, bob, session = await joined_pair(relay)
    # Both ways, one at a time: the frame arrives unchanged, the sender hears ACCEPTED.
    await exchange_both_ways(alice, bob, session, [(0, b"hi")] * 10)
    # A backlog over the rate in one write: slowed down (reads paused), nothing dropped.
    backlog = [
        Message(session, alice.address, bob.address, (100 + n).to_bytes(16, "big"), 0, b"x" * 99)
        for n in range(150)
    ]
    for message in backlog:
        alice.ws.protocol.send_binary(encode_frame(message))
    alice.ws.send_data()
    assert [await bob.expect(Message) for _ in backlog] == backlog
    assert {(await alice.expect(Ack)).status for _ in backlog} == {AckStatus.ACCEPTED}
    metrics = relay.router.metrics
    assert metrics.reads_paused > 0
    assert metrics.rate_limited == 0 and ErrorCode.RATE_LIMITED not in metrics.rejections
    # Received in its usual encoding (frames.received_count): bob has all 170 routed frames.
    await bob.send(Received(10 + len(backlog) + 10))
    await bob.send(Ping(7))
    assert (await bob.expect(Pong, timeout=10)).nonce == 7
    assert relay.router.metrics.frames_in[int(Message.TYPE)] == 20 + len(backlog)


async def test_quicko_relay_says_which_hot_path_it_runs() -> None:
    relay = await spawn_relay()
    try:
        # The subprocess imports the same sources as this one.
        assert relay.listening["hot_path"] == hot_path()
        expected = "compiled" if _COMPILED else "python"
        assert relay.listening["hot_path"] == expected + ("+native" if native_built() else "")
    finally:
        relay.process.terminate()
        await relay.process.wait()
