"""The terminal app, driven headless against a real relay and a second real client: sessions.

Create a session and see its invite code, let another client join with it, exchange messages
both ways with delivery ticks up to Read, join a session by code, verify a safety number; names
derived from addresses (never claimed), and a chat that a second session with its id cannot
take over.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Label, Static
from tui_support import (
    SIZE,
    expect_event,
    fast_client,
    recorded_notes,
    relay_on,
    screenshot,
    url_of,
    wait_for,
)

from quicko.appmodel import PENDING_JOINER, Chat, SystemLine
from quicko.client import (
    AsyncQuickoClient,
    EventsDropped,
    IncomingCall,
    KeyChanged,
    MessageReceived,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    SessionFailed,
    SessionInfo,
    SessionReady,
    StatusChanged,
)
from quicko.identity import display_name, format_quickokey, parse_quickokey, safety_number_lines
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.tui.app import QuickoApp
from quicko.tui.screens import ConfirmScreen, FormScreen, IncomingCallScreen, SafetyScreen
from quicko.tui.widgets import MessageRow, SystemRow

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@asynccontextmanager
async def app_and_peer() -> AsyncIterator[tuple[QuickoApp, Pilot[Any], AsyncQuickoClient]]:
    """The app on a fresh relay, connected, and a second client connected to the same relay."""
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        peer = fast_client(url_of(relay))
        await peer.connect()
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(
                    pilot, lambda: app.presenter.connection.state == "connected", "connected"
                )
                yield app, pilot, peer
        finally:
            await peer.disconnect()


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` key by key into the focused widget."""
    await pilot.press(*("space" if char == " " else char for char in text))


def connected(app: QuickoApp) -> bool:
    return app.presenter.connection.state == "connected"


def active(app: QuickoApp) -> Chat:
    chat = app.book.active_chat
    assert chat is not None
    return chat


def rows(app: QuickoApp) -> list[MessageRow]:
    return list(app.main_screen.chat_view.query(MessageRow))


def system_lines(app: QuickoApp) -> list[str]:
    return [row.line.text for row in app.main_screen.chat_view.query(SystemRow)]


async def open_session_with_peer(
    app: QuickoApp, pilot: Pilot[Any], peer: AsyncQuickoClient
) -> tuple[Chat, str]:
    """Create a session in the app (ctrl+n) and let ``peer`` join it with the code shown."""
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: app.book.active_chat is not None, "the new chat")
    chat = active(app)
    assert chat.invite_code is not None
    info = await peer.join_session(chat.invite_code)
    assert info.session_id == chat.session_id
    await wait_for(pilot, lambda: chat.encrypted, "the peer authenticated in the app")
    return chat, info.session_id


async def test_create_session_shows_the_invite_code_and_a_peer_can_join() -> None:
    async with app_and_peer() as (app, pilot, peer):
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.book.active_chat is not None, "the new chat")
        chat = active(app)
        banner = app.main_screen.query_one("#invite-banner", Static)
        assert chat.invite_code is not None
        assert chat.invite_code in str(banner.content)
        assert banner.display and not banner.has_class("-hidden")
        assert "end-to-end encrypted" not in app.main_screen.status_line.plain
        assert "waiting for a peer" in app.main_screen.status_line.plain
        await screenshot(pilot, "invite")

        await peer.join_session(chat.invite_code)
        await wait_for(pilot, lambda: chat.encrypted, "the peer authenticated in the app")
        assert banner.has_class("-hidden")
        assert "end-to-end encrypted" in app.main_screen.status_line.plain
        peer_name = peer.identity_info.display_name
        lines = system_lines(app)
        joined = [n for n, line in enumerate(lines) if line.startswith(f"{peer_name} joined")]
        assert joined, lines
        assert not any(peer_name in line for line in lines[: joined[0]])  # not before auth
        assert peer_name in chat.title


async def test_messages_both_ways_reach_read() -> None:
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        assert app.focused is app.main_screen.chat_view.composer

        await type_text(pilot, "hello [b]bob[/b]")
        await pilot.press("enter")
        received = await expect_event(peer, MessageReceived)
        assert received.message.text == "hello [b]bob[/b]"
        await wait_for(pilot, lambda: len(rows(app)) == 1, "the sent message on screen")
        row = rows(app)[0]
        assert row.message.outgoing and "[b]bob[/b]" in str(row.query_one(Static).content)
        await wait_for(pilot, lambda: row.status >= DeliveryStatus.DELIVERED, "delivered tick")

        await peer.mark_read(session_id, [received.message.message_id.hex()])
        await wait_for(pilot, lambda: row.status == DeliveryStatus.READ, "read tick")
        assert "✓✓ read" in str(row.query_one(Static).content)

        sent = await peer.send_message(session_id, "hi, this is the peer")
        await wait_for(pilot, lambda: len(rows(app)) == 2, "the received message on screen")
        incoming = rows(app)[1]
        assert not incoming.message.outgoing and incoming.message.text == "hi, this is the peer"
        status = await expect_event(peer, StatusChanged)
        while status.status != DeliveryStatus.READ:  # SENT, DELIVERED, then READ: app shows it
            status = await expect_event(peer, StatusChanged)
        assert status.message_id == sent.message_id.hex()
        assert chat.unread == 0
        await screenshot(pilot, "chat")


