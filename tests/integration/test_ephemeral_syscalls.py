"""Nothing is written to disk: system-call traces of a relay and a client (DESIGN.md §10).

A real ``quicko relay`` runs under ``strace`` while real authenticated WebSocket clients drive a
whole conversation through it (Hello, Join, KeyExchange, Messages both ways with Acks and
receipts, register/lookup, a call, the offline buffer across a reconnect, /health, /metrics);
a client process runs under ``strace`` while it holds an end-to-end encrypted chat (invite-code
PAKE, Double Ratchet texts both ways, delivery and read receipts) through a real relay. Each
trace must show no ``open*`` that could write (``O_WRONLY``, ``O_RDWR``, ``O_CREAT``,
``O_TRUNC``, ``O_APPEND``, ``O_TMPFILE``) outside :data:`ALLOWED_WRITE_OPENS`, and no call
that creates, renames, links, removes or truncates a file at all — from the first instruction
of the interpreter, not only after start-up. Both processes run with ``PYTHONDONTWRITEBYTECODE=1``,
as an installed product should (bytecode compiled at install time); otherwise the interpreter
itself would cache ``.pyc`` files for modules imported before ``main()`` runs.

The traces also show that the process hardened itself (docs/security.md): ``RLIMIT_CORE`` set
to 0, ``PR_SET_DUMPABLE`` cleared and, with ``--mlock``, ``mlockall``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from relay_support import RelayClient, http_get, join_key, register_key, relay_url

from quicko.protocol import (
    Ack,
    AckStatus,
    CallPeer,
    CallResponse,
    CallStatus,
    Join,
    Joined,
    KeyExchange,
    Lobby,
    LobbyMessage,
    LookupKey,
    LookupResponse,
    Message,
    PeerJoined,
    PeerLeft,
    Received,
    RegisterAck,
)
from quicko.relay.server import RelayServer

STRACE: Final = shutil.which("strace")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="strace traces Linux only"),
    pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt-get install strace)"),
]

#: Seconds for a traced process to start, to finish, or for one whole conversation.
PROCESS_TIMEOUT_S: Final = 60.0

#: Calls that open a path; they write if their flags say so.
OPEN_CALLS: Final = frozenset({"open", "openat", "openat2"})
#: Calls that change the file system whatever their arguments: any one is a failure.
MUTATING_CALLS: Final = frozenset(
    {
        "creat",
        "rename", "renameat", "renameat2",
        "link", "linkat", "symlink", "symlinkat",
        "unlink", "unlinkat", "rmdir",
        "mkdir", "mkdirat", "mknod", "mknodat",
        "truncate", "ftruncate",
    }
)  # fmt: skip
#: The hardening calls of :func:`quicko.cli.hardening.harden_process`, traced as evidence.
HARDENING_CALLS: Final = frozenset({"prctl", "prlimit64", "setrlimit", "mlockall"})
#: ``?name``: not an error where the architecture lacks the call (aarch64 has no ``open``).
STRACE_FILTER: Final = "trace=" + ",".join(
    f"?{name}" for name in sorted(OPEN_CALLS | MUTATING_CALLS | HARDENING_CALLS)
)
#: Open flags that let the opener change a file (``O_TMPFILE`` makes an unnamed one).
WRITE_FLAGS: Final = frozenset(
    {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE"}
)

#: Paths that may be opened for writing, and why that writes nothing to disk. Read-only opens
#: (Python modules, shared libraries, /etc/ssl, /proc/self/status read by --mlock, ...) are not
#: listed: they cannot write. Sockets, pipes and eventfds are made by socket(), pipe2() and
#: eventfd2(), never by open(), so they need no entry. Neither entry appears in today's traces;
#: they are the only two a future front-end may legitimately need.
ALLOWED_WRITE_OPENS: Final[dict[str, str]] = {
    # The null device discards what is written; a library may open it to silence output.
    "/dev/null": "discards everything written to it",
    # The controlling terminal is a character device, not storage: a terminal UI draws there.
    "/dev/tty": "the terminal: shown on screen, never stored",
}

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<call>\w+)\((?P<args>.*)$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FLAG = re.compile(r"\bO_[A-Z0-9_]+\b")


@dataclass(frozen=True, slots=True)
class Call:
    """One system call of an ``strace -f`` trace (the line where it started)."""

    pid: int
    name: str
    args: str
    line: str

    @property
    def path(self) -> str | None:
        """The first quoted argument: the path of an ``open*`` call."""
        match = _QUOTED.search(self.args)
        return match.group(1) if match else None

    @property
    def flags(self) -> frozenset[str]:
        """Every ``O_*`` flag named in the arguments."""
        return frozenset(_FLAG.findall(self.args))


def parse_trace(text: str) -> list[Call]:
    """The calls of an ``strace -f -qq`` trace.

    A call interrupted by another thread appears as ``NAME(args <unfinished ...>`` and later
    ``<... NAME resumed>) = result``; its arguments (path, flags) are on the first line, which
    is the one kept. Signal lines (``--- SIGTERM ...``) and exit lines are skipped.
    """
    calls = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is not None:
            calls.append(Call(int(match["pid"]), match["call"], match["args"], line))
    return calls


def disk_writes(calls: list[Call]) -> list[str]:
    """The trace lines that opened a path for writing outside the allow-list, or mutated one."""
    return [call.line for call in calls if call.name in MUTATING_CALLS or _writes(call)]


def _writes(call: Call) -> bool:
    """Whether ``call`` opens a path that is not allowed for writing, with a write flag."""
    return (
        call.name in OPEN_CALLS
        and bool(call.flags & WRITE_FLAGS)
        and call.path not in ALLOWED_WRITE_OPENS
    )


def assert_hardened(calls: list[Call], *, mlock: bool) -> None:
    """The trace shows ``harden_process``: core dumps off, non-dumpable, ``mlockall``."""
    lines = [call.line for call in calls if call.name in HARDENING_CALLS]
    core_off = re.compile(r"RLIMIT_CORE, \{rlim_cur=0, rlim_max=0\}.* = 0$")
    assert any(core_off.search(line) for line in lines), lines
    assert any("PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0" in line for line in lines), lines
    assert any(line.split()[1].startswith("mlockall(") for line in lines) is mlock, lines


def report(offending: list[str], trace: str) -> str:
    """An assertion message: the offending lines and the size of the trace."""
    shown = "\n".join(offending[:40])
    return f"{len(offending)} disk write(s) in a trace of {len(trace.splitlines())} lines:\n{shown}"


def strace_argv(trace: Path, *command: str) -> list[str]:
    """``strace`` following every thread and child, full path strings, into ``trace``."""
    assert STRACE is not None
    return [STRACE, "-f", "-qq", "-s", "4096", "-e", STRACE_FILTER, "-o", str(trace), *command]


def product_environment() -> dict[str, str]:
    """This environment without QUICKO_* settings, and with no bytecode caching."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QUICKO_")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return environment


