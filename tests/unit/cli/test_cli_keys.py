from __future__ import annotations

import getpass
import io
import json
import secrets
import subprocess
import sys

import pytest

from quicko.cli import keys, main
from quicko.cli.main import REGISTRARS, build_parser
from quicko.errors import InviteCodeError
from quicko.identity import WORDS, Identity

ROOT = bytes([*range(15), 0xAE])  # 0x00…0x0e and their checksum (protocol.md §6.2)
KNOWN = Identity.from_root(ROOT)
PHRASE = " ".join(KNOWN.seed_phrase)
RECORD_KEYS = {"quickokey", "display_name", "seed_phrase", "x25519_public", "ed25519_public"}


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fixed_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "token_bytes", lambda n: ROOT[:n])


def feed_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def run_quicko(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quicko", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- parser


def test_parser_registers_keygen_and_recover() -> None:
    assert keys.register in REGISTRARS
    parser = build_parser()
    assert parser.parse_args(["keygen"]).handler is keys.run_keygen
    assert parser.parse_args(["recover", "--json"]).handler is keys.run_recover


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "keygen" in err
    assert "recover" in err


def test_recover_refuses_words_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["recover", *KNOWN.seed_phrase])
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# -- keygen


@pytest.mark.usefixtures("fixed_random")
def test_keygen_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    out = capsys.readouterr().out
    assert f"QuickoKey:     {KNOWN.quickokey}\n" in out
    assert f"Display name:  {KNOWN.display_name}\n" in out
    assert " 1. abandon " in out
    assert "16. puppy" in out
    numbered = [line for line in out.splitlines() if line.startswith("  ") and ". " in line]
    assert len(numbered) == 4
    assert "only backup" in out


@pytest.mark.usefixtures("fixed_random")
def test_keygen_human_output_can_be_pasted_into_recover(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["keygen"])
    out = capsys.readouterr().out
    block = "\n".join(line for line in out.splitlines() if line.startswith("  "))
    feed_stdin(monkeypatch, block)
    assert main(["recover"]) == 0
    assert KNOWN.quickokey in capsys.readouterr().out


@pytest.mark.usefixtures("fixed_random")
def test_keygen_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    record = json.loads(out)
    assert set(record) == RECORD_KEYS
    assert record["quickokey"] == KNOWN.quickokey
    assert record["display_name"] == KNOWN.display_name
    assert record["seed_phrase"] == KNOWN.seed_phrase
    assert record["x25519_public"] == KNOWN.public.x25519_public.hex()
    assert record["ed25519_public"] == KNOWN.public.ed25519_public.hex()


def test_keygen_makes_a_new_identity_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--json"])
    main(["keygen", "--json"])
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["quickokey"] != second["quickokey"]
    assert first["seed_phrase"] != second["seed_phrase"]


# -- recover


def test_recover_human(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    feed_stdin(monkeypatch, PHRASE + "\n")
    assert main(["recover"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        f"QuickoKey:     {KNOWN.quickokey}\nDisplay name:  {KNOWN.display_name}\n"
    )
    assert not any(word in captured.out for word in KNOWN.seed_phrase)
    assert captured.err == ""


def test_recover_json_normalises_the_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, ", ".join(word[:4].upper() for word in KNOWN.seed_phrase))
    assert main(["recover", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == RECORD_KEYS
    assert record["quickokey"] == KNOWN.quickokey
    assert record["seed_phrase"] == KNOWN.seed_phrase


def test_recover_accepts_keygen_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, json.dumps({"seed_phrase": KNOWN.seed_phrase, "quickokey": "x"}))
    assert main(["recover", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quickokey"] == KNOWN.quickokey


@pytest.mark.parametrize(
    "text", ["{not json", "{}", '{"seed_phrase": "abandon"}', '{"seed_phrase": [1, 2]}']
)
def test_recover_rejects_json_without_words(
    text: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, text)
    assert main(["recover"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith('quicko recover: the input looks like JSON but has no "seed')
    assert captured.err.endswith("or type the 16 words.\n")


def test_recover_wrong_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_stdin(monkeypatch, " ".join(KNOWN.seed_phrase[:15]))
    assert main(["recover"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "quicko recover: expected 16 words, got 15. "
        "Type all 16 words, in order, separated by spaces.\n"
    )


def test_recover_unknown_word(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    words = list(KNOWN.seed_phrase)
    words[4] = "fxi"
    feed_stdin(monkeypatch, " ".join(words))
    assert main(["recover", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "quicko recover: word 5 'fxi' is not in the word list; did you mean: "
    )
    assert "fix" in captured.err
    assert captured.err.endswith("? Check the word and try again.\n")


def test_recover_unknown_word_without_suggestion(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    words = list(KNOWN.seed_phrase)
    words[0] = "qqqqqqq"
    feed_stdin(monkeypatch, " ".join(words))
    assert main(["recover"]) == 2
    assert capsys.readouterr().err == (
        "quicko recover: word 1 'qqqqqqq' is not in the word list. Check the word and try again.\n"
    )


def test_recover_prompts_without_echo_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PHRASE

    monkeypatch.setattr(sys, "stdin", FakeTerminal("this must not be read"))
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert main(["recover"]) == 0
    assert KNOWN.quickokey in capsys.readouterr().out
    assert prompts == ["Seed phrase (16 words, not shown as you type): "]
    assert "16 words" in prompts[0]


def test_recover_end_of_file_at_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_getpass(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert main(["recover"]) == 2
    assert "expected 16 words, got 0" in capsys.readouterr().err


def test_recover_interrupted_at_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_getpass(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert main(["recover"]) == 130
    assert capsys.readouterr().out == ""


def test_read_seed_phrase_reads_a_bounded_amount() -> None:
    text = "a" * (keys.MAX_INPUT_CHARS + 10)
    assert len(keys.read_seed_phrase(io.StringIO(text))) == keys.MAX_INPUT_CHARS


def test_explain_other_input_errors() -> None:

    assert keys._explain(InviteCodeError("bad code")) == "bad code."


# -- the real command, end to end


def test_subprocess_keygen_json_piped_into_recover_json() -> None:
    keygen = run_quicko("keygen", "--json")
    assert keygen.returncode == 0, keygen.stderr
    made = json.loads(keygen.stdout)

    piped = run_quicko("recover", "--json", stdin=keygen.stdout)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout) == made

    typed = run_quicko("recover", "--json", stdin=" ".join(made["seed_phrase"]) + "\n")
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout)["quickokey"] == made["quickokey"]


def test_subprocess_changed_or_unknown_word() -> None:
    made = json.loads(run_quicko("keygen", "--json").stdout)
    words = list(made["seed_phrase"])
    # A changed valid word no longer recovers another identity (issue 12, item 6): the 16th
    # word is the checksum of the others (protocol.md §6.2), so changing it is always caught.
    last = words[15]
    words[15] = WORDS[(WORDS.index(last) + 1) % len(WORDS)]
    changed = run_quicko("recover", "--json", stdin=" ".join(words))
    assert changed.returncode == 2 and changed.stdout == ""
    assert "not a valid QuickoKey phrase" in changed.stderr
    words[15] = last

    words[6] = "notaword"
    unknown = run_quicko("recover", stdin=" ".join(words))
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr.startswith("quicko recover: word 7 'notaword' is not in the word list")
