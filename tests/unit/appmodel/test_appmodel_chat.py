"""The shared chat book, without any app: unread counts, ticks, encryption, order, names
derived from addresses, and chats keyed by local ids."""

from __future__ import annotations

import logging

import pytest

from quicko.appmodel import (
    MAX_ENTRIES,
    PENDING_JOINER,
    PENDING_MEMBER,
    ChatBook,
    Peer,
    SystemLine,
    sender_name,
)
from quicko.client.models import PeerInfo
from quicko.identity import display_name
from quicko.messaging import ChatMessage, DeliveryStatus

SESSION = "ab" * 16


def message(
    n: int,
    *,
    outgoing: bool,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    sender_name: str = "Swift Falcon #7A3F",
) -> ChatMessage:
    return ChatMessage(
        message_id=n.to_bytes(16, "big"),
        session_id=bytes.fromhex(SESSION),
        sender=b"\x01" * 16,
        sender_name=sender_name,
        text=f"text {n}",
        timestamp_ms=1_700_000_000_000 + n,
        outgoing=outgoing,
        status=status,
    )


def test_encrypted_only_when_every_peer_is_authenticated() -> None:
    chat = ChatBook().open(SESSION, "creator", "KBQW-E3TU")
    assert chat is not None
    states: list[tuple[bool, bool]] = []

    def record() -> None:
        states.append((chat.encrypted, chat.verified))

    record()
    assert chat.title == "Waiting for someone to join"
    chat.add_peer(Peer("01" * 16, "Swift Falcon #7A3F", authenticated=True, safety_number="1"))
    record()
    assert chat.add_peer(Peer("02" * 16, "Calm Macaw #F6CE"))
    record()
    assert chat.title == "Swift Falcon #7A3F (+1 connecting…)"  # not authenticated: no name
    chat.remove_peer("02" * 16)
    chat.mark_verified("01" * 16)
    record()
    chat.mark_verified("03" * 16)  # unknown: nothing happens
    assert list(chat.peers) == ["01" * 16]
    assert states == [(False, False), (True, False), (False, False), (True, True)]


def test_unread_counts_incoming_messages_and_take_unread_resets() -> None:
    book = ChatBook()
    chat = book.open(SESSION, "joiner")
    assert chat is not None
    chat.add(message(1, outgoing=False, status=DeliveryStatus.DELIVERED))
    chat.add(message(2, outgoing=True))
    chat.add(SystemLine("Swift Falcon #7A3F joined"))
    chat.add(message(3, outgoing=False, status=DeliveryStatus.DELIVERED))
    assert chat.unread == 2 and book.total_unread == 2
    assert chat.take_unread() == [(1).to_bytes(16, "big").hex(), (3).to_bytes(16, "big").hex()]
    assert chat.unread == 0 and chat.take_unread() == []


def test_a_peer_reusing_our_id_does_not_take_our_status() -> None:
    chat = ChatBook().open(SESSION, "creator")
    assert chat is not None
    chat.add(message(1, outgoing=False, status=DeliveryStatus.DELIVERED))  # the peer's copy
    ours = message(1, outgoing=True)
    chat.add(ours)
    updated = chat.update_status(ours.message_id.hex(), DeliveryStatus.SENT)
    assert updated is not None and updated.outgoing
    first = chat.entries[0]
    assert isinstance(first, ChatMessage) and first.status is DeliveryStatus.DELIVERED


def test_status_moves_forward_only_and_early_updates_wait_for_their_message() -> None:
    chat = ChatBook().open(SESSION, "creator")
    assert chat is not None
    first = message(1, outgoing=True)
    chat.add(first)
    first_id = first.message_id.hex()
    updated = chat.update_status(first_id, DeliveryStatus.DELIVERED)
    assert updated is not None and updated.status == DeliveryStatus.DELIVERED
    assert chat.update_status(first_id, DeliveryStatus.SENT) is None  # backwards: ignored
    assert chat.update_status(first_id, DeliveryStatus.DELIVERED) is None  # duplicate

    second = message(2, outgoing=True)
    assert chat.update_status(second.message_id.hex(), DeliveryStatus.SENT) is None
    chat.add(second)  # the receipt overtook send_message's reply
    last = chat.entries[-1]
    assert isinstance(last, ChatMessage) and last.status == DeliveryStatus.SENT


def test_entries_are_a_bounded_ring() -> None:
    chat = ChatBook().open(SESSION, "creator")
    assert chat is not None
    for n in range(MAX_ENTRIES + 5):
        chat.add(SystemLine(f"line {n}"))
    assert len(chat.entries) == MAX_ENTRIES
    first = chat.entries[0]
    assert isinstance(first, SystemLine) and first.text == "line 5"


