"""Micro-benchmark of the relay's pure router: ``python -m quicko.bench.routerbench``.

It times :meth:`quicko.relay.router.Router.receive` alone, in this process, for the relay's hot
path: a MESSAGE from one authenticated member of a two-member session to the other, both
online, with the same rate limits the load benchmark lifts (``quicko bench relay``). No
sockets, no event loop: what it measures is the Python the relay runs per forwarded frame
(decode the routing fields, check the sender and the membership, charge the two rate buckets,
keep the frame until acknowledged, build the Ack), which is the part of the relay's cost that
a bare forwarder does not pay.

Prints one line (or one JSON object with ``--json``): nanoseconds per frame, the median of
``--repeat`` runs of ``--frames`` frames each, and whether the relay's hot modules ran compiled
(``scripts/compile.sh``) or as plain Python. Acknowledging clients (``--acking``)
send a ``Received`` after every ``--ack-every`` frames, as a real client does.
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import statistics
import sys
from collections.abc import Sequence
from time import perf_counter_ns
from typing import Final

from quicko.bench.wire import MessageTemplate
from quicko.crypto.ed25519 import Ed25519KeyPair
from quicko.identity import Identity
from quicko.protocol import (
    MESSAGE_ID_SIZE,
    SESSION_ID_SIZE,
    Challenge,
    Hello,
    Join,
    Received,
    decode_frame,
    encode_frame,
    hello_transcript,
    join_transcript,
)
from quicko.relay.actions import Send
from quicko.relay.compiled import hot_path
from quicko.relay.config import RelayConfig
from quicko.relay.router import Router

__all__ = ["build_parser", "main", "measure"]

_URL: Final = "ws://127.0.0.1:9"
_T0: Final = 1_700_000_000_000
_HIGH: Final = 1_000_000_000


def _challenge(actions: Sequence[object]) -> Challenge:
    for action in actions:
        if isinstance(action, Send):
            payload = decode_frame(action.data)
            if isinstance(payload, Challenge):
                return payload
    raise RuntimeError("the router sent no Challenge")


def _login(router: Router, conn: int, identity: Identity, now_ms: int) -> Challenge:
    challenge = _challenge(router.open(conn, now_ms, "192.0.2.1"))
    public = identity.public
    transcript = hello_transcript(
        nonce=challenge.nonce,
        node_id=challenge.node_id,
        server_time=challenge.server_time,
        relay_url=_URL,
        channel_binding=b"",
        address=public.address,
        display_name=public.display_name,
        x25519_public=public.x25519_public,
        ed25519_public=public.ed25519_public,
    )
    hello = Hello(
        public.address,
        public.display_name,
        public.x25519_public,
        public.ed25519_public,
        _URL,
        identity.sign(transcript),
    )
    router.receive(conn, encode_frame(hello), now_ms)
    return challenge


def _join(
    router: Router,
    conn: int,
    challenge: Challenge,
    member: tuple[bytes, bytes, Ed25519KeyPair],
    now_ms: int,
) -> None:
    """Join *member* ``(address, session id, join key)`` on *conn*."""
    address, session_id, key = member
    transcript = join_transcript(
        nonce=challenge.nonce, node_id=challenge.node_id, session_id=session_id, address=address
    )
    join = Join(session_id, "", key.public, key.sign(transcript))
    router.receive(conn, encode_frame(join), now_ms)


def measure(frames: int, *, acking: bool = False, ack_every: int = 16) -> float:
    """Nanoseconds per forwarded MESSAGE through one fresh router (one run).

    Args:
        frames: MESSAGE frames to route (alternately from each member to the other).
        acking: the members acknowledge what they receive (``Received``), as real clients do.
        ack_every: frames between two ``Received`` of one member, with *acking*.
    """
    config = RelayConfig(
        rate=_HIGH, burst=_HIGH, idle_timeout_s=600.0, public_urls=(_URL,), node_id="bench"
    )
    router = Router(config, node_id="bench", rng=secrets.token_bytes)
    alice, bob = (Identity.generate(secrets.token_bytes) for _ in range(2))
    session_id = secrets.token_bytes(SESSION_ID_SIZE)
    key = Ed25519KeyPair.generate(secrets.token_bytes)
    now = _T0
    for conn, member in ((1, alice), (2, bob)):
        challenge = _login(router, conn, member, now)
        _join(router, conn, challenge, (member.address, session_id, key), now)
    to_bob = bytes(
        MessageTemplate(
            session_id=session_id,
            sender=alice.address,
            recipient=bob.address,
            message_id=secrets.token_bytes(MESSAGE_ID_SIZE),
        ).frame
    )
    to_alice = bytes(
        MessageTemplate(
            session_id=session_id,
            sender=bob.address,
            recipient=alice.address,
            message_id=secrets.token_bytes(MESSAGE_ID_SIZE),
        ).frame
    )
    # What the server calls per frame (``receive_fast`` where the router has it).
    receive = getattr(router, "receive_fast", router.receive)
    gc.collect()
    gc.disable()
    try:
        if not acking:
            start = perf_counter_ns()
            for i in range(frames // 2):
                receive(1, to_bob, now + (i >> 10))
                receive(2, to_alice, now + (i >> 10))
            return (perf_counter_ns() - start) / (frames // 2 * 2)
        received = [0, 0]
        start = perf_counter_ns()
        for i in range(frames // 2):
            ms = now + (i >> 10)
            receive(1, to_bob, ms)
            receive(2, to_alice, ms)
            if i % ack_every == ack_every - 1:
                # Each member got the other's frames and the Acks of its own: 2 per round.
                for conn in (1, 2):
                    received[conn - 1] += 2 * ack_every
                    receive(conn, encode_frame(Received(received[conn - 1])), ms)
        return (perf_counter_ns() - start) / (frames // 2 * 2)
    finally:
        gc.enable()


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m quicko.bench.routerbench``."""
    parser = argparse.ArgumentParser(
        prog="python -m quicko.bench.routerbench",
        description="Time the relay router's MESSAGE hot path in-process (ns per frame).",
    )
    parser.add_argument("--frames", type=int, default=200_000, help="frames per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--acking", action="store_true", help="members send Received")
    parser.add_argument("--ack-every", type=int, default=16, help="frames per Received")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the micro-benchmark; print the median ns per frame."""
    args = build_parser().parse_args(argv)
    if args.frames < 2 or args.repeat < 1 or args.ack_every < 1:
        print("frames ≥ 2, repeat ≥ 1 and ack-every ≥ 1", file=sys.stderr)
        return 2
    runs = [
        measure(args.frames, acking=args.acking, ack_every=args.ack_every)
        for _ in range(args.repeat)
    ]
    median = statistics.median(runs)
    path = hot_path()  # "python", or "compiled" after scripts/compile.sh
    if args.json:
        report = {"ns_per_frame": median, "runs": runs, "acking": args.acking, "hot_path": path}
        print(json.dumps(report))
    else:
        spread = f"{min(runs):,.0f}-{max(runs):,.0f}"
        print(
            f"router MESSAGE hot path ({path}): {median:,.0f} ns/frame"
            f" (median of {len(runs)}: {spread})"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
