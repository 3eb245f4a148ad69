"""Bytes on the wire and CPU of the hybrid key agreement against the X25519-only one, side by side.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python scripts/pq-cost.py --before 01b7791 [--runs 200]

``--before`` names a commit of the classical (X25519-only) protocol version 3; the script
extracts its ``src`` and ``tests`` into a temporary directory with ``git archive`` and runs
the same measurements on it and on this working tree, each in its own Python process (so each
imports its own ``quicko``), then prints one table. Measured with real
:class:`~quicko.session.Session` objects pumped through the in-memory relay of
``tests/unit/session/session_pump.py``, which encodes every frame with the real codec:

- **bytes**: every frame of an invite join (two parties, until quiet: lobby, PAKE, bundles,
  Joins, SYNC), of a third member's join (its PAKE, the creator's vouch, the MEMBER_INITs with
  the second member, the SYNCs) and of a call (CallPeer, CallResponse, both Joins, SYNC),
  client to relay and relay to client;
- **CPU** (process time, median of ``--runs``): one pairwise agreement alone (both sides'
  fresh keys and signed bundles, each side verifying the other's, both channels established,
  the initiator's SYNC sealed and opened, which is when the responder derives SK), and a whole
  invite join and a whole call through the pump (both sides' work).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ child: one tree


def _child(runs: int) -> dict[str, Any]:  # noqa: PLR0915 (one linear measurement)
    # Imported here: each child process has its own tree's quicko (and pump) on its path.
    import session_pump as sp  # type: ignore[import-not-found]  # noqa: PLC0415

    from quicko.identity import InviteCode  # noqa: PLC0415
    from quicko.protocol import MessageType, encode_frame  # noqa: PLC0415
    from quicko.session import (  # noqa: PLC0415
        IncomingCall,
        OutgoingCall,
        Session,
        bundle,
        pairwise,
    )
    from quicko.session.envelope import Sync  # noqa: PLC0415

    hybrid = hasattr(bundle, "HandshakeKeys")

    class CountingPump(sp.Pump):  # type: ignore[misc]
        """The pump, counting frame bytes by type: client -> relay and relay -> client."""

        def __init__(self) -> None:
            super().__init__()
            self.up: Counter[str] = Counter()
            self.down: Counter[str] = Counter()

        def route(self, sender: bytes, payload: Any) -> None:
            first = len(self.frames)
            super().route(sender, payload)  # appends the sent frame, then any deliveries
            self._count(self.up, self.frames[first])

        def _deliver(self, recipient: bytes, payload: Any) -> None:
            super()._deliver(recipient, payload)
            self._count(self.down, self.frames[-1])

        @staticmethod
        def _count(counter: Counter[str], data: bytes) -> None:
            counter[MessageType(data[1]).name] += len(data)
            counter["total"] += len(data)

        def reset(self) -> None:
            self.up.clear()
            self.down.clear()

    code = InviteCode("KBQW", "E3TV")

    def join(rng: Callable[[bytes], Callable[[int], bytes]]) -> tuple[CountingPump, Session]:
        pump = CountingPump()
        alice = pump.add(Session.create(sp.identity("alice"), rng(b"a"), sp.NOW, code))
        pump.run()
        pump.add(Session.join(sp.identity("bob"), code, rng(b"b"), sp.NOW))
        pump.run()
        return pump, alice

    def call(rng: Callable[[bytes], Callable[[int], bytes]]) -> tuple[CountingPump, int]:
        caller, callee = sp.identity("caller"), sp.identity("callee")
        outgoing = OutgoingCall.dial(caller, callee.public, rng(b"c"))
        incoming = IncomingCall.receive(outgoing.call_peer, callee)
        response, callee_session = incoming.accept(callee, rng(b"d"), sp.NOW)
        caller_session = outgoing.complete(response, caller, rng(b"e"), sp.NOW)
        pump = CountingPump()
        pump.add(caller_session)
        pump.add(callee_session)
        pump.run()
        # CallPeer and CallResponse go client -> relay -> client: both hops.
        offer = 2 * (len(encode_frame(outgoing.call_peer)) + len(encode_frame(response)))
        return pump, offer

    seeded = sp.SeededRng
    out: dict[str, Any] = {"hybrid": hybrid}

    pump, _ = join(seeded)
    out["join"] = {"up": dict(pump.up), "down": dict(pump.down)}
    pump.reset()
    pump.add(Session.join(sp.identity("carol"), code, seeded(b"c"), sp.NOW))
    pump.run()
    out["third_member"] = {"up": dict(pump.up), "down": dict(pump.down)}
    pump, offer = call(seeded)
    out["call"] = {"up": dict(pump.up), "down": dict(pump.down), "offer_answer": offer}

    def agreement() -> None:
        rng = secrets.token_bytes
        a, b = sp.identity("alice"), sp.identity("bob")
        sid = rng(16)
        ctx_a = bundle.member_init_context(sid, b.address)
        ctx_b = bundle.member_init_context(sid, a.address)
        keys_a, bundle_a = bundle.fresh_bundle(a, ctx_a, rng)
        keys_b, bundle_b = bundle.fresh_bundle(b, ctx_b, rng)
        bundle.verify_bundle(bundle.IdentityBundle.decode(bundle_a.encode()), ctx_a,
                             expected_address=a.address)  # fmt: skip
        bundle.verify_bundle(bundle.IdentityBundle.decode(bundle_b.encode()), ctx_b,
                             expected_address=b.address)  # fmt: skip
        channels = []
        for me, keys, peer in ((a, keys_a, bundle_b), (b, keys_b, bundle_a)):
            extra: dict[str, Any] = {}
            ephemeral = keys
            if hybrid:
                extra = {"own_kem": keys.kem, "peer_kem_public": peer.kem_public}
                ephemeral = keys.ephemeral
            channels.append(pairwise.PairwiseChannel.establish(
                session_id=sid, own_address=me.address, own_identity=me.x25519,
                own_ephemeral=ephemeral, peer_address=peer.address,
                peer_identity_public=peer.x25519_public,
                peer_ephemeral_public=peer.ephemeral_public, rng=rng, **extra))  # fmt: skip
        first, second = channels if channels[0].is_initiator else channels[::-1]
        body = first.seal(Sync(), message_id=bytes(16), timestamp=sp.NOW)
        second.open(body, message_id=bytes(16), timestamp=sp.NOW)

    def fresh(seed: bytes) -> Callable[[int], bytes]:
        return secrets.token_bytes

    def median_ms(work: Callable[[], object], n: int) -> float:
        work()  # warm-up
        samples = []
        for _ in range(n):
            start = time.process_time_ns()
            work()
            samples.append(time.process_time_ns() - start)
        return statistics.median(samples) / 1e6

    out["cpu_ms"] = {
        "agreement": median_ms(agreement, runs),
        "join": median_ms(lambda: join(fresh), max(runs // 4, 10)),
        "call": median_ms(lambda: call(fresh), max(runs // 4, 10)),
    }
    return out


# ------------------------------------------------------------------ parent: both trees


def _run_tree(tree: Path, runs: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=f"{tree / 'src'}{os.pathsep}{tree / 'tests/unit/session'}")
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--runs", str(runs)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _table(before: dict[str, Any], after: dict[str, Any]) -> str:
    rows = [("", "X25519 only", "hybrid", "difference")]

    def add(label: str, old: float, new: float, unit: str) -> None:
        fmt = "{:,.0f}" if unit == "B" else "{:.2f}"
        rows.append((label, fmt.format(old) + f" {unit}", fmt.format(new) + f" {unit}",
                     ("+" if new >= old else "") + fmt.format(new - old) + f" {unit}"))  # fmt: skip

    for name, title in (("join", "invite join"), ("third_member", "3rd member joins"),
                        ("call", "call")):  # fmt: skip
        old, new = before[name], after[name]
        add(f"{title}: client->relay", old["up"]["total"], new["up"]["total"], "B")
        add(f"{title}: relay->client", old["down"]["total"], new["down"]["total"], "B")
        for kind in ("LOBBY_MESSAGE", "KEY_EXCHANGE", "MESSAGE"):
            if kind in new["up"] or kind in old["up"]:
                add(f"  of which {kind} (up)", old["up"].get(kind, 0), new["up"].get(kind, 0), "B")
        if "offer_answer" in new:
            add(f"{title}: CallPeer+CallResponse (both hops)", old["offer_answer"],
                new["offer_answer"], "B")  # fmt: skip
    for name, title in (("agreement", "CPU one pairwise agreement (both sides)"),
                        ("join", "CPU invite join (both sides, pumped)"),
                        ("call", "CPU call (both sides, pumped)")):  # fmt: skip
        add(title, before["cpu_ms"][name], after["cpu_ms"][name], "ms")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="commit of the X25519-only protocol")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the raw results too")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.runs)))
        return 0
    if not args.before:
        parser.error("--before COMMIT is required")
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before, "src", "tests"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        before = _run_tree(Path(tmp), args.runs)
    after = _run_tree(ROOT, args.runs)
    assert not before["hybrid"] and after["hybrid"], "--before must be an X25519-only commit"
    print(_table(before, after))
    if args.json:
        print(json.dumps({"before": before, "after": after}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
