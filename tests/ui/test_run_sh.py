"""The launcher: ./run.sh starts a relay and the right app, and stops the relay afterwards.

Without a display it must open the terminal app; with one (a real X server, Xvfb) the desktop
app. Both runs use a free loopback port so that they never meet a relay of someone else's.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
            body: dict[str, object] = json.loads(reply.read())
            return body
    except OSError:
        return None


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)  # polling an outside process's state: there is no event to wait on
    pytest.fail(f"timed out waiting for {what}")


def group_commands(session_id: int) -> list[str]:
    """The command lines of every process in the session ``session_id``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session_id:
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            continue
    return found


def environment(display: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env.pop("QT_QPA_PLATFORM", None)
    if display is not None:
        env["DISPLAY"] = display
    env["TERM"] = "xterm-256color"
    return env


@contextmanager
def launched(port: int, env: dict[str, str], **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # our own launcher
        [str(ROOT / "run.sh"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        **popen,  # type: ignore[call-overload]  # stdin/stdout/stderr only
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=WAIT_S)


def test_help_explains_the_options() -> None:
    result = subprocess.run(  # our own launcher
        [str(ROOT / "run.sh"), "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--relay URL", "--desktop", "--terminal", "--port N"):
        assert option in result.stdout


def test_without_a_display_it_opens_the_terminal_app() -> None:
    port = free_port()
    master, slave = pty.openpty()
    with launched(port, environment(None), stdin=slave, stdout=slave, stderr=slave) as process:
        os.close(slave)
        wait_until(lambda: health(port) is not None, "the relay run.sh starts")
        seen = bytearray()

        def terminal_app_drawn() -> bool:
            while select.select([master], [], [], 0)[0]:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:
                    return False
            return b"Quicko" in seen and b"\x1b[" in seen

        wait_until(terminal_app_drawn, "the terminal app to draw")
        commands = group_commands(process.pid)
        assert any(" chat --relay " in c for c in commands), commands
        assert not any(" app --relay " in c for c in commands), commands
        wait_until(lambda: (health(port) or {}).get("connections") == 1, "the app to connect")
        os.write(master, b"\x11")  # ctrl+q quits the terminal app
        assert process.wait(timeout=WAIT_S) == 0
    os.close(master)
    assert health(port) is None, "run.sh must stop the relay it started"


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
def test_with_a_display_it_opens_the_desktop_app(tmp_path: Path) -> None:
    port = free_port()
    display = f":{free_port() % 5000 + 100}"
    xvfb = subprocess.Popen(  # a private X server for this test
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), "Xvfb")
        env = environment(display)
        env["HOME"] = str(tmp_path)
        with launched(port, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
            wait_until(
                lambda: (health(port) or {}).get("connections") == 1, "the desktop app to connect"
            )
            commands = group_commands(process.pid)
            assert any(" app --relay " in c for c in commands), commands
        assert health(port) is None, "run.sh must stop the relay it started"
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=WAIT_S)
