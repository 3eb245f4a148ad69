"""The launcher: ./run.sh starts a relay and the right app, and stops the relay afterwards.

Without a display it must open the terminal app; with one (a real X server, Xvfb) the desktop
app. Both runs use a free loopback port so that they never meet a relay of someone else's.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
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


def stale_display() -> str:
    """A DISPLAY whose X server is gone (no socket in /tmp/.X11-unix)."""
    number = free_port() % 5000 + 5000
    while Path(f"/tmp/.X11-unix/X{number}").exists():
        number += 1
    return f":{number}"


@pytest.mark.parametrize("display", [None, "stale"])
def test_without_a_usable_display_it_opens_the_terminal_app(display: str | None) -> None:
    # No DISPLAY at all, or one whose X server went away (Qt would abort: run.sh checks first).
    port = free_port()
    master, slave = pty.openpty()
    env = environment(stale_display() if display else None)
    with launched(port, env, stdin=slave, stdout=slave, stderr=slave) as process:
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


# ---------------------------------------------------------------- what ./run.sh installs
#
# A copy of the launcher and scripts/setup.sh beside a fake .venv whose python records every
# pip call (and a fake `quicko` that records its arguments): what is installed, for which
# command, and that an installed extra is never installed again nor removed.


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "run.sh", tmp_path / "run.sh")
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts" / "system-deps.sh").write_text(
        f'echo system-deps "$@" >> "{tmp_path}/log"\n'
    )
    # scripts/compile.sh builds the relay's hot path (QUICKO_COMPILE=1); FAKE_COMPILE_FAILS=1
    # makes it fail as it does without a compiler.
    (tmp_path / "scripts" / "compile.sh").write_text(
        f'echo "compile PYTHON=$PYTHON" >> "{tmp_path}/log"\n'
        'if [ -n "${FAKE_COMPILE_FAILS:-}" ]; then echo "compile: no C compiler" >&2; exit 3; fi\n'
    )
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    # run.sh's own checks (`python - PORT` with a script on stdin) run in a real interpreter.
    python = f'[ "$1" = - ] && exec {sys.executable} "$@"\necho "python $*"'
    for name, line in (("python", python), ("quicko", 'echo "quicko $*"')):
        (bin_dir / name).write_text(f'#!/bin/sh\n{line} >> "{tmp_path}/log"\n')
        (bin_dir / name).chmod(0o755)
    # `quicko app --check` fails as the real one does with a stale DISPLAY when asked to.
    with (bin_dir / "quicko").open("a") as quicko:
        quicko.write(
            'if [ "$1 $2" = "app --check" ] && [ -n "${FAKE_STALE_DISPLAY:-}" ]; then\n'
            "  echo \"quicko app: cannot open the display '$DISPLAY' (is its server still"
            ' running, and may this user use it?)" >&2; exit 1\nfi\n'
        )
    return tmp_path


def run_in(
    sandbox: Path, *args: str, display: str | None = None, status: int = 0, **env: str
) -> list[str]:
    """Run the sandbox's run.sh; return (and clear) what it logged: pip and quicko calls, and
    its standard error's lines (prefixed ``stderr:``)."""
    environ = {**environment(display), **env}
    environ.pop("QUICKO_EXTRAS", None)
    environ.update(env)
    done = subprocess.run([str(sandbox / "run.sh"), *args], cwd=sandbox, env=environ,
                          capture_output=True, text=True, timeout=WAIT_S, check=False)  # fmt: skip
    assert done.returncode == status, done.stderr
    log = sandbox / "log"
    with log.open("a") as stream:
        stream.writelines(f"stderr: {line}\n" for line in done.stderr.splitlines())
    lines = [line for line in log.read_text().splitlines() if "compileall" not in line]
    log.unlink()
    return lines


def installs(lines: list[str]) -> list[str]:
    """The targets of the `pip install -e` calls among logged lines."""
    return [line.rsplit(" ", 1)[1] for line in lines if " -e " in line]


def test_a_command_installs_no_extra_and_the_apps_only_their_own(sandbox: Path) -> None:
    root = str(sandbox)
    assert installs(run_in(sandbox, "keygen")) == [root]
    assert installs(run_in(sandbox, "keygen")) == []  # the stamp says it is done
    assert installs(run_in(sandbox, "chat", "--relay", "ws://127.0.0.1:9")) == [f"{root}[tui]"]
    lines = run_in(sandbox, "--terminal", "--relay", "ws://127.0.0.1:9")
    assert installs(lines) == [] and "system-deps" not in lines
    assert lines[-1] == "quicko chat --relay ws://127.0.0.1:9"
    lines = run_in(sandbox, "--desktop", "--relay", "ws://127.0.0.1:9")
    assert installs(lines) == [f"{root}[desktop,tui]"]  # what is installed stays installed
    assert "system-deps" in lines
    stamp = (sandbox / ".venv" / ".quicko-installed").read_text().split()
    assert stamp[1] == "desktop,tui"


