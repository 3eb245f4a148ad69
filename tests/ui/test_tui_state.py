"""The terminal app's chat book, without a terminal: unread counts, ticks, encryption, order."""

from __future__ import annotations

import pytest

from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.tui.screens.dialogs import check_invite_code, check_quickokey, check_seed_phrase
from quicko.tui.screens.form import Incomplete
from quicko.tui.state import MAX_ENTRIES, ChatBook, Peer, SystemLine, status_mark

pytestmark = pytest.mark.ui

SESSION = "ab" * 16


def message(
    n: int, *, outgoing: bool, status: DeliveryStatus = DeliveryStatus.PENDING
) -> ChatMessage:
    return ChatMessage(
        message_id=n.to_bytes(16, "big"),
        session_id=bytes.fromhex(SESSION),
        sender=b"\x01" * 16,
        sender_name="Swift Falcon #7A3F",
        text=f"text {n}",
        timestamp_ms=1_700_000_000_000 + n,
        outgoing=outgoing,
        status=status,
    )


def test_status_marks_for_every_status() -> None:
    assert status_mark(DeliveryStatus.PENDING) == "◷ pending"
    assert status_mark(DeliveryStatus.SENT) == "✓ sent"
    assert status_mark(DeliveryStatus.DELIVERED) == "✓✓ delivered"
    assert status_mark(DeliveryStatus.READ) == "✓✓ read"
    assert status_mark(DeliveryStatus.FAILED) == "✗ failed"


def test_encrypted_only_when_every_peer_is_authenticated() -> None:
    chat = ChatBook().open(SESSION, "creator", "KBQW-E3TU")
    states: list[tuple[bool, bool]] = []

    def record() -> None:
        states.append((chat.encrypted, chat.verified))

    record()
    assert chat.title == "Waiting for a peer…"
    chat.add_peer(Peer("01" * 16, "Swift Falcon #7A3F", authenticated=True, safety_number="1"))
    record()
    assert chat.add_peer(Peer("02" * 16, "Calm Macaw #F6CE"))
    record()
    assert chat.title == "Swift Falcon #7A3F, Calm Macaw #F6CE"
    chat.remove_peer("02" * 16)
    chat.mark_verified("01" * 16)
    record()
    chat.mark_verified("03" * 16)  # unknown: nothing happens
    assert list(chat.peers) == ["01" * 16]
    assert states == [(False, False), (True, False), (False, False), (True, True)]


def test_unread_counts_incoming_messages_and_take_unread_resets() -> None:
    book = ChatBook()
    chat = book.open(SESSION, "joiner")
    chat.add(message(1, outgoing=False, status=DeliveryStatus.DELIVERED))
    chat.add(message(2, outgoing=True))
    chat.add(SystemLine("Swift Falcon #7A3F joined"))
    chat.add(message(3, outgoing=False, status=DeliveryStatus.DELIVERED))
    assert chat.unread == 2 and book.total_unread == 2
    assert chat.take_unread() == [(1).to_bytes(16, "big").hex(), (3).to_bytes(16, "big").hex()]
    assert chat.unread == 0 and chat.take_unread() == []


def test_a_peer_reusing_our_id_does_not_take_our_status() -> None:
    chat = ChatBook().open(SESSION, "creator")
    chat.add(message(1, outgoing=False, status=DeliveryStatus.DELIVERED))  # the peer's copy
    ours = message(1, outgoing=True)
    chat.add(ours)
    updated = chat.update_status(ours.message_id.hex(), DeliveryStatus.SENT)
    assert updated is not None and updated.outgoing
    first = chat.entries[0]
    assert isinstance(first, ChatMessage) and first.status is DeliveryStatus.DELIVERED


def test_status_moves_forward_only_and_early_updates_wait_for_their_message() -> None:
    chat = ChatBook().open(SESSION, "creator")
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
    for n in range(MAX_ENTRIES + 5):
        chat.add(SystemLine(f"line {n}"))
    assert len(chat.entries) == MAX_ENTRIES
    first = chat.entries[0]
    assert isinstance(first, SystemLine) and first.text == "line 5"


def test_closing_the_shown_chat_shows_the_next() -> None:
    book = ChatBook()
    book.open("01" * 16, "creator")
    book.open("02" * 16, "joiner")
    assert book.open("01" * 16, "callee").role == "creator"  # opening twice keeps the first
    book.active = "01" * 16
    assert book.close("01" * 16) is not None
    shown = [book.active]
    assert "01" * 16 not in book
    assert book.close("01" * 16) is None
    book.close("02" * 16)
    shown.append(book.active)
    assert shown == ["02" * 16, None]
    assert book.active_chat is None and len(book) == 0


def test_live_checks_use_the_identity_parsers() -> None:
    assert check_invite_code("kbqw e3tv") is None
    assert "expected 8 characters" in (check_invite_code("KBQW") or "")
    assert "did you mean V" in (check_invite_code("KBQW-E3TU") or "")
    assert check_quickokey("QK-" + "ab" * 16) is None
    assert "hexadecimal" in (check_quickokey("QK-XYZ") or "")


def test_seed_phrase_check_reports_progress_then_word_errors() -> None:
    progress = check_seed_phrase("abandon abil")
    assert isinstance(progress, Incomplete) and progress == "2 of 16 words"
    problem = check_seed_phrase("abandon qqqqq ")
    assert problem is not None and not isinstance(problem, Incomplete)
    assert "word 2 'qqqqq' is not in the word list" in problem
    assert check_seed_phrase("abandon qqqqq") == "2 of 16 words"  # still typing word 2
    assert "expected 16 words, got 17" in (check_seed_phrase("abandon " * 17) or "")


def test_an_older_snapshot_never_downgrades_an_authenticated_peer() -> None:
    # Regression: the join's result can be applied before an event queued during the join.
    chat = ChatBook().open(SESSION, "joiner", None)
    chat.add_peer(Peer("01" * 16, "Swift Falcon #7A3F", authenticated=True, safety_number="1"))
    chat.mark_verified("01" * 16)
    assert not chat.add_peer(Peer("01" * 16, "Swift Falcon #7A3F"))
    assert (chat.encrypted, chat.verified) == (True, True)
    assert chat.peers["01" * 16].safety_number == "1"