async def test_join_by_code_validates_and_joins() -> None:
    async with app_and_peer() as (app, pilot, peer):
        created = await peer.create_session()
        assert created.invite_code is not None
        await pilot.press("ctrl+o")
        form = app.screen
        assert isinstance(form, FormScreen)
        await type_text(pilot, "KBQW-E3TUX")
        assert "expected 8 characters, got 9" in form.problem
        await pilot.press("enter")
        assert form.is_current  # an invalid code is not submitted
        form.query_one("#field", Input).value = ""
        await type_text(pilot, "ab-cd")
        assert "not an invite code" in form.problem
        await screenshot(pilot, "join-error")

        form.query_one("#field", Input).value = ""
        await type_text(pilot, created.invite_code.lower())
        assert form.problem == ""
        await pilot.press("enter")
        await expect_event(peer, SessionReady)
        await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
        chat = active(app)
        assert chat.session_id == created.session_id and chat.role == "joiner"
        await wait_for(pilot, lambda: chat.encrypted, "the creator authenticated")
        assert app.main_screen.chat_list.item_of(chat.chat_id) is not None
        assert peer.identity_info.display_name in chat.title


async def test_verify_a_safety_number() -> None:
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        peer_address = next(iter(chat.peers))
        expected = peer.safety_number(
            session_id, parse_quickokey(app.client.identity_info.quickokey).hex()
        )
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SafetyScreen)
        shown = "\n".join(str(label.content) for label in app.screen.query(Label))
        assert safety_number_lines(expected) in shown  # two lines of six groups
        await screenshot(pilot, "safety")
        await pilot.press("v")
        await wait_for(pilot, lambda: chat.peers[peer_address].verified, "verified")
        assert chat.peers[peer_address].safety_number == expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
        assert chat.verified
        assert any(isinstance(e, SystemLine) and "verified" in e.text for e in chat.entries)


async def test_unread_counts_and_system_lines_for_leaves() -> None:
    async with app_and_peer() as (app, pilot, peer):
        first, first_id = await open_session_with_peer(app, pilot, peer)
        second, _second_id = await open_session_with_peer(app, pilot, peer)
        assert app.book.active == second.chat_id and len(app.book) == 2

        await peer.send_message(first_id, "one")
        await peer.send_message(first_id, "two")
        chat_list = app.main_screen.chat_list
        await wait_for(pilot, lambda: first.unread == 2, "two unread in the other chat")
        item = chat_list.item_of(first.chat_id)
        assert item is not None
        await wait_for(pilot, lambda: item.unread == 2, "the badge")
        assert second.unread == 0 and app.book.total_unread == 2
        await screenshot(pilot, "unread")

        await pilot.press("tab")
        assert app.focused is chat_list
        chat_list.highlight(first.chat_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.book.active == first.chat_id, "the first chat shown")
        await wait_for(pilot, lambda: item.unread == 0, "the badge cleared")
        assert [row.message.text for row in rows(app)] == ["one", "two"]
        reads = 0
        while reads < 2:
            if (await expect_event(peer, StatusChanged)).status == DeliveryStatus.READ:
                reads += 1

        await peer.leave_session(first_id)
        name = peer.identity_info.display_name
        await wait_for(pilot, lambda: not first.peers, "the peer gone")
        assert any(line.startswith(f"{name} left") for line in system_lines(app))
        assert "end-to-end encrypted" not in app.main_screen.status_line.plain

        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked first")
        question = app.screen
        assert isinstance(question, ConfirmScreen) and question.title_text == "Leave this chat?"
        await screenshot(pilot, "confirm-leave")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "kept")
        assert len(app.book) == 2
        await pilot.press("ctrl+l", "y")
        await wait_for(pilot, lambda: len(app.book) == 1, "the chat left")
        await wait_for(pilot, lambda: app.book.active == second.chat_id, "the other chat shown")
        assert chat_list.item_of(first.chat_id) is None
        await pilot.press("ctrl+l", "y")
        await wait_for(pilot, lambda: len(app.book) == 0, "no chat")
        await wait_for(pilot, lambda: app.main_screen.chat_view.chat_id is None, "welcome")


