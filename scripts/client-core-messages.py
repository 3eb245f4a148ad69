"""Two ClientCores chatting through the in-memory relay Router: the client's per-message work.

No sockets, no event loop: Alice sends batches of 100 texts of 100 bytes, the frames go through
the real ``Router`` (encoded and decoded with the real codec), Bob receives them in one batch
and receipts them, Alice reads the Acks and receipts. It measures nothing itself; run it under
a tool that counts, e.g. instructions per message, independent of the machine's load:

    for n in 1 21; do PYTHONHASHSEED=0 PYTHONPATH=src valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null python scripts/client-core-messages.py $n 2>&1 \\
        | grep Collected; done
    # (second count - first count) / 2,000 = instructions per message (set-up subtracted)

A fixed ``PYTHONHASHSEED`` matters: with random hashing the same code varies by about 3 %.
Usage: ``client-core-messages.py BATCHES`` (of 100 messages); uses tests/unit/client/core_pump.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "client"))

from core_pump import Device, Net, chat  # type: ignore[import-not-found]  # tests/unit/client

from quicko.protocol import Payload, decode_frame, encode_frame
from quicko.relay.router import Action, Send

BATCH = 100


def _route(net: Net, device: Device, payloads: list[Payload]) -> list[Action]:
    actions: list[Action] = []
    for payload in payloads:
        actions += net.router.receive(device.conn, encode_frame(payload), net.now)
    return actions


def _to(actions: list[Action], device: Device) -> list[Payload]:
    return [
        decode_frame(action.data)
        for action in actions
        if isinstance(action, Send) and action.conn == device.conn
    ]


def main(batches: int) -> None:
    """Send ``batches`` batches of 100 texts from Alice to Bob, with every Ack and receipt."""
    net = Net()
    alice, bob, session_id = chat(net)
    for _ in range(batches):
        net.now += 1
        for n in range(BATCH):
            alice.core.send_text(session_id, f"{n:08d} ".ljust(100, "x"), net.now)
        sent = _route(net, alice, alice.core.data_to_send())
        bob.core.receive_batch(_to(sent, bob), net.now)
        bob.core.events()
        receipts = _route(net, bob, bob.core.data_to_send())
        alice.core.receive_batch(_to(sent, alice) + _to(receipts, alice), net.now)
        alice.core.events()
        alice.core.next_deadline()
        bob.core.next_deadline()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