def test_closing_the_shown_chat_shows_the_next() -> None:
    book = ChatBook()
    first = book.open("01" * 16, "creator")
    second = book.open("02" * 16, "joiner")
    assert first is not None and second is not None
    book.active = first.chat_id
    assert book.close(first.chat_id) is first
    shown = [book.active]
    assert first.chat_id not in book and book.find("01" * 16) is None
    assert book.close(first.chat_id) is None
    book.close(second.chat_id)
    shown.append(book.active)
    assert shown == [second.chat_id, None]
    assert book.active_chat is None and len(book) == 0


def test_chats_are_keyed_by_local_ids_the_book_assigns() -> None:
    book = ChatBook()
    first = book.open("01" * 16, "creator")
    second = book.open("02" * 16, "joiner")
    assert first is not None and second is not None
    assert first.chat_id != second.chat_id
    assert SESSION not in (first.chat_id, second.chat_id)
    assert book.get(first.chat_id) is first and book.find("02" * 16) is second
    assert book.get("01" * 16) is None  # a session id is not a chat id
    book.close(first.chat_id)
    again = book.open("01" * 16, "creator")  # a session opened anew is a new chat
    assert again is not None and again.chat_id not in (first.chat_id, second.chat_id)


def test_a_second_open_for_a_known_session_is_refused_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 8, finding 1: a call carrying an existing chat's session id must not take it over.
    book = ChatBook()
    chat = book.open(SESSION, "creator", "KBQW-E3TV")
    assert chat is not None
    peer = Peer("01" * 16, "Swift Falcon #7A3F", authenticated=True, safety_number="1")
    chat.add_peer(peer)
    chat.add(message(1, outgoing=False, status=DeliveryStatus.DELIVERED))
    book.active = chat.chat_id
    with caplog.at_level(logging.WARNING, logger="quicko.appmodel._book"):
        assert book.open(SESSION, "callee") is None
    assert "refused a second chat" in caplog.text
    assert len(book) == 1 and book.find(SESSION) is chat and book.active_chat is chat
    assert (chat.role, chat.invite_code, chat.peers) == (
        "creator",
        "KBQW-E3TV",
        {peer.address: peer},
    )
    assert len(chat.entries) == 1 and chat.unread == 1


def test_peers_are_named_by_their_address_never_by_their_claim() -> None:
    address = "01" * 16
    derived = display_name(bytes.fromhex(address))
    honest = Peer.from_info(PeerInfo(address, derived, True, "1", False))
    assert (honest.display_name, honest.claimed_name, honest.shown_name) == (derived, None, derived)
    liar = Peer.from_info(PeerInfo(address, "Alice", True, "1", False))
    assert liar.display_name == derived and liar.claimed_name == "Alice"
    assert liar.shown_name == f'{derived} (claims "Alice")'
    sender = display_name(bytes(16 * [1]))
    assert sender_name(message(1, outgoing=False, sender_name="Alice")) == (
        f'{sender} (claims "Alice")'
    )


@pytest.mark.parametrize(
    ("role", "label"), [("creator", PENDING_JOINER), ("joiner", PENDING_MEMBER)]
)
def test_a_peer_not_authenticated_is_never_shown_as_a_person(role: str, label: str) -> None:
    chat = ChatBook().open(SESSION, role, "KBQW-E3TV" if role == "creator" else None)
    assert chat is not None
    stranger = Peer.from_info(PeerInfo("02" * 16, "Alice", False, None, False))
    chat.add_peer(stranger)
    assert chat.title == label and chat.name_of(stranger) == label
    assert "Alice" not in chat.title and stranger.display_name not in chat.title


def test_an_older_snapshot_never_downgrades_an_authenticated_peer() -> None:
    # Regression: the join's result can be applied before an event queued during the join.
    chat = ChatBook().open(SESSION, "joiner", None)
    assert chat is not None
    chat.add_peer(
        Peer(
            "01" * 16, "Swift Falcon #7A3F", authenticated=True, safety_number="1", claimed_name="A"
        )
    )
    chat.mark_verified("01" * 16)
    assert not chat.add_peer(Peer("01" * 16, "Swift Falcon #7A3F"))
    assert (chat.encrypted, chat.verified) == (True, True)
    assert chat.peers["01" * 16].safety_number == "1"
    assert chat.peers["01" * 16].claimed_name == "A"  # the signed claim, not the relay's