def traced_child(strace_pid: int) -> int:
    """The pid of the process ``strace`` started (its only child)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == strace_pid:
            return int(entry.name)
    raise AssertionError(f"strace (pid {strace_pid}) has no child")


def proc_field(pid: int, name: str, field: str) -> str:
    """The value of a line of ``/proc/<pid>/<name>`` that starts with ``field``."""
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field):
            return line[len(field) :].strip(" :\t")
    raise AssertionError(f"no {field!r} in /proc/{pid}/{name}")


# --------------------------------------------------------------------------- the checker


def test_the_checker_flags_writes_and_mutations_and_nothing_else() -> None:
    trace = textwrap.dedent(
        """\
        10 openat(AT_FDCWD, "/usr/lib/python3.11/os.py", O_RDONLY|O_CLOEXEC) = 3
        10 openat(AT_FDCWD, "/proc/self/status", O_RDONLY|O_CLOEXEC) = 3
        10 openat(AT_FDCWD, "/dev/null", O_WRONLY|O_CLOEXEC) = 4
        11 openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666 <unfinished ...>
        10 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
        11 <... openat resumed>) = 5
        10 openat2(AT_FDCWD, "/var/a", {flags=O_RDWR|O_CLOEXEC, resolve=0}, 24) = 6
        10 mkdir("/work/__pycache__", 0777) = -1 EEXIST (File exists)
        10 ftruncate(6, 0) = 0
        10 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0
        """
    )
    calls = parse_trace(trace)
    assert [call.pid for call in calls][:4] == [10, 10, 10, 11]
    assert calls[3].path == "/tmp/x"
    assert disk_writes(calls) == [
        trace.splitlines()[3],
        trace.splitlines()[6],
        trace.splitlines()[7],
        trace.splitlines()[8],
    ]


async def test_the_trace_catches_a_real_write(tmp_path: Path) -> None:
    trace = tmp_path / "write.trace"
    target = tmp_path / "evidence.txt"
    process = await asyncio.create_subprocess_exec(
        *strace_argv(trace, sys.executable, "-c", f"open({str(target)!r}, 'a').close()"),
        env=product_environment(),
    )
    assert await asyncio.wait_for(process.wait(), PROCESS_TIMEOUT_S) == 0
    offending = disk_writes(parse_trace(trace.read_text()))
    assert [str(target) in line and "O_APPEND" in line for line in offending] == [True]


# --------------------------------------------------------------------------- the relay


async def exchange_messages(alice: RelayClient, bob: RelayClient, session: bytes) -> None:
    """A Message each way, each acknowledged by the relay and receipted by the recipient."""
    for sender, recipient in ((alice, bob), (bob, alice)):
        message = Message(
            session, sender.address, recipient.address, secrets.token_bytes(16),
            int(time.time() * 1000), secrets.token_bytes(256),
        )  # fmt: skip
        await sender.send(message)
        assert await recipient.recv() == message
        ack = await sender.expect(Ack)
        assert (ack.message_id, ack.status) == (message.message_id, AckStatus.ACCEPTED)
        receipt = Ack(
            session, sender.address, recipient.address, message.message_id,
            int(AckStatus.RECEIVED),
        )  # fmt: skip
        await recipient.send(receipt)
        assert await sender.recv() == receipt


async def directory_and_call(url: str) -> None:
    """Dana registers her key, Eve looks it up and calls her, Dana accepts."""
    dana, eve = await RelayClient.connect(url), await RelayClient.connect(url)
    await dana.send(register_key(dana))
    assert await dana.expect(RegisterAck) == RegisterAck(dana.address, True)
    await eve.send(LookupKey(dana.address))
    assert (await eve.expect(LookupResponse)).found is True
    call = CallPeer(secrets.token_bytes(16), eve.address, dana.address, b"eve's bundle")
    await eve.send(call)
    assert await dana.recv() == call
    answer = CallResponse(call.call_id, eve.address, dana.address, int(CallStatus.ACCEPTED), b"d")
    await dana.send(answer)
    assert await eve.recv() == answer
    await dana.close()
    await eve.close()


async def converse(port: int) -> None:
    """A whole conversation through the relay on ``port``, every step checked."""
    url = f"ws://127.0.0.1:{port}/ws"
    alice, bob = await RelayClient.connect(url), await RelayClient.connect(url)
    session, key = secrets.token_bytes(16), join_key()
    await alice.send(alice.join(session, key, "K7QW"))
    await alice.expect(Joined)
    # Bob waits in the nameplate's lobby and exchanges a (stand-in) PAKE message with Alice.
    await bob.send(Join(b"", "K7QW"))
    assert await bob.expect(Lobby) == Lobby("K7QW")
    await bob.send(LobbyMessage("K7QW", b"", b"pake start"))
    assert await alice.expect(LobbyMessage) == LobbyMessage("K7QW", bob.address, b"pake start")
    await alice.send(LobbyMessage("K7QW", bob.address, b"pake reply"))
    assert await bob.expect(LobbyMessage) == LobbyMessage("K7QW", b"", b"pake reply")
    await bob.send(bob.join(session, key))
    assert (await bob.expect(Joined)).session_id == session
    await alice.expect(PeerJoined)
    exchange = KeyExchange(session, alice.address, bob.address, secrets.token_bytes(64))
    await alice.send(exchange)
    assert await bob.recv() == exchange
    await exchange_messages(alice, bob, session)
    await directory_and_call(url)
    # The offline buffer: Bob goes away, Alice's message waits in memory for his return. He
    # acknowledges what he received first (Received: received[0] is the HelloAck), or the
    # relay would deliver it again when he is back.
    await bob.send(Received(len(bob.received) - 1))
    await bob.close()
    await alice.expect(PeerLeft)
    held = Message(session, alice.address, bob.address, secrets.token_bytes(16), 0, b"held")
    await alice.send(held)
    assert (await alice.expect(Ack)).status == AckStatus.BUFFERED
    bob = await RelayClient.connect(url, bob.identity)
    assert bob.hello_ack is not None
    assert bob.hello_ack.buffered == 1
    assert await bob.recv() == held
    for path in ("/health", "/metrics"):
        assert (await http_get(port, path))[0] == 200
    await alice.close()
    await bob.close()


async def read_listening(process: asyncio.subprocess.Process) -> tuple[dict[str, Any], list[str]]:
    """The relay's ``listening`` line, and the warnings of the ``hardened`` line after it."""
    assert process.stderr is not None
    lines = []
    for _ in range(2):
        line = (await process.stderr.readline()).decode()
        assert line, f"the relay exited with status {await process.wait()} before listening"
        lines.append(json.loads(line))
    listening, hardened = lines
    assert listening["event"] == "listening", listening
    assert hardened["event"] == "hardened", hardened
    warnings: list[str] = hardened["warnings"]
    return listening, warnings


