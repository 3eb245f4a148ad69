"""The one-field dialogs: join by invite code, call a QuickoKey, recover from a seed phrase.

Each validates as the user types with the identity layer's own parsers, so the messages are
the ones the rest of Quicko2 gives (:func:`quicko.identity.parse_invite_code`,
:func:`quicko.identity.parse_quickokey`, :func:`quicko.identity.parse_seed_phrase`).
"""

from __future__ import annotations

import re
from typing import Final

from quicko.errors import InviteCodeError, QuickoKeyFormatError, SeedPhraseError
from quicko.identity import (
    QUICKOKEY_EXAMPLE,
    SEED_PHRASE_WORDS,
    WORDS,
    parse_invite_code,
    parse_quickokey,
    parse_seed_phrase,
)
from quicko.tui.screens.form import FormScreen, Incomplete, Submit

__all__ = [
    "call_form",
    "check_invite_code",
    "check_quickokey",
    "check_seed_phrase",
    "join_form",
    "recover_form",
]

_INVITE_EXAMPLE: Final = "KBQW-E3TV"
_WORD_SEPARATORS: Final = re.compile(r"[\s,]+")


def check_invite_code(text: str) -> str | None:
    """The problem with an invite code as typed, or ``None``."""
    try:
        parse_invite_code(text)
    except InviteCodeError as exc:
        return str(exc)
    return None


def check_quickokey(text: str) -> str | None:
    """The problem with a QuickoKey as typed, or ``None``."""
    try:
        parse_quickokey(text)
    except QuickoKeyFormatError as exc:
        return str(exc)
    return None


def check_seed_phrase(text: str) -> str | None:
    """The problem with a seed phrase as typed, or ``None``.

    Unknown words are reported as soon as they are finished (followed by a space), with their
    position and the nearest valid words; until all 16 words are there, the dialog shows how
    many are (as :class:`~quicko.tui.screens.form.Incomplete`). Every parsed root secret is
    wiped at once: this is only a check, the client derives the identity itself.
    """
    words = [word for word in _WORD_SEPARATORS.split(text) if word]
    if len(words) >= SEED_PHRASE_WORDS:
        return _seed_problem(text)
    finished = words if text[-1:].isspace() or text.endswith(",") else words[:-1]
    filler = [WORDS[0]] * (SEED_PHRASE_WORDS - len(finished))
    problem = _seed_problem(" ".join([*finished, *filler]), words_only=True)
    return problem or Incomplete(f"{len(words)} of {SEED_PHRASE_WORDS} words")


def _seed_problem(text: str, *, words_only: bool = False) -> str | None:
    """What :func:`parse_seed_phrase` says about ``text`` (only unknown words if asked)."""
    try:
        root = parse_seed_phrase(text)
    except SeedPhraseError as exc:
        return None if words_only and exc.position is None else str(exc)
    root.wipe()
    return None


def join_form(submit: Submit) -> FormScreen:
    """The "join by invite code" dialog; ``submit`` gets the code as typed."""
    return FormScreen(
        title="Join a session",
        hint=f"Type the invite code you were given, such as {_INVITE_EXAMPLE}.",
        placeholder=_INVITE_EXAMPLE,
        check=check_invite_code,
        submit=submit,
        busy_text="Joining… checking the code with the other side",
        id="join-dialog",
    )


def call_form(submit: Submit) -> FormScreen:
    """The "call a QuickoKey" dialog; ``submit`` gets the QuickoKey as typed."""
    return FormScreen(
        title="Call a QuickoKey",
        hint="Type the QuickoKey of the person to call. They must be online and registered.",
        placeholder=QUICKOKEY_EXAMPLE,
        check=check_quickokey,
        submit=submit,
        busy_text="Calling… waiting for an answer",
        id="call-dialog",
    )


def recover_form(submit: Submit) -> FormScreen:
    """The "recover an identity" dialog; ``submit`` gets the seed phrase as typed."""
    return FormScreen(
        title="Recover a QuickoKey",
        hint=(
            f"Type the {SEED_PHRASE_WORDS} words of your seed phrase, separated by spaces. "
            "The first four letters of each word are enough."
        ),
        placeholder="word1 word2 … word16",
        check=check_seed_phrase,
        submit=submit,
        busy_text="Recovering… reconnecting with the recovered identity",
        id="recover-dialog",
    )
