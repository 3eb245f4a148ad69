"""``quicko keygen`` and ``quicko recover``: make an identity, or recover it from its 16 words.

The seed phrase is secret, so ``recover`` reads it from standard input only — never from the
command line, where other users could see it in the process list and the shell would keep it
in its history. On a terminal it is read with :func:`getpass.getpass`, without echo.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Final, TextIO

from quicko.errors import InputError, SeedPhraseError

if TYPE_CHECKING:
    from argparse import _SubParsersAction

    from quicko.identity import Identity

__all__ = ["identity_record", "read_seed_phrase", "register", "run_keygen", "run_recover"]

EXIT_INPUT_ERROR: Final = 2
"""Exit status when the input is not valid (as argparse uses for usage errors)."""

MAX_INPUT_CHARS: Final = 64 * 1024
"""Most characters ``recover`` reads from standard input; a seed phrase is far shorter."""

_WORDS_PER_LINE: Final = 4
_PROMPT: Final = "Seed phrase ({words} words, not shown as you type): "
_WARNING: Final = (
    "These 16 words are the only backup of this identity: nothing is stored anywhere.\n"
    "Write them down, in order, and keep them private. Anyone who has them can act as you;\n"
    "if you lose them, this QuickoKey is gone for good. Recover it with `quicko recover`."
)


def register(subparsers: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keygen`` and ``recover`` sub-commands to the ``quicko`` parser."""
    keygen = subparsers.add_parser(
        "keygen",
        help="make a new identity and show its QuickoKey and 16-word seed phrase",
        description="Make a new identity: a QuickoKey address and the 16 words that back it up.",
    )
    keygen.add_argument("--json", action="store_true", help="print one JSON object")
    keygen.set_defaults(handler=run_keygen)

    recover = subparsers.add_parser(
        "recover",
        help="recover an identity from its 16-word seed phrase, read from standard input",
        description=(
            "Recover an identity from its 16-word seed phrase. The words are read from "
            "standard input (without echo on a terminal), never from the command line."
        ),
    )
    recover.add_argument("--json", action="store_true", help="print one JSON object")
    recover.set_defaults(handler=run_recover)


def identity_record(identity: Identity) -> dict[str, str | list[str]]:
    """Return the JSON object ``keygen --json`` and ``recover --json`` print.

    It contains the seed phrase: print it only where the user asked for it.
    """
    public = identity.public
    return {
        "quickokey": public.quickokey,
        "display_name": public.display_name,
        "seed_phrase": identity.seed_phrase,
        "x25519_public": public.x25519_public.hex(),
        "ed25519_public": public.ed25519_public.hex(),
    }


def run_keygen(args: argparse.Namespace) -> int:
    """Handle ``quicko keygen``: make an identity from the OS random source and print it."""
    import secrets  # noqa: PLC0415 (start-up time: main.py)

    from quicko.identity import Identity  # noqa: PLC0415

    identity = Identity.generate(secrets.token_bytes)
    try:
        if args.json:
            print(json.dumps(identity_record(identity)))
            return 0
        print(f"QuickoKey:     {identity.quickokey}")
        print(f"Display name:  {identity.display_name}")
        print()
        print("Seed phrase:")
        print(_numbered(identity.seed_phrase))
        print()
        print(_WARNING)
        return 0
    finally:
        identity.wipe()


def run_recover(args: argparse.Namespace) -> int:
    """Handle ``quicko recover``: read the seed phrase from standard input, print the identity."""
    from quicko.identity import Identity  # noqa: PLC0415 (start-up time: main.py)

    try:
        text = read_seed_phrase(sys.stdin)
        identity = Identity.from_seed_phrase(_words_from_input(text))
    except InputError as exc:
        print(f"quicko recover: {_explain(exc)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    try:
        if args.json:
            print(json.dumps(identity_record(identity)))
        else:
            print(f"QuickoKey:     {identity.quickokey}")
            print(f"Display name:  {identity.display_name}")
        return 0
    finally:
        identity.wipe()


def read_seed_phrase(stream: TextIO) -> str:
    """Read a seed phrase: with a prompt and no echo on a terminal, else the whole stream."""
    if stream.isatty():
        import getpass  # noqa: PLC0415 (start-up time: main.py)

        from quicko.identity import SEED_PHRASE_WORDS  # noqa: PLC0415

        try:
            return getpass.getpass(_PROMPT.format(words=SEED_PHRASE_WORDS))
        except EOFError:
            return ""
    return stream.read(MAX_INPUT_CHARS)


def _words_from_input(text: str) -> str:
    """Return the words of ``text``, taking them from ``keygen --json`` output if it is that.

    Raises:
        InputError: the text looks like JSON but has no ``seed_phrase`` list of words.
    """
    if not text.lstrip().startswith("{"):
        return text
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    words = record.get("seed_phrase") if isinstance(record, dict) else None
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        raise InputError(
            'the input looks like JSON but has no "seed_phrase" list of words. '
            "Pipe in the output of `quicko keygen --json`, or type the 16 words."
        )
    return " ".join(words)


def _explain(exc: InputError) -> str:
    """Return the message of ``exc`` followed by how to fix the input."""
    from quicko.identity import SEED_PHRASE_WORDS  # noqa: PLC0415 (start-up time: main.py)

    message = str(exc)
    if not message.endswith((".", "?")):
        message += "."
    if isinstance(exc, SeedPhraseError) and exc.position is not None:
        return f"{message} Check the word and try again."
    if isinstance(exc, SeedPhraseError):
        return f"{message} Type all {SEED_PHRASE_WORDS} words, in order, separated by spaces."
    return message


def _numbered(words: list[str]) -> str:
    """Lay the words out numbered, four to a line."""
    width = max(len(word) for word in words)
    cells = [f"{number:>2}. {word:<{width}}" for number, word in enumerate(words, 1)]
    lines = [
        "  ".join(cells[start : start + _WORDS_PER_LINE]).rstrip()
        for start in range(0, len(cells), _WORDS_PER_LINE)
    ]
    return "\n".join(f"  {line}" for line in lines)
