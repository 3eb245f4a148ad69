"""``quicko chat``: its parser, its refusals, the environment it cleans before Textual starts."""

from __future__ import annotations

import argparse

import pytest

from quicko.cli import chat
from quicko.cli.main import build_parser

pytestmark = pytest.mark.ui


def test_chat_is_a_sub_command_with_a_relay_option() -> None:
    args = build_parser().parse_args(["chat", "--relay", "wss://relay.example:443/ws"])
    assert args.handler is chat.run_chat_command
    assert args.relay == "wss://relay.example:443/ws"
    assert build_parser().parse_args(["chat"]).relay == chat.DEFAULT_RELAY_URL


def test_a_relay_that_is_not_a_websocket_url_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["chat", "--relay", "http://127.0.0.1:9900"])
    assert args.handler(args) == 2
    assert "a relay speaks WebSocket, not HTTP: use ws://127.0.0.1:9900" in capsys.readouterr().err


def test_without_a_terminal_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status = chat.run_chat_command(argparse.Namespace(relay="ws://127.0.0.1:9"))
    assert status == chat.EXIT_UNAVAILABLE  # pytest captures stdin and stdout: no TTY
    assert "needs a terminal" in capsys.readouterr().err


def test_textual_output_variables_are_removed() -> None:
    environ = {
        "TEXTUAL_LOG": "/tmp/textual.log",  # a value only, nothing is written
        "TEXTUAL_SCREENSHOT": "5",
        "TEXTUAL": "devtools,debug,other",
        "TERM": "xterm-256color",
    }
    chat.scrub_textual_environment(environ)
    assert environ == {"TEXTUAL": "other", "TERM": "xterm-256color"}
    environ = {"TEXTUAL": "devtools"}
    chat.scrub_textual_environment(environ)
    assert environ == {}