async def test_key_changes_and_failures_show_as_warning_lines() -> None:
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        address = next(iter(chat.peers))
        name = chat.peers[address].display_name
        await app.handle_event(KeyChanged(session_id, address, name))
        await app.handle_event(SessionFailed(session_id, "the relay dropped the session"))
        await pilot.pause()
        warnings = [
            row.line.text
            for row in app.main_screen.chat_view.query(SystemRow)
            if row.has_class("-warning")
        ]
        assert any(name in line and "different keys" in line for line in warnings)
        assert any("the relay dropped the session" in line for line in warnings)
        assert chat.ended == "the relay dropped the session"
        assert app.main_screen.chat_view.composer.disabled
        await app.handle_event(SessionFailed("00" * 16, "not ours"))  # unknown: kept aside
        assert len(app.book) == 1


#: Files opened for writing while WATCHING is set (an audit hook cannot be removed).
WRITES: list[str] = []
WATCHING: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not WATCHING or event != "open":
        return
    path, mode, flags = args
    writing = any(char in (mode or "") for char in "wax+") or bool(
        flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND)
    )
    # The interpreter's own bytecode cache is not the app's doing.
    if writing and not str(path).endswith(".pyc") and "__pycache__" not in str(path):
        WRITES.append(str(path))


async def test_a_whole_conversation_opens_no_file_for_writing() -> None:
    if not WATCHING and not getattr(sys, "_quicko_tui_audit", False):
        sys.addaudithook(_audit)
        sys._quicko_tui_audit = True  # type: ignore[attr-defined]  # install the hook once
    WRITES.clear()
    WATCHING.append(True)
    try:
        async with app_and_peer() as (app, pilot, peer):
            _chat, session_id = await open_session_with_peer(app, pilot, peer)
            await type_text(pilot, "nothing on disk")
            await pilot.press("enter")
            received = await expect_event(peer, MessageReceived)
            await peer.mark_read(session_id, [received.message.message_id.hex()])
            await peer.send_message(session_id, "nor here")
            await wait_for(pilot, lambda: len(rows(app)) == 2, "both messages")
            await wait_for(pilot, lambda: rows(app)[0].status == DeliveryStatus.READ, "read")
            await pilot.press("ctrl+l", "y")
            await wait_for(pilot, lambda: len(app.book) == 0, "the chat left")
    finally:
        WATCHING.clear()
    assert WRITES == []


async def test_a_member_not_authenticated_is_never_shown_as_a_person() -> None:
    async with app_and_peer() as (app, pilot, _peer):
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.book.active_chat is not None, "the new chat")
        chat = active(app)
        stranger = "5a" * 16
        # What the relay says before any key is verified, with the name it claims.
        await app.handle_event(
            PeerJoined(chat.session_id, PeerInfo(stranger, "Alice", False, None, False))
        )
        await wait_for(pilot, lambda: f"{PENDING_JOINER}." in system_lines(app), "the pending line")
        header = str(app.main_screen.query_one("#chat-header", Static).content)
        item = app.main_screen.chat_list.item_of(chat.chat_id)
        assert chat.title == PENDING_JOINER and PENDING_JOINER in header and item is not None
        derived = display_name(bytes.fromhex(stranger))
        shown = [*system_lines(app), header, chat.title]
        assert not any("Alice" in text or derived in text for text in shown)

        await app.handle_event(PeerLeft(chat.session_id, stranger, "Alice", "left"))
        await wait_for(pilot, lambda: not chat.peers, "the stranger gone")
        assert system_lines(app)[-1] == "Someone who was trying to join left."


async def test_a_second_session_with_a_chats_id_cannot_take_it_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 8, finding 1: a call whose session id is an existing chat's is accepted by the user;
    # the app keeps the chat it has (local id, peers, history) and opens nothing over it.
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        await peer.send_message(session_id, "before the call")
        await wait_for(pilot, lambda: len(rows(app)) == 1, "the peer's message")
        before = (chat.chat_id, chat.role, dict(chat.peers), list(chat.entries))

        attacker = bytes(range(16))
        attacker_peer = PeerInfo(attacker.hex(), "Alice", True, "00000", False)
        colliding = SessionInfo(session_id, None, "callee", (attacker_peer,), "chatting")

        async def answer_call(call_id: str, accept: bool) -> SessionInfo | None:
            return colliding if accept else None

        monkeypatch.setattr(app.client, "answer_call", answer_call)
        notes = recorded_notes(monkeypatch, app)
        ring = IncomingCall("c0" * 16, format_quickokey(attacker), "Alice", "12345")
        await app.handle_event(ring)
        await wait_for(pilot, lambda: isinstance(app.screen, IncomingCallScreen), "ringing")
        dialog = app.screen
        assert isinstance(dialog, IncomingCallScreen)
        assert dialog.call.display_name == display_name(attacker)  # not "Alice"
        assert dialog.call.claimed_name == "Alice"
        await screenshot(pilot, "incoming-call-claimed-name")
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
        await wait_for(pilot, lambda: any("already has a chat" in n for n in notes), "refused")

        assert len(app.book) == 1 and app.book.find(session_id) is chat
        assert app.book.active_chat is chat
        assert (chat.chat_id, chat.role, dict(chat.peers), list(chat.entries)) == before
        assert len(app.main_screen.chat_list.query("ChatListItem")) == 1
        await peer.send_message(session_id, "after the call")
        await wait_for(pilot, lambda: len(rows(app)) == 2, "the chat still gets its messages")
        assert rows(app)[1].message.text == "after the call"