async def test_relay_writes_no_file_during_a_conversation(tmp_path: Path) -> None:
    trace = tmp_path / "relay.trace"
    command = [sys.executable, "-m", "quicko", "--mlock", "relay", "--host", "127.0.0.1"]
    process = await asyncio.create_subprocess_exec(
        *strace_argv(trace, *command, "--port", "0", "--node-id", "traced"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=product_environment(),
    )
    relay_pid = None
    try:
        async with asyncio.timeout(PROCESS_TIMEOUT_S):
            listening, warnings = await read_listening(process)
            relay_pid = traced_child(process.pid)
            # The running relay, seen from outside: no core file, memory locked or said why.
            assert proc_field(relay_pid, "limits", "Max core file size").split()[:2] == ["0", "0"]
            locked_kb = int(proc_field(relay_pid, "status", "VmLck").split()[0])
            assert (locked_kb > 0) is (warnings == []), warnings
            await converse(listening["port"])
            os.kill(relay_pid, signal.SIGTERM)
            await process.communicate()  # drains the relay's logs until it exits
            assert process.returncode == 0  # strace exits with the relay's status
    finally:
        if process.returncode is None:
            # A killed strace would leave the relay running untraced: kill the relay first.
            with contextlib.suppress(AssertionError, ProcessLookupError):
                os.kill(relay_pid or traced_child(process.pid), signal.SIGKILL)
            process.kill()
            await process.wait()
    text = trace.read_text()
    calls = parse_trace(text)
    assert disk_writes(calls) == [], report(disk_writes(calls), text)
    assert_hardened(calls, mlock=True)


# --------------------------------------------------------------------------- a client

#: A client process: two AsyncQuickoClients (Alice, Bob) chat end to end — Bob joins Alice's
#: session with its invite code (SPAKE2), texts go both ways over the Double Ratchet, Alice sees
#: hers Delivered then Read — and a third (Dana) with a long-term QuickoKey registers it, Alice
#: looks it up and calls her, Dana accepts. Then every session is destroyed and every client
#: disconnects. The process hardens itself first, as every ``quicko`` command does. It prints
#: one JSON line: the hardening warnings and the steps completed (no content, no keys).
CLIENT_SCRIPT: Final = textwrap.dedent(
    """
    import asyncio, json, secrets, sys
    from quicko.cli.hardening import harden_process
    from quicko.client import (
        AsyncQuickoClient, DeliveryStatus, IncomingCall, MessageReceived, SessionReady,
        StatusChanged,
    )
    from quicko.identity import Identity

    async def wait(client, kind, where=lambda event: True):
        while True:
            event = await client.next_event()
            if isinstance(event, kind) and where(event):
                return event

    async def chat(url, steps):
        alice, bob = AsyncQuickoClient(url), AsyncQuickoClient(url)
        dana = AsyncQuickoClient(url, identity=Identity.generate(secrets.token_bytes))
        for client in (alice, bob, dana):
            await client.connect()
        created = await alice.create_session()
        await bob.join_session(created.invite_code)
        await wait(alice, SessionReady)
        sid = created.session_id
        steps.append("joined")
        sent = await alice.send_message(sid, "hello, bob")
        got = await wait(bob, MessageReceived)
        assert got.message.text == "hello, bob"
        await bob.mark_read(sid, [sent.message_id.hex()])
        await wait(alice, StatusChanged, lambda e: e.status == DeliveryStatus.READ)
        await bob.send_message(sid, "hello, alice")
        got = await wait(alice, MessageReceived)
        assert got.message.text == "hello, alice"
        steps.append("chatted")
        await dana.register_key()
        quickokey = dana.identity_info.quickokey
        assert (await alice.lookup_key(quickokey)).found
        steps.append("looked up")

        async def answer():
            incoming = await wait(dana, IncomingCall)
            return await dana.answer_call(incoming.call_id, True)

        call, answered = await asyncio.gather(alice.call(quickokey, timeout=20), answer())
        assert answered is not None and call.session_id == answered.session_id
        steps.append("called")
        for client in (alice, bob, dana):
            for session in client.sessions():
                await client.destroy_session(session.session_id)
            await client.disconnect()
        steps.append("destroyed")

    hardening_warnings = harden_process(mlock=False)
    steps = []
    asyncio.run(asyncio.wait_for(chat(sys.argv[1], steps), 40))
    print(json.dumps({"hardening_warnings": hardening_warnings, "steps": steps}))
    """
)


async def test_client_writes_no_file_during_an_encrypted_chat(
    relay: RelayServer, tmp_path: Path
) -> None:
    trace = tmp_path / "client.trace"
    process = await asyncio.create_subprocess_exec(
        *strace_argv(trace, sys.executable, "-c", CLIENT_SCRIPT, relay_url(relay)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=product_environment(),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), PROCESS_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout) == {
        "hardening_warnings": [],
        "steps": ["joined", "chatted", "looked up", "called", "destroyed"],
    }
    text = trace.read_text()
    calls = parse_trace(text)
    assert disk_writes(calls) == [], report(disk_writes(calls), text)
    assert_hardened(calls, mlock=False)
