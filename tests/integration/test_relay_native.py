"""A real relay on the native hot path (quicko.relay.native, docs/relay.md "Compiled hot path").

``scripts/compile.sh`` builds the Cython module; without it (the default) these tests skip, with
the reason. With it, a relay on a free loopback port forwards the common MESSAGE in C: the
frames arrive unchanged, the senders hear ACCEPTED, a backlog over the rate is slowed down
(the Python path takes those frames), Received frees the in-flight frames, and the counters are
those of the Python path.
"""

from __future__ import annotations

import pytest
from relay_support import StartRelay, exchange_both_ways, joined_pair

from quicko.protocol import (
    Ack,
    AckStatus,
    Error,
    ErrorCode,
    Message,
    Ping,
    Pong,
    Received,
    encode_frame,
)
from quicko.relay.compiled import native_built
from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer

native = pytest.mark.skipif(
    not native_built(),
    reason="the native hot path (quicko/relay/native.pyx) is not built (pure Python, the "
    "default): run scripts/compile.sh (Cython) to test it",
)


@native
async def test_a_relay_forwards_the_common_message_in_c(start_relay: StartRelay) -> None:
    relay = await start_relay()
    assert relay.native
    path = relay._native_path
    assert path is not None
    alice, bob, session = await joined_pair(relay)
    await exchange_both_ways(alice, bob, session, [(n, b"hi" * n) for n in range(10)])
    assert path.forwarded == 20
    # A sender that is not its address: declined in C, refused by the Python path.
    forged = Message(session, bob.address, alice.address, bytes(16), 0, b"x")
    await alice.send(forged)
    assert (await alice.expect(Error)).code == ErrorCode.SENDER_MISMATCH
    assert path.forwarded == 20
    # A backlog over the rate in one write: C forwards within the rate, Python the rest.
    backlog = [
        Message(session, alice.address, bob.address, (100 + n).to_bytes(16, "big"), 0, b"x" * 99)
        for n in range(150)
    ]
    for message in backlog:
        alice.ws.protocol.send_binary(encode_frame(message))
    alice.ws.send_data()
    assert [await bob.expect(Message) for _ in backlog] == backlog
    assert {(await alice.expect(Ack)).status for _ in backlog} == {AckStatus.ACCEPTED}
    assert 20 < path.forwarded < 20 + len(backlog)
    metrics = relay.router.metrics
    assert metrics.reads_paused > 0
    assert metrics.frames_in[int(Message.TYPE)] == 21 + len(backlog)
    assert metrics.frames_out[int(Ack.TYPE)] >= 20 + len(backlog)
    # Received (Python) frees what C kept in flight: bob has every frame sent to him.
    bob_conn = relay.router._conns.bound(bob.address)  # type: ignore[attr-defined]
    assert bob_conn is not None and len(bob_conn.inflight) == 10 + len(backlog)
    await bob.send(Received(bob_conn.sent))
    await bob.send(Ping(7))
    assert (await bob.expect(Pong, timeout=10)).nonce == 7
    assert not bob_conn.inflight and bob_conn.inflight_bytes == 0


@native
async def test_native_false_keeps_the_python_path(start_relay: StartRelay) -> None:
    relay = RelayServer(RelayConfig(host="127.0.0.1", port=0, node_id="test"), native=False)
    assert not relay.native
    assert (await start_relay()).native  # the default when built


async def test_native_true_needs_the_module_or_says_why() -> None:
    config = RelayConfig(host="127.0.0.1", port=0, node_id="test")
    if native_built():
        assert RelayServer(config, native=True).native
    else:
        with pytest.raises(RuntimeError, match="not built"):
            RelayServer(config, native=True)
