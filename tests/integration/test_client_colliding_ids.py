"""Issue 8, finding 6, through a real relay: a colliding message id does not hide a message.

Three real clients in one group on an in-process relay (127.0.0.1:0). Mallory and Bob both send
Alice a message with the same message id (Mallory's random source is steered to it; so is
Bob's, standing for the id Mallory copied from the relay-visible header of Bob's frame). Before
the fix, Alice's client stored the first and silently dropped the second while its sender was
told "Delivered"; now both are shown, and Bob's "Delivered" means Alice stored his message.
"""

from __future__ import annotations

import secrets
from functools import partial

import pytest
from client_support import FAST, Watcher, closing
from relay_support import relay_url

from quicko.client import (
    AsyncQuickoClient,
    DeliveryStatus,
    MessageReceived,
    StatusChanged,
)
from quicko.relay.server import RelayServer

pytestmark = pytest.mark.integration


class SteerableRng:
    """The OS random source, except for one 16-byte draw a test chooses (a message id)."""

    def __init__(self) -> None:
        self.next_id: bytes | None = None

    def __call__(self, n: int) -> bytes:
        if self.next_id is not None and n == len(self.next_id):
            chosen, self.next_id = self.next_id, None
            return chosen
        return secrets.token_bytes(n)


def authenticated_peers(client: AsyncQuickoClient, count: int) -> bool:
    peers = client.sessions()[0].peers
    return len(peers) == count and all(peer.authenticated for peer in peers)


async def test_a_colliding_message_id_does_not_hide_a_message(relay: RelayServer) -> None:
    url = relay_url(relay)
    bob_rng, mallory_rng = SteerableRng(), SteerableRng()
    alice = AsyncQuickoClient(url, settings=FAST)
    bob = AsyncQuickoClient(url, settings=FAST, rng=bob_rng)
    mallory = AsyncQuickoClient(url, settings=FAST, rng=mallory_rng)
    a, b, m = Watcher(alice, "alice"), Watcher(bob, "bob"), Watcher(mallory, "mallory")
    async with closing(alice, bob, mallory):
        for client in (alice, bob, mallory):
            await client.connect()
        created = await alice.create_session()
        assert created.invite_code is not None
        await bob.join_session(created.invite_code)
        await mallory.join_session(created.invite_code)
        sid = created.session_id
        for watcher in (a, b, m):
            await watcher.until(partial(lambda w, _: authenticated_peers(w.client, 2), watcher))
        colliding = secrets.token_bytes(16)

        mallory_rng.next_id = colliding
        decoy = await mallory.send_message(sid, "a decoy")
        assert decoy.message_id == colliding
        await a.wait(MessageReceived, lambda e: e.message.text == "a decoy")

        bob_rng.next_id = colliding  # stands for the id Mallory copied from Bob's frame
        honest = await bob.send_message(sid, "the honest message")
        assert honest.message_id == colliding

        shown = await a.wait(MessageReceived, lambda e: e.message.text == "the honest message")
        assert shown.message.sender == honest.sender
        # Bob sees Delivered once Alice and Mallory both stored it, and that is true.
        await b.wait(
            StatusChanged,
            lambda e: e.message_id == colliding.hex() and e.status is DeliveryStatus.DELIVERED,
        )
        stored = {(msg.sender, msg.text) for msg in alice.messages(sid)}
        assert stored >= {(decoy.sender, "a decoy"), (honest.sender, "the honest message")}
