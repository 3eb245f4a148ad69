"""The terminal app's pure helpers, without a terminal: delivery ticks and the live checks of
its forms (the chat book itself is tested in tests/unit/appmodel)."""

from __future__ import annotations

import pytest

from quicko.messaging import DeliveryStatus
from quicko.tui.screens.dialogs import check_invite_code, check_quickokey, check_seed_phrase
from quicko.tui.screens.form import Incomplete
from quicko.tui.widgets.chat_view import status_mark

pytestmark = pytest.mark.ui


def test_status_marks_for_every_status() -> None:
    assert status_mark(DeliveryStatus.PENDING) == "◷ pending"
    assert status_mark(DeliveryStatus.SENT) == "✓ sent"
    assert status_mark(DeliveryStatus.DELIVERED) == "✓✓ delivered"
    assert status_mark(DeliveryStatus.READ) == "✓✓ read"
    assert status_mark(DeliveryStatus.FAILED) == "✗ failed — ctrl+r sends it again"
    assert status_mark(DeliveryStatus.FAILED, reason="the peer left") == (
        "✗ failed: the peer left — ctrl+r sends it again"
    )
    assert status_mark(DeliveryStatus.PENDING, waiting=True) == "◷ waiting for the relay"
    assert status_mark(DeliveryStatus.SENT, waiting=True) == "✓ sent"


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
