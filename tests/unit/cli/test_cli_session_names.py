"""``quicko session`` names people by their addresses, in text and in JSON (issue 8, finding 5).

The events are fed to the command's event handler directly (no relay): every name printed is
the address-derived one; a name a peer claims appears only labelled (``claimed_name`` in JSON,
``(claims "…")`` in text) and only when it differs; a member not authenticated yet is never named.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import Sequence
from typing import Any

import pytest

from quicko.cli._session import Chat, Output
from quicko.client import models as m
from quicko.identity import display_name, format_quickokey
from quicko.messaging import ChatMessage, DeliveryStatus

SID = "5e" * 16
PEER = bytes(range(16))
PEER_NAME = display_name(PEER)


class _Client:
    """Stands in for the client where an event handler calls it."""

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        pass

    async def answer_call(self, call_id: str, accept: bool) -> m.SessionInfo | None:
        return None


def run(action: str, events: list[m.ClientEvent], *, as_json: bool) -> list[Any]:
    """Feed ``events`` to a ``quicko session <action>`` and return what it printed."""
    args = argparse.Namespace(
        action=action, relay="ws://127.0.0.1:9", json=as_json, accept_all=False
    )
    stream = io.StringIO()
    chat = Chat(args, None, Output(stream, as_json=as_json))
    chat._client = _Client()  # type: ignore[assignment]  # no relay: only the handler runs

    async def feed() -> None:
        for event in events:
            await chat._on_event(event)

    asyncio.run(feed())
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines] if as_json else lines


def peer(claim: str, *, authenticated: bool) -> m.PeerInfo:
    return m.PeerInfo(PEER.hex(), claim, authenticated, "12345" if authenticated else None, False)


def message(claim: str) -> ChatMessage:
    return ChatMessage(
        bytes(16), bytes.fromhex(SID), PEER, claim, "hi", 1_700_000_000_000, False,
        DeliveryStatus.DELIVERED,
    )  # fmt: skip


@pytest.mark.parametrize("claim", ["Alice", PEER_NAME])
def test_json_names_are_derived_and_a_differing_claim_is_labelled(claim: str) -> None:
    records = run(
        "join",
        [
            m.PeerJoined(SID, peer(claim, authenticated=True)),
            m.PeerAuthenticated(SID, peer(claim, authenticated=True)),
            m.MessageReceived(SID, message(claim)),
            m.KeyChanged(SID, PEER.hex(), claim),
            m.PeerLeft(SID, PEER.hex(), claim, "left"),
        ],
        as_json=True,
    )
    events = [record["event"] for record in records]
    assert events == ["peer_joined", "safety_number", "message", "key_changed", "peer_left"]
    assert all(record["display_name"] == PEER_NAME for record in records)
    claimed = [record.get("claimed_name") for record in records]
    if claim == PEER_NAME:  # an honest peer claims its derived name: nothing to add
        assert claimed == [None] * 5
    else:  # only where the peer itself signed the claim
        assert claimed == ["Alice", "Alice", "Alice", None, None]


def test_text_never_shows_a_claim_as_the_name() -> None:
    lines = run(
        "join",
        [
            m.PeerAuthenticated(SID, peer("Alice", authenticated=True)),
            m.MessageReceived(SID, message("Alice")),
            m.KeyChanged(SID, PEER.hex(), "Alice"),
            m.PeerLeft(SID, PEER.hex(), "Alice", "disconnected"),
        ],
        as_json=False,
    )
    labelled = f'{PEER_NAME} (claims "Alice")'
    assert lines == [
        f"* {labelled} authenticated; safety number 12345",
        f"{labelled}: hi",
        f"! WARNING: someone presented other keys for {PEER_NAME} (refused)",
        f"* {PEER_NAME} left (disconnected)",
    ]


@pytest.mark.parametrize(
    ("action", "joined", "left"),
    [
        (
            "create",
            "* someone with the invite code is trying to join (not authenticated yet)",
            "* someone who was trying to join left (left)",
        ),
        (
            "join",
            "* someone is connecting securely… (not authenticated yet)",
            "* someone who was connecting left (left)",
        ),
    ],
)
def test_a_member_not_authenticated_is_never_named(action: str, joined: str, left: str) -> None:
    events: list[m.ClientEvent] = [
        m.PeerJoined(SID, peer("Alice", authenticated=False)),
        m.PeerLeft(SID, PEER.hex(), "Alice", "left"),
    ]
    assert run(action, events, as_json=False) == [joined, left]
    records = run(action, events, as_json=True)
    assert [record["authenticated"] for record in records[:1]] == [False]
    assert all("claimed_name" not in record for record in records)  # the relay's word only
    assert all("Alice" not in json.dumps(record) for record in records)


def test_an_incoming_call_shows_the_callers_derived_name() -> None:
    call = m.IncomingCall("c0" * 16, format_quickokey(PEER), "Alice", "12345")
    (line,) = run("create", [call], as_json=False)
    assert line.startswith(f'* call from {PEER_NAME} (claims "Alice") (QK-')
    (record,) = run("create", [call], as_json=True)
    assert record["display_name"] == PEER_NAME and record["claimed_name"] == "Alice"
    assert record["accepted"] is False
