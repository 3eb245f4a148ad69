"""The one-field dialogs: join by invite code, call a QuickoKey, recover from a seed phrase.

Each validates as the user types with the identity layer's own parsers, so the messages are
the ones the rest of Quicko2 gives (:func:`quicko.identity.parse_invite_code`,
:func:`quicko.identity.parse_quickokey`, :func:`quicko.identity.parse_seed_phrase`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from rich.text import Text

from quicko.appmodel import Chat, Peer
from quicko.errors import InviteCodeError, QuickoKeyFormatError, SeedPhraseError
from quicko.identity import (
    QUICKOKEY_EXAMPLE,
    SEED_PHRASE_WORDS,
    WORDS,
    parse_invite_code,
    parse_quickokey,
    parse_seed_phrase,
    seed_word,
    seed_word_suggestions,
)
from quicko.tui.screens.form import FormScreen, Incomplete, Submit
from quicko.tui.theme import ERROR, MUTED, SUCCESS

__all__ = [
    "MAX_LOCAL_NAME_CHARS",
    "call_form",
    "check_invite_code",
    "check_quickokey",
    "check_seed_phrase",
    "join_form",
    "recover_form",
    "rename_form",
    "seed_words_map",
]

MAX_LOCAL_NAME_CHARS: Final = 32
"""The longest name the user may give a peer."""

Rename = Callable[[Chat, Peer, str], Awaitable[None]]
"""Gives ``peer`` of ``chat`` a local name ("" removes it)."""

_INVITE_EXAMPLE: Final = "KBQW-E3TV"
_WORD_SEPARATORS: Final = re.compile(r"[\s,]+")
_ENUMERATION: Final = re.compile(r"\d{1,2}[.):]?")
_WORDS_PER_ROW: Final = 4
_SLOT_CHARS: Final = 12


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


def seed_words_map(text: str) -> Text:
    """The 16 slots of a phrase as typed: each word checked (✓ known, ✗ with suggestions).

    A word still being typed (the last one, with no space after it) is not judged yet unless
    it is four letters or more. The nearest words of each unknown one are listed under the
    slots, so the one to fix is plain to see.
    """
    tokens = [
        t for t in _WORD_SEPARATORS.split(text.strip()) if t and not _ENUMERATION.fullmatch(t)
    ]
    typing = bool(tokens) and not (text[-1:].isspace() or text.endswith(","))
    out = Text()
    problems: list[str] = []
    for index in range(SEED_PHRASE_WORDS):
        if index and index % _WORDS_PER_ROW == 0:
            out.append("\n")
        out.append(f"{index + 1:>2}. ", style=MUTED)
        if index >= len(tokens):
            out.append(f"{'·' * 6:<{_SLOT_CHARS}}", style=MUTED)
            continue
        token = tokens[index]
        shown = token[: _SLOT_CHARS - 2]
        word = seed_word(token)
        last = index == len(tokens) - 1
        if word is not None:
            out.append(f"{shown:<{_SLOT_CHARS - 2}}✓ ", style=SUCCESS)
        elif last and typing and len(token) < 4:
            out.append(f"{shown:<{_SLOT_CHARS}}")
        else:
            out.append(f"{shown:<{_SLOT_CHARS - 2}}✗ ", style=f"bold {ERROR}")
            near = seed_word_suggestions(token)
            if near:
                problems.append(f"word {index + 1}: did you mean {', '.join(near)}?")
    for problem in problems:
        out.append(f"\n{problem}", style=ERROR)
    if len(tokens) > SEED_PHRASE_WORDS:
        out.append(f"\n{len(tokens) - SEED_PHRASE_WORDS} word(s) too many", style=ERROR)
    return out


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
        busy_text="Calling… waiting for an answer. Escape cancels the call.",
        id="call-dialog",
    )


def recover_form(submit: Submit) -> FormScreen:
    """The "recover an identity" dialog; ``submit`` gets the seed phrase as typed."""
    return FormScreen(
        title="Recover a QuickoKey",
        hint=(
            f"Type or paste the {SEED_PHRASE_WORDS} words of your seed phrase, separated by "
            "spaces. The first four letters of each word are enough, and a word may appear "
            "more than once. To fix a word, move to it with the arrow keys: the others stay."
        ),
        placeholder="word1 word2 … word16",
        check=check_seed_phrase,
        submit=submit,
        busy_text="Recovering… reconnecting with the recovered identity",
        detail=seed_words_map,
        id="recover-dialog",
    )


def rename_form(chat: Chat, peers: list[Peer], rename: Rename) -> FormScreen:
    """The "name this person" dialog: a name of the user's own for a peer of ``chat``.

    With several peers, the name is typed after the peer's number (``2 Bob``).
    """
    several = len(peers) > 1
    listing = "  ".join(f"{n}. {peer.shown_name}" for n, peer in enumerate(peers, 1))
    hint = (
        "Only on this device, and forgotten when the app closes; their proven name stays "
        "shown after yours. Empty removes the name."
    )
    if several:
        hint += f" Type the number first, such as 2 Bob:  {listing}"

    def parse(text: str) -> tuple[Peer, str] | str:
        number, _, rest = text.strip().partition(" ")
        if several and not (number.isdigit() and 1 <= int(number) <= len(peers)):
            return f"start with the person's number, 1 to {len(peers)}"
        peer = peers[int(number) - 1] if several else peers[0]
        name = " ".join((rest if several else text).split())
        if len(name) > MAX_LOCAL_NAME_CHARS or not name.isprintable():
            return f"a name is at most {MAX_LOCAL_NAME_CHARS} printable characters"
        return peer, name

    def check(text: str) -> str | None:
        parsed = parse(text)
        return parsed if isinstance(parsed, str) else None

    async def submit(text: str) -> str | None:
        parsed = parse(text)
        if isinstance(parsed, str):
            return parsed
        await rename(chat, *parsed)
        return None

    current = chat.local_names.get(peers[0].address, "") if not several else ""
    return FormScreen(
        title="Name this person",
        hint=hint,
        placeholder=current or ("2 Bob" if several else "Bob from work"),
        check=check,
        submit=submit,
        busy_text="Saving…",
        id="rename-dialog",
    )
