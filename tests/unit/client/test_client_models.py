"""Client value objects and the per-session bookkeeping (quicko.client.models, quicko.client.live).

No network: a real sans-I/O Session (seeded randomness, fixed clock) is fed synthetic events.
"""

from __future__ import annotations

import hashlib

import pytest

from quicko.client import models as m
from quicko.client.api import now_ms
from quicko.client.core import describe_error
from quicko.client.live import LiveSession, SessionState
from quicko.identity import Identity, InviteCode
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import Error, ErrorCode, Joined, LeaveReason
from quicko.session import Session
from quicko.session import events as ev

NOW = 1_700_000_000_000


class SeededRng:
    def __init__(self, seed: bytes) -> None:
        self._seed, self._n = seed, 0

    def __call__(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            self._n += 1
            out += hashlib.sha256(self._seed + self._n.to_bytes(8, "big")).digest()
        return out[:size]


def creator() -> tuple[LiveSession, InviteCode]:
    rng = SeededRng(b"client-models")
    invite = InviteCode.generate(rng)
    session = Session.create(Identity.generate(rng), rng, NOW, invite)
    return LiveSession(session, "creator", invite), invite


def test_quickokey_info_repr_hides_the_seed_phrase() -> None:
    words = tuple(Identity.generate(SeededRng(b"seed")).seed_phrase)
    info = m.QuickoKeyInfo("QK-0000", "Name", words, "aa", "bb")
    assert all(word not in repr(info) for word in words)


def test_session_info_repr_hides_the_invite_code() -> None:
    info = m.SessionInfo("ab" * 16, "KBQW-E3T7", "creator", ())
    assert "KBQW" not in repr(info) and "E3T7" not in repr(info)
    assert info.state == "created"


def test_describe_error_names_the_code() -> None:
    text = describe_error(Error(int(ErrorCode.RATE_LIMITED), "slow down", 0, b""))
    assert text == "relay error RATE_LIMITED: slow down"
    assert describe_error(Error(999, "", 0, b"")) == "relay error code 999"


def test_now_ms_is_the_epoch_in_milliseconds() -> None:
    assert now_ms() > NOW


def test_display_state_is_computed_from_the_connection_and_the_session() -> None:
    live, invite = creator()
    assert live.info().invite_code == str(invite)
    assert live.display_state(connected=True) is SessionState.CREATED
    live.started = True
    assert live.refresh(connected=True) == [m.SessionStateChanged(live.key, "connecting")]
    live.session.receive(Joined(live.session_id, invite.nameplate, ()), NOW)
    live.joined()
    assert live.refresh(connected=True) == [m.SessionStateChanged(live.key, "connected")]
    assert live.refresh(connected=True) == []  # unchanged: nothing reported
    live.joined_here = False
    assert live.display_state(connected=False) is SessionState.RECONNECTING
    live.session.leave(NOW)
    assert live.display_state(connected=True) is SessionState.DESTROYED


def test_received_messages_are_stored_once() -> None:
    live, _ = creator()
    mid, sender = b"\x01" * 16, b"\x02" * 16
    event = ev.MessageReceived(mid, sender, "Peer", "hello", NOW)
    out = live.translate([event, event], NOW)
    assert len(out) == 1 and isinstance(out[0], m.MessageReceived)
    assert out[0].message.text == "hello" and out[0].message.status is DeliveryStatus.DELIVERED
    live.mark_read([mid])
    assert live.store.get(sender, mid) is not None
    assert live.store.messages()[0].status is DeliveryStatus.READ


def test_status_changes_are_reported_even_for_a_message_out_of_the_store() -> None:
    live, _ = creator()
    mid = b"\x03" * 16
    message = ChatMessage(mid, live.session_id, live.session.address, "Me", "x", NOW, True,
                          DeliveryStatus.PENDING)  # fmt: skip
    live.add_outgoing(message, NOW)
    sent = live.translate([ev.StatusChanged(mid, DeliveryStatus.SENT)], NOW)
    assert sent == [m.StatusChanged(live.key, mid.hex(), DeliveryStatus.SENT)]
    assert live.store.get(live.session.address, mid).status is DeliveryStatus.SENT  # type: ignore[union-attr]  # stored above
    # The ledger decides and reports each change once; the store is only a view of it.
    live.store.wipe()
    delivered = live.translate([ev.StatusChanged(mid, DeliveryStatus.DELIVERED)], NOW)
    assert delivered == [m.StatusChanged(live.key, mid.hex(), DeliveryStatus.DELIVERED)]


def test_peer_events_become_client_events() -> None:
    live, _ = creator()
    address = b"\x05" * 16
    out = live.translate(
        [
            ev.PeerJoined(address, "Relay Says", False),
            ev.KeyChanged(address),
            ev.PeerRefused(address, "bad bundle"),
            ev.PeerLeft(address, LeaveReason.EXPIRED),
            ev.WrongInviteCode(2),
            ev.InviteRetired(),
            ev.SessionFailed("gone"),
        ],
        NOW,
    )
    kinds = [type(event) for event in out]
    assert kinds == [m.PeerJoined, m.KeyChanged, m.PeerRefused, m.PeerLeft,
                     m.WrongInviteCode, m.InviteRetired, m.SessionFailed]  # fmt: skip
    joined = out[0]
    assert isinstance(joined, m.PeerJoined) and not joined.peer.authenticated
    left = out[3]
    assert isinstance(left, m.PeerLeft) and left.reason == "expired"
    assert left.display_name == "Relay Says"
    live.wipe()
    assert len(live.store) == 0


@pytest.mark.parametrize("role", ["creator", "joiner", "caller", "callee"])
def test_info_names_the_role(role: m.SessionRole) -> None:
    live, _ = creator()
    live.role = role
    info = live.info()
    assert info.role == role
    assert (info.invite_code is not None) == (role == "creator")
