"""Process hardening (``quicko.cli.hardening``) and its hook in ``quicko`` (``--mlock``).

The real measures change the process they run in, so they are checked in child processes that
report their own state (``prctl(PR_GET_DUMPABLE)``, ``getrlimit``, ``/proc/self/status``); the
error paths of the C calls are checked in-process with a fake C library.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from quicko.cli import hardening, main
from quicko.cli.hardening import MEMLOCK_HELP, harden_process

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only measures")

#: Prints, as one JSON line, what the process under test looks like from the inside.
REPORT = textwrap.dedent(
    """
    import ctypes, json, resource, sys
    def report(**extra):
        libc = ctypes.CDLL(None)
        status = dict(
            line.split(":", 1) for line in open("/proc/self/status") if ":" in line
        )
        limits = [l for l in open("/proc/self/limits") if l.startswith("Max core file size")]
        print(json.dumps({
            "dumpable": libc.prctl(3, 0, 0, 0, 0),  # PR_GET_DUMPABLE
            "core": resource.getrlimit(resource.RLIMIT_CORE),
            "core_limits_line": limits[0].split()[4:6],
            "vm_locked_kb": int(status["VmLck"].split()[0]),
            "dont_write_bytecode": sys.dont_write_bytecode,
            **extra,
        }))
    """
)

#: Takes away the permission to lock memory: RLIMIT_MEMLOCK 0, and CAP_IPC_LOCK (with which root
#: ignores the limit) dropped from the process's effective and permitted sets with capset(2).
#: The process keeps its user, so it can still import from a checkout that only its owner may
#: read (a clone in a mode-700 directory); becoming user nobody could not.
DROP_MLOCK_PERMISSION = textwrap.dedent(
    """
    import ctypes, resource
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    class CapHeader(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class CapData(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]
    libc = ctypes.CDLL(None, use_errno=True)
    header, caps = CapHeader(0x20080522, 0), (CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    assert libc.capget(ctypes.byref(header), caps) == 0, ctypes.get_errno()
    caps[0].effective &= ~(1 << 14)  # CAP_IPC_LOCK
    caps[0].permitted &= ~(1 << 14)
    assert libc.capset(ctypes.byref(header), caps) == 0, ctypes.get_errno()
    """
)


#: The warning of --mlock under RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK.
NOT_LOCKING_AT_0 = (
    "--mlock: not locking memory: RLIMIT_MEMLOCK is 0 KiB, and a process with locked memory "
    f"could not grow past it; {MEMLOCK_HELP}"
)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (bounded), without writing bytecode."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def report_after(*code: str) -> dict[str, Any]:
    """Run ``code`` after :data:`REPORT`'s definitions; return the JSON it printed last."""
    done = run_python(REPORT + "".join(textwrap.dedent(part) for part in code))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@linux_only
def test_a_fresh_process_is_dumpable_before_hardening() -> None:
    state = report_after("report()")
    assert state["dumpable"] == 1
    assert state["vm_locked_kb"] == 0


@linux_only
def test_harden_process_disables_core_dumps_and_ptrace() -> None:
    state = report_after(
        """
        from quicko.cli.hardening import harden_process
        report(warnings=harden_process(mlock=False))
        """
    )
    assert state["warnings"] == []
    assert state["dumpable"] == 0
    assert state["core"] == [0, 0]
    assert state["core_limits_line"] == ["0", "0"]  # soft and hard, as the kernel shows them
    assert state["dont_write_bytecode"] is True
    assert state["vm_locked_kb"] == 0  # no --mlock, nothing locked


@linux_only
def test_mlock_locks_memory_where_permitted_or_says_why_not() -> None:
    state = report_after(
        """
        from quicko.cli.hardening import _has_cap_ipc_lock, harden_process
        import resource
        permitted = _has_cap_ipc_lock() or (
            resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] == resource.RLIM_INFINITY
        )
        report(warnings=harden_process(mlock=True), permitted=permitted)
        """
    )
    assert state["dumpable"] == 0
    assert state["core"] == [0, 0]
    if state["permitted"]:
        assert state["warnings"] == []
        assert state["vm_locked_kb"] > 0
    else:
        assert len(state["warnings"]) == 1
        assert MEMLOCK_HELP in state["warnings"][0]


@linux_only
def test_mlock_without_permission_warns_and_the_rest_still_applies() -> None:
    state = report_after(
        "from quicko.cli.hardening import _has_cap_ipc_lock, harden_process\n",
        DROP_MLOCK_PERMISSION,
        """
        assert not _has_cap_ipc_lock()
        report(warnings=harden_process(mlock=True))
        """,
    )
    assert state["warnings"] == [NOT_LOCKING_AT_0]
    assert "ulimit -l unlimited" in MEMLOCK_HELP
    assert "CAP_IPC_LOCK" in MEMLOCK_HELP
    assert state["vm_locked_kb"] == 0
    assert state["dumpable"] == 0
    assert state["core"] == [0, 0]


@linux_only
def test_mlock_under_a_finite_limit_locks_nothing_rather_than_fail_later() -> None:
    # A locked process could never grow past RLIMIT_MEMLOCK; the soft limit is raised first.
    state = report_after(
        "from quicko.cli.hardening import harden_process\n",
        DROP_MLOCK_PERMISSION.replace("(0, 0)", "(0, 1 << 20)"),
        "report(warnings=harden_process(mlock=True))\n",
    )
    assert state["warnings"] == [
        "--mlock: not locking memory: RLIMIT_MEMLOCK is 1024 KiB, and a process with locked "
        f"memory could not grow past it; {MEMLOCK_HELP}"
    ]
    assert state["vm_locked_kb"] == 0


@linux_only
def test_quicko_mlock_prints_one_warning_line_when_not_permitted() -> None:
    # `quicko --mlock keygen`: hardening runs first and says, in one line, why it cannot lock.
    done = run_python(
        "import os, sys\nfrom quicko.cli import main\n"
        + DROP_MLOCK_PERMISSION
        + textwrap.dedent(
            """
            sys.exit(main(["--mlock", "keygen", "--json"]))
            """
        )
    )
    assert done.returncode == 0
    assert done.stderr.splitlines() == [f"quicko: warning: {NOT_LOCKING_AT_0}"]


@pytest.fixture
def no_memlock_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the fake mlockall be called whatever this process's RLIMIT_MEMLOCK is."""
    monkeypatch.setattr(hardening, "_memlock_ceiling", lambda: None)


class FakeLibC:
    """A C library whose calls fail with chosen errno values, in order."""

    def __init__(self, *, prctl_errno: int = 0, mlockall_errnos: tuple[int, ...] = ()) -> None:
        self.prctl_errno = prctl_errno
        self.mlockall_errnos = list(mlockall_errnos)
        self.mlockall_flags: list[int] = []

    def prctl(self, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
        assert (option, arg2) == (4, 0)  # PR_SET_DUMPABLE, 0
        ctypes.set_errno(self.prctl_errno)
        return -1 if self.prctl_errno else 0

    def mlockall(self, flags: int) -> int:
        self.mlockall_flags.append(flags)
        code = self.mlockall_errnos.pop(0) if self.mlockall_errnos else 0
        ctypes.set_errno(code)
        return -1 if code else 0


class NoMlockLibC(FakeLibC):
    """A C library without mlockall."""

    def __getattribute__(self, name: str) -> Any:
        if name == "mlockall":
            raise AttributeError(name)
        return super().__getattribute__(name)


@linux_only
@pytest.mark.usefixtures("no_memlock_ceiling")
def test_mlock_enomem_says_how_to_raise_the_limit() -> None:
    warnings = hardening._lock_memory(FakeLibC(mlockall_errnos=(errno.ENOMEM,)))
    assert warnings == [
        f"--mlock: could not lock memory ({os.strerror(errno.ENOMEM)}); {MEMLOCK_HELP}"
    ]


@linux_only
@pytest.mark.usefixtures("no_memlock_ceiling")
def test_mlock_retries_without_onfault_on_an_old_kernel() -> None:
    libc = FakeLibC(mlockall_errnos=(errno.EINVAL, errno.EPERM))
    warnings = hardening._lock_memory(libc)
    assert libc.mlockall_flags == [1 | 2 | 4, 1 | 2]  # MCL_CURRENT|MCL_FUTURE, ±MCL_ONFAULT
    assert warnings == [
        f"--mlock: could not lock memory ({os.strerror(errno.EPERM)}); {MEMLOCK_HELP}"
    ]


@pytest.mark.usefixtures("no_memlock_ceiling")
def test_mlock_without_mlockall_in_the_c_library_warns() -> None:
    warnings = hardening._lock_memory(NoMlockLibC())
    assert warnings == ["--mlock: the C library has no mlockall; memory may be swapped to disk"]


@linux_only
def test_failed_prctl_is_a_warning_not_an_error() -> None:
    warnings = hardening._make_non_dumpable(FakeLibC(prctl_errno=errno.EINVAL))
    assert warnings == [
        f"non-dumpable: prctl(PR_SET_DUMPABLE, 0) failed ({os.strerror(errno.EINVAL)})"
    ]
    assert hardening._make_non_dumpable(FakeLibC()) == []


def test_an_unsupported_platform_gets_warnings_not_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "platform", "win32")
    warnings = harden_process(mlock=True)
    assert [warning.split(":")[0] for warning in warnings] == [
        "core dumps",
        "non-dumpable",
        "--mlock",
    ]
    assert sys.dont_write_bytecode is True


def test_a_non_linux_unix_warns_about_ptrace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    warnings = hardening._make_non_dumpable(FakeLibC())
    assert len(warnings) == 1
    assert "Linux-only" in warnings[0]


@pytest.mark.parametrize(("argv", "mlock"), [(["--mlock", "recover"], True), (["recover"], False)])
def test_quicko_hardens_before_every_command_and_prints_warnings(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    mlock: bool,
) -> None:
    calls: list[bool] = []

    def fake_harden(*, mlock: bool) -> list[str]:
        calls.append(mlock)
        return ["first thing", "second thing"]

    # quicko.cli.main is also the name of the function: patch the module itself.
    monkeypatch.setattr(sys.modules["quicko.cli.main"], "harden_process", fake_harden)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # recover stops: no seed phrase given
    assert main(argv) == 2
    assert calls == [mlock]
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["quicko: warning: first thing", "quicko: warning: second thing"]
    assert lines[2].startswith("quicko recover:")


def test_mlock_is_a_global_flag_before_the_command() -> None:
    with pytest.raises(SystemExit):
        main(["relay", "--mlock"])


def test_the_relay_logs_hardening_warnings_after_listening_not_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Scripts read the relay's first stderr line as its JSON "listening" line, so the relay
    # logs the warnings in its second line ("hardened") instead of printing them first.
    monkeypatch.setattr(sys.modules["quicko.cli.main"], "harden_process", lambda **_: ["x"])
    monkeypatch.setenv("QUICKO_RATE", "fast")  # the relay stops at its settings, never binds
    assert main(["--mlock", "relay"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [lines[0]] and lines[0].startswith("quicko relay: environment variable")