async def test_the_composer_keeps_every_line_and_refuses_too_much() -> None:
    # Issue 12, item 3: a pasted multi-line message sent only its first line, a paste over
    # 4,000 characters was ignored without a word, and no key typed a newline.
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        box = app.main_screen.chat_view.composer_box
        composer = box.composer
        assert app.focused is composer
        assert box.hint == "Enter sends · Ctrl+J new line · 0 B of 64 KiB"

        await type_text(pilot, "first line")
        await pilot.press("ctrl+j")
        await type_text(pilot, "second")
        app.post_message(events.Paste("\npasted one\npasted two"))  # as a terminal pastes
        await wait_for(pilot, lambda: composer.text.count("\n") == 3, "the pasted lines")
        assert composer.text == "first line\nsecond\npasted one\npasted two"
        await wait_for(pilot, lambda: "39 B" in box.hint, "the size")
        assert box.hint == "Enter sends · Ctrl+J new line · 39 B of 64 KiB"
        await screenshot(pilot, "composer")
        await pilot.press("enter")
        received = await expect_event(peer, MessageReceived)
        assert received.message.text == "first line\nsecond\npasted one\npasted two"
        await wait_for(pilot, lambda: composer.text == "", "the box emptied")

        big = "é" * 32_768 + "x"  # 65,537 bytes of UTF-8: one over the limit
        app.post_message(events.Paste(big))
        await wait_for(pilot, lambda: "refused" in box.hint, "the refusal")
        assert composer.text == ""
        assert box.hint == (
            "Paste refused: the message would be 65,537 bytes, over the limit of 65,536 "
            "(64 KiB). Nothing was inserted."
        )
        await screenshot(pilot, "composer-refused")
        app.post_message(events.Paste(big[:-1]))  # exactly 64 KiB fits
        await wait_for(pilot, lambda: len(composer.text) == 32_768, "the largest paste")
        await wait_for(pilot, lambda: "64 KiB of" in box.hint, "the size")
        assert box.hint == "Enter sends · Ctrl+J new line · 64 KiB of 64 KiB"
        await pilot.press("enter")
        received = await expect_event(peer, MessageReceived)
        assert received.message.text == "é" * 32_768
        assert session_id == chat.session_id


async def test_a_peer_gets_a_local_name_with_f2() -> None:
    # Issue 12, item 9: names for peers chosen locally, in memory only.
    async with app_and_peer() as (app, pilot, peer):
        chat, _session_id = await open_session_with_peer(app, pilot, peer)
        derived = peer.identity_info.display_name
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen), "the name dialog")
        await type_text(pilot, "Bob")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "named")
        assert chat.title == f"Bob ({derived})"
        await wait_for(
            pilot, lambda: any("You named" in line for line in system_lines(app)), "line"
        )
        header = str(app.main_screen.query_one("#chat-header", Static).content)
        assert header.startswith(f"Bob ({derived})")
        item = app.main_screen.chat_list.item_of(chat.chat_id)
        assert item is not None
        await screenshot(pilot, "local-name")


async def test_dropped_events_are_made_good_from_the_clients_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # core10: after EventsDropped the app re-reads messages(); what it shows stays once.
    async with app_and_peer() as (app, pilot, peer):
        chat, session_id = await open_session_with_peer(app, pilot, peer)
        await peer.send_message(session_id, "first")
        await wait_for(pilot, lambda: len(rows(app)) == 1, "the first message")
        stored = app.client.messages(session_id)
        real_messages = app.client.messages

        def with_a_missed_one(sid: str) -> list[ChatMessage]:
            # What the store holds when the event of "missed" was dropped from the queue.
            missed = dataclasses.replace(
                stored[0], message_id=b"\x07" * 16, text="missed", status=DeliveryStatus.DELIVERED
            )
            return [*real_messages(sid), missed]

        monkeypatch.setattr(app.client, "messages", with_a_missed_one)  # a stand-in store
        await app.handle_event(EventsDropped(count=1))
        await wait_for(pilot, lambda: len(rows(app)) == 2, "the missed message")
        assert [row.message.text for row in rows(app)] == ["first", "missed"]
        assert chat.unread == 0  # shown, so read
