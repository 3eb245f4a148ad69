"""Process hardening for every ``quicko`` command (DESIGN.md §10, docs/security.md).

:func:`harden_process` is called by :func:`quicko.cli.main.main` before any sub-command runs.
It makes the process keep its memory to itself, as far as the operating system allows:

- **No core dumps**: ``RLIMIT_CORE`` is set to ``(0, 0)``, so a crash writes no image of the
  process (keys, plaintext) to disk, and the limit cannot be raised again by this process.
- **Non-dumpable** (Linux): ``prctl(PR_SET_DUMPABLE, 0)``. Besides refusing core dumps, this
  stops other processes of the same user from attaching with ``ptrace`` (debuggers, ``gdb -p``)
  or reading ``/proc/<pid>/mem`` unless they hold ``CAP_SYS_PTRACE``. The kernel keeps the flag
  across ``fork`` and resets it for a new program at ``execve``.
- **Locked memory** (``quicko --mlock …``): ``mlockall(MCL_CURRENT | MCL_FUTURE)`` — with
  ``MCL_ONFAULT`` on Linux, so pages are locked as they are first touched instead of all at once
  — keeps the process's memory out of swap. It needs ``CAP_IPC_LOCK`` or an unlimited
  ``RLIMIT_MEMLOCK``: under a finite limit every later allocation past it would fail, so the
  process is not locked at all. Where it is not permitted, a warning says how to allow it.
- **No bytecode files**: ``sys.dont_write_bytecode``, so modules imported from now on write no
  ``.pyc`` file. Imports made before ``main()`` runs are covered only by
  ``PYTHONDONTWRITEBYTECODE=1`` or by installing with compiled bytecode.

Nothing here raises: what cannot be done is returned as one-line, human-readable warnings, and
the caller decides where to print them. No secret is involved.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
from typing import Final, Protocol

__all__ = ["MEMLOCK_HELP", "die_with_parent", "harden_process"]

# <linux/prctl.h>
_PR_SET_PDEATHSIG: Final = 1
_PR_SET_DUMPABLE: Final = 4
# <sys/mman.h>: the same values on Linux, the BSDs and macOS; MCL_ONFAULT is Linux-only (4.4+).
_MCL_CURRENT: Final = 1
_MCL_FUTURE: Final = 2
_MCL_ONFAULT: Final = 4
# <linux/capability.h>: the capability that exempts a process from RLIMIT_MEMLOCK.
_CAP_IPC_LOCK_BIT: Final = 14
_KIB: Final = 1 << 10

MEMLOCK_HELP: Final = (
    "allow it with `ulimit -l unlimited` (RLIMIT_MEMLOCK; LimitMEMLOCK=infinity in a systemd "
    "unit, --ulimit memlock=-1 for docker) or run with the CAP_IPC_LOCK capability"
)
"""How to permit ``--mlock``, appended to the warnings that concern it."""


class _LibC(Protocol):
    """The two C library functions this module calls (a fake can stand in for tests)."""

    def prctl(self, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int: ...

    def mlockall(self, flags: int) -> int: ...


def harden_process(*, mlock: bool) -> list[str]:
    """Harden the current process: no core dumps, non-dumpable, optionally locked memory.

    Args:
        mlock: also lock current and future memory out of swap (``quicko --mlock``).

    Returns:
        One human-readable line per measure that could not be applied (empty when all were).
        Never raises because a platform lacks a measure.
    """
    sys.dont_write_bytecode = True
    warnings = _disable_core_dumps()
    libc = _load_libc()
    warnings += _make_non_dumpable(libc)
    if mlock:
        warnings += _lock_memory(libc)
    return warnings


def die_with_parent(parent_pid: int) -> bool:
    """Have the kernel send this process SIGTERM when its parent dies (Linux), as a worker must.

    A ``quicko relay --workers N`` parent SIGKILLed cannot pass the signal on; without this its
    workers would keep serving, orphaned. Elsewhere nothing is done (the parent's handlers are
    all there is).

    Returns:
        ``False`` if the parent (``parent_pid``) is already gone: the caller should stop.
    """
    if sys.platform.startswith("linux"):
        import signal  # noqa: PLC0415

        libc = _load_libc()
        if libc is not None:
            with contextlib.suppress(AttributeError):  # a C library without prctl
                libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return os.getppid() == parent_pid  # the parent may have died before prctl took effect


def _load_libc() -> _LibC | None:
    """The C library of this process, or ``None`` where ctypes cannot reach it (Windows)."""
    if sys.platform == "win32":
        return None
    try:
        library = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - a POSIX Python without dlopen
        return None
    return _CLibC(library)


class _CLibC:
    """:class:`_LibC` over the real C library, with exact argument types."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._library = library

    def prctl(self, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
        function = self._library.prctl  # AttributeError where there is no prctl
        function.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
        function.restype = ctypes.c_int
        result: int = function(option, arg2, arg3, arg4, arg5)
        return result

    def mlockall(self, flags: int) -> int:
        function = self._library.mlockall  # AttributeError where there is no mlockall
        function.argtypes = [ctypes.c_int]
        function.restype = ctypes.c_int
        result: int = function(flags)
        return result


def _disable_core_dumps() -> list[str]:
    """Set ``RLIMIT_CORE`` to ``(0, 0)``."""
    if sys.platform == "win32":
        return ["core dumps: cannot be disabled on Windows (no RLIMIT_CORE)"]
    import resource  # noqa: PLC0415  # POSIX only

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        return [f"core dumps: could not set RLIMIT_CORE to 0 ({_describe(exc)})"]
    return []


def _make_non_dumpable(libc: _LibC | None) -> list[str]:
    """``prctl(PR_SET_DUMPABLE, 0)`` on Linux; a warning elsewhere."""
    if libc is None or not sys.platform.startswith("linux"):
        return [
            "non-dumpable: prctl(PR_SET_DUMPABLE) is Linux-only; other processes of this user "
            "may be able to attach a debugger and read this process's memory"
        ]
    try:
        failed = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0
    except AttributeError:  # pragma: no cover - a Linux C library without prctl
        return ["non-dumpable: the C library has no prctl"]
    if failed:
        reason = os.strerror(ctypes.get_errno())
        return [f"non-dumpable: prctl(PR_SET_DUMPABLE, 0) failed ({reason})"]
    return []


def _lock_memory(libc: _LibC | None) -> list[str]:
    """``mlockall`` of current and future pages, or a warning that says how to permit it."""
    if libc is None:
        return ["--mlock: memory locking is not available on this platform; memory may be swapped"]
    ceiling = _memlock_ceiling()
    if ceiling is not None:
        return [
            f"--mlock: not locking memory: RLIMIT_MEMLOCK is {ceiling // _KIB} KiB, and a "
            f"process with locked memory could not grow past it; {MEMLOCK_HELP}"
        ]
    flags = _MCL_CURRENT | _MCL_FUTURE
    if sys.platform.startswith("linux"):
        flags |= _MCL_ONFAULT
    try:
        code = _mlockall(libc, flags)
        if code == errno.EINVAL and flags & _MCL_ONFAULT:  # a kernel older than 4.4
            code = _mlockall(libc, flags & ~_MCL_ONFAULT)
    except AttributeError:
        return ["--mlock: the C library has no mlockall; memory may be swapped to disk"]
    if code != 0:
        return [f"--mlock: could not lock memory ({os.strerror(code)}); {MEMLOCK_HELP}"]
    return []


def _mlockall(libc: _LibC, flags: int) -> int:
    """Call ``mlockall(flags)``; return 0 or the ``errno`` of the failure."""
    ctypes.set_errno(0)
    if libc.mlockall(flags) == 0:
        return 0
    return ctypes.get_errno() or errno.EPERM


def _memlock_ceiling() -> int | None:
    """The ``RLIMIT_MEMLOCK`` that would cap a locked process, in bytes; ``None`` if none.

    With ``MCL_FUTURE`` every new mapping is locked too, so a process without ``CAP_IPC_LOCK``
    could never grow past ``RLIMIT_MEMLOCK``: its allocations would fail later, at any time.
    The soft limit is first raised to the hard one, which any process may do.
    """
    if sys.platform == "win32" or _has_cap_ipc_lock():  # pragma: no cover - Windows
        return None
    import resource  # noqa: PLC0415  # POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (hard, hard))
            soft = hard
        except (OSError, ValueError):  # pragma: no cover - raising soft to hard is allowed
            pass
    return None if soft == resource.RLIM_INFINITY else soft


def _has_cap_ipc_lock() -> bool:
    """Whether this process holds ``CAP_IPC_LOCK`` (Linux ``/proc/self/status``; else False)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_IPC_LOCK_BIT & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _describe(exc: BaseException) -> str:
    """A short description of an exception: its OS error text, or its message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
