"""What people put between the groups of a code: spaces, and dashes of every kind.

Text copied from a chat, a web page, a word processor or a spreadsheet brings typographic
dashes (an en dash, a minus sign, a non-breaking hyphen) and other spaces than the ASCII one.
A QuickoKey (docs/protocol.md §6.4) and an invite code (§6.6) accept any of them wherever a
dash or a space may go.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DASHES", "SEPARATORS", "is_separator"]

DASHES: Final = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
"""Hyphen-minus, soft hyphen, hyphen, non-breaking hyphen, figure dash, en dash, em dash,
horizontal bar, minus sign, small em dash, small hyphen-minus and fullwidth hyphen-minus."""

SEPARATORS: Final = re.compile(f"[\\s{re.escape(DASHES)}]+")
"""A run of whitespace and dashes (:data:`DASHES`)."""


def is_separator(char: str) -> bool:
    """Whether ``char`` is whitespace or one of the :data:`DASHES`."""
    return char.isspace() or char in DASHES
