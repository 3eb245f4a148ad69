from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

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
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use ws://127.0.0.1:9900" in err


def test_app_explains_when_there_is_no_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["app"]) == app.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    if importlib.util.find_spec("PySide6") is not None:
        assert "no display" in err
    assert err.count("\n") == 1 and "quicko chat" in err and "--terminal" in err
    assert "offscreen" not in err  # an invisible window is no answer


def unused_x_display() -> str:
    """A display number with no X server (no socket in /tmp/.X11-unix), like a stale DISPLAY."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        number = sock.getsockname()[1] % 5000 + 5000
    while Path(f"/tmp/.X11-unix/X{number}").exists():
        number += 1
    return f":{number}"


needs_qt = pytest.mark.skipif(
    importlib.util.find_spec("PySide6") is None, reason="PySide6 is not installed"
)


@needs_qt
def test_a_display_that_cannot_be_opened_is_found_before_qt_aborts() -> None:
    display = unused_x_display()
    problem = app.display_problem({"DISPLAY": display, "PATH": "/usr/bin:/bin"})
    assert problem is not None and f"cannot open the display '{display}'" in problem
    assert app.display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


@needs_qt
def test_app_with_a_stale_display_says_so_in_one_line_and_suggests_the_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", unused_x_display())
    assert main(["app"]) == app.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the display" in err and "quicko chat" in err
    assert main(["app", "--check"]) == app.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the display" in err and "quicko chat" not in err


def test_check_succeeds_where_a_window_can_open(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    status = main(["app", "--check"])
    if importlib.util.find_spec("PySide6") is None:
        assert status == app.EXIT_UNAVAILABLE and "needs PySide6" in capsys.readouterr().err
    else:
        assert status == 0 and capsys.readouterr().err == ""
