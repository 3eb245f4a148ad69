"""Words both apps show for the client's states: one place, so the two apps never disagree.

Pure functions of the client's public values; the Qt and the terminal app lay the words out.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["plain_reason", "replace_question"]

_RELAY_ERROR: Final = re.compile(r"^relay error [A-Z_]+: ")
_PLAIN: Final = {
    "ConnectionRefusedError": "connection refused",
    "gaierror": "host name not found",
    "TimeoutError": "timed out",
    "OSError": "network unreachable",
    "SSLCertVerificationError": "TLS certificate not trusted",
    "SSLError": "TLS failed",
}


def plain_reason(reason: str) -> str:
    """The client's disconnect reason in plain words ("connection refused", …)."""
    if reason.startswith("cannot connect: "):
        kind = reason.removeprefix("cannot connect: ")
        return _PLAIN.get(kind, f"cannot connect ({kind})")
    return _RELAY_ERROR.sub("", reason).replace("_", " ")


def replace_question(
    *, open_chats: int, long_term: bool, words_written: bool
) -> tuple[str, str] | None:
    """The title and text of the question before replacing the identity, or ``None``.

    Nothing is asked when nothing would be lost: no chat is open, and the identity is either
    ephemeral or a QuickoKey whose 16 words the user said are written down.
    """
    lost_key = long_term and not words_written
    if not open_chats and not lost_key:
        return None
    title = "Replace your QuickoKey?" if long_term else "Replace your identity?"
    chats = f"Your {open_chats} open chat{'s' if open_chats != 1 else ''} will close"
    if lost_key:
        key = "this key is gone unless you wrote down its 16 words"
        text = f"{chats} and {key}." if open_chats else f"{key[0].upper()}{key[1:]}."
    elif long_term:
        text = f"{chats}. You can recover this key later from its 16 words."
    else:
        text = f"{chats} and this temporary identity is gone for good."
    return title, text
