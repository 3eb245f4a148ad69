from __future__ import annotations

import pytest

from quicko.cli import app
from quicko.cli.main import REGISTRARS, build_parser, main


def test_app_is_registered_with_a_default_relay() -> None:
    assert app.register in REGISTRARS
    args = build_parser().parse_args(["app"])
    assert args.relay == app.DEFAULT_RELAY_URL and args.handler is app.run_app_command
    args = build_parser().parse_args(["app", "--relay", "wss://relay.example:443/ws"])
    assert args.relay == "wss://relay.example:443/ws"


def test_app_refuses_a_relay_that_is_not_a_websocket_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["app", "--relay", "http://127.0.0.1:9900"]) == 2
    assert "ws:// or wss://" in capsys.readouterr().err


def test_app_explains_when_there_is_no_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["app"]) == app.EXIT_UNAVAILABLE
    assert "no display" in capsys.readouterr().err