def test_no_developer_tool_is_installed_to_run_the_apps(sandbox: Path) -> None:
    lines = run_in(sandbox, "--relay", "ws://127.0.0.1:9")  # no display: the terminal app
    assert installs(lines) == [f"{sandbox}[tui]"]  # not [dev]: no pytest, mypy, ruff…


def test_a_venv_set_up_for_the_tests_is_used_as_it_is(sandbox: Path) -> None:
    project = sandbox / "pyproject.toml"
    digest = hashlib.sha256(project.read_bytes()).hexdigest()[:16]
    (sandbox / ".venv" / ".quicko-installed").write_text(f"{digest} dev\n")  # ./test.sh's stamp
    assert installs(run_in(sandbox, "--desktop", "--relay", "ws://127.0.0.1:9")) == []
    assert installs(run_in(sandbox, "chat")) == []
    # pyproject.toml changed: reinstall what was there (the tools too), never less.
    project.write_text(project.read_text() + "\n")
    assert installs(run_in(sandbox, "keygen")) == [f"{sandbox}[compile,desktop,dev,tui]"]
    assert installs(run_in(sandbox, "keygen", QUICKO_EXTRAS="dev")) == []


def test_quicko_compile_installs_the_compiler_and_builds_the_hot_path(sandbox: Path) -> None:
    lines = run_in(sandbox, "relay", "--port", "9", QUICKO_COMPILE="1")
    # Only the compiler's Debian packages for a relay (no Qt), the compile extra (mypyc, Cython),
    # the build with the venv's python, then the relay.
    assert "system-deps --no-desktop --compile" in lines
    assert installs(lines) == [f"{sandbox}[compile]"]
    assert f"compile PYTHON={sandbox}/.venv/bin/python" in lines
    assert "quicko relay --port 9" in lines
    # With a display and the desktop app: Qt's libraries too.
    lines = run_in(sandbox, "--desktop", "--relay", "ws://127.0.0.1:9", QUICKO_COMPILE="1")
    assert "system-deps --compile" in lines
    assert installs(lines) == [f"{sandbox}[compile,desktop]"]


def test_a_failed_compile_is_reported_and_the_relay_still_starts(sandbox: Path) -> None:
    lines = run_in(sandbox, "relay", QUICKO_COMPILE="1", FAKE_COMPILE_FAILS="1")
    assert "stderr: compile: no C compiler" in lines
    assert any("the relay runs its pure-Python path" in line for line in lines)
    assert "quicko relay" in lines  # started all the same


def test_without_quicko_compile_nothing_is_compiled(sandbox: Path) -> None:
    lines = run_in(sandbox, "relay")
    assert not [line for line in lines if line.startswith(("compile", "system-deps"))]
    assert installs(lines) == [str(sandbox)]


def test_a_display_that_cannot_be_opened_falls_back_to_the_terminal_app(sandbox: Path) -> None:
    lines = run_in(sandbox, "--relay", "ws://127.0.0.1:9", display=":9", FAKE_STALE_DISPLAY="1")
    quicko = [line for line in lines if line.startswith("quicko ")]
    assert quicko == ["quicko app --check", "quicko chat --relay ws://127.0.0.1:9"]
    assert [line for line in lines if line.startswith("stderr: run.sh")] == [
        "stderr: run.sh: cannot open the display ':9' (is its server still running, and may this "
        "user use it?); opening the terminal app instead"
    ]
    lines = run_in(sandbox, "--relay", "ws://127.0.0.1:9", display=":9")  # a display that works
    assert [line for line in lines if line.startswith("quicko ")] == [
        "quicko app --check",
        "quicko app --relay ws://127.0.0.1:9",
    ]


def test_desktop_with_a_display_that_cannot_be_opened_stops_before_the_relay(
    sandbox: Path,
) -> None:
    lines = run_in(sandbox, "--desktop", display=":9", status=1, FAKE_STALE_DISPLAY="1")
    assert [line for line in lines if line.startswith("quicko ")] == ["quicko app --check"]


def test_a_port_taken_by_another_program_is_named_with_the_fix(sandbox: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run([str(sandbox / "run.sh"), "--terminal", "--port", str(port)],
                              cwd=sandbox, env=environment(None), capture_output=True, text=True,
                              timeout=WAIT_S, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"run.sh: port {port} on 127.0.0.1 is taken by another program (not a Quicko2 relay): "
        "stop it, or use another port: ./run.sh --port N"
    )


@pytest.mark.parametrize("port", ["0", "65536", "abc", "99999999"])
def test_a_bad_port_is_one_line(sandbox: Path, port: str) -> None:
    done = subprocess.run([str(sandbox / "run.sh"), "--port", port], cwd=sandbox,
                          env=environment(None), capture_output=True, text=True, timeout=WAIT_S,
                          check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"run.sh: --port needs a number from 1 to 65535, got '{port}'\n"
