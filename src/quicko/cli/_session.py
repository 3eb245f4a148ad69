"""What ``quicko session`` runs: a client, its session, standard input and output.

:mod:`quicko.cli.session` (the parser) imports this module only when the command runs, so that
the client stays out of every other command's start-up (see :mod:`quicko.cli.main`).

People are named by their addresses (``display_name`` in JSON is always the address-derived
name); a name a peer claims is only added, labelled, when it differs (``claimed_name`` in JSON,
``(claims "…")`` in text), and a member not authenticated yet is never named (DESIGN.md §4.3).

A long-term identity (for ``listen``, or to call with your QuickoKey) comes from a seed phrase in
the environment variable ``QUICKO_SEED_PHRASE`` or read from a file descriptor given with
``--seed-fd N``, never from the command line; without one, an ephemeral identity is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Final, TextIO

from quicko.cli._reach import refused_problem, resolve_problem
from quicko.cli._relay_url import relay_host_port
from quicko.cli.session import EXIT_FAILED, EXIT_INPUT, SEED_ENV
from quicko.client import AsyncQuickoClient
from quicko.client import models as m
from quicko.client.collector import tune_client_gc
from quicko.errors import (
    AuthenticationError,
    ConnectionClosedError,
    InputError,
    QuickoError,
    SessionError,
)
from quicko.identity import (
    Identity,
    claimed_name,
    display_name,
    parse_invite_code,
    parse_quickokey,
    shown_name,
)
from quicko.messaging import DeliveryStatus

__all__ = ["Chat", "Output", "load_identity", "run_session"]

LINGER_S: Final = 10.0
"""Seconds to wait at the end of input for sent messages to be delivered."""
PROBE_AFTER_S: Final = 0.5
"""Not connected after this many seconds: find out whether the relay's port refuses."""
_MAX_SEED_CHARS: Final = 64 * 1024
_SETTLED: Final = (DeliveryStatus.DELIVERED, DeliveryStatus.READ, DeliveryStatus.FAILED)


def _name_fields(address: bytes, claim: str = "") -> dict[str, str]:
    """The JSON name fields of a person.

    ``display_name`` is derived from ``address``; ``claimed_name`` is there only when the name
    the person claims differs from it (cleaned, see :func:`quicko.identity.claimed_name`).
    """
    fields = {"display_name": display_name(address)}
    claimed = claimed_name(address, claim)
    if claimed is not None:
        fields["claimed_name"] = claimed
    return fields


def run_session(args: argparse.Namespace) -> int:
    """Handle ``quicko session …``; return the exit status."""
    try:
        if args.action == "join":
            parse_invite_code(args.code)
        elif args.action == "call":
            parse_quickokey(args.quickokey)
        identity = load_identity(args.seed_fd, os.environ)
    except InputError as exc:
        print(f"quicko session: {exc}", file=sys.stderr)
        return EXIT_INPUT
    out = Output(sys.stdout, as_json=args.json)
    tune_client_gc()  # the client applications' collector policy (quicko.client.collector)
    try:
        return asyncio.run(Chat(args, identity, out).run())
    except KeyboardInterrupt:  # a second Ctrl-C while leaving
        return 130


def load_identity(seed_fd: int | None, environ: Mapping[str, str]) -> Identity | None:
    """The long-term identity of ``--seed-fd N`` or ``$QUICKO_SEED_PHRASE``, or ``None``.

    Raises:
        InputError: the descriptor cannot be read, or the phrase is not valid.
    """
    if seed_fd is not None:
        try:
            with os.fdopen(seed_fd, encoding="utf-8", closefd=True) as stream:
                phrase = stream.read(_MAX_SEED_CHARS)
        except OSError as exc:
            raise InputError(f"--seed-fd {seed_fd}: cannot read it ({exc.strerror})") from None
    else:
        phrase = environ.get(SEED_ENV, "")
        if not phrase.strip():
            return None
    return Identity.from_seed_phrase(phrase)


class Output:
    """Prints events: readable lines, or one JSON object per line."""

    def __init__(self, stream: TextIO, *, as_json: bool) -> None:
        self._stream = stream
        self.as_json = as_json

    def emit(self, event: str, readable: str, **fields: object) -> None:
        """Print one event (``readable`` is its human form; ``fields`` its JSON fields)."""
        record = {"event": event, **fields}
        line = json.dumps(record, ensure_ascii=False) if self.as_json else readable
        print(line, file=self._stream, flush=True)


class Chat:
    """One run of ``quicko session``: a client, its session(s), standard input and output."""

    def __init__(self, args: argparse.Namespace, identity: Identity | None, out: Output) -> None:
        self._args = args
        self._out = out
        self._client = AsyncQuickoClient(args.relay, identity=identity)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._current: str | None = None
        self._ready = False
        self._unsent: list[str] = []
        self._asking: m.IncomingCall | None = None
        self._outstanding: set[str] = set()
        self._failure: str | None = None
        self._was_down = False
        self._authenticated: set[tuple[str, str]] = set()  # (session id, address)

    async def run(self) -> int:
        """Connect, start the session, then chat until end of input or a signal."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._stop.set)
        problem = await self._connect()
        if problem is not None:
            await self._client.disconnect()
            return fail(problem)
        try:
            status = await self._start()
            if status == 0:
                status = await self._loop()
            return status
        finally:
            await self._leave()

    async def _connect(self) -> str | None:
        """Connect within ``--connect-timeout``; return why it cannot, or ``None`` once connected.

        An unresolvable host and a refused port are said at once (:mod:`quicko.cli._reach`);
        anything else after the timeout.
        """
        relay, timeout = self._args.relay, self._args.connect_timeout
        single = isinstance(relay, str)  # several URLs: the client tries them in turn
        host, port = relay_host_port(relay if single else relay[0])
        problem = await resolve_problem(host, port) if single else None
        if problem is not None:
            return problem
        connecting = asyncio.ensure_future(self._client.connect(timeout))
        try:
            await asyncio.wait({connecting}, timeout=min(PROBE_AFTER_S, timeout))
            if not connecting.done() and single:
                problem = await refused_problem(host, port)
                if problem is not None:
                    return problem
            await connecting
        except (TimeoutError, ConnectionClosedError):
            return (
                f"cannot reach the relay at {relay if single else ', '.join(relay)} within "
                f"{timeout:g} s: is it running, and is "
                "this its address? Start one with `quicko relay`, or pass --relay URL"
            )
        finally:
            connecting.cancel()
        return None

    async def _start(self) -> int:
        info = self._client.identity_info
        self._out.emit("connected", f"* connected as {info.display_name} ({info.quickokey})",
                       quickokey=info.quickokey, display_name=info.display_name)  # fmt: skip
        action = self._args.action
        try:
            if action == "create":
                session = await self._client.create_session()
                self._current = session.session_id
                code = session.invite_code
                line = (
                    f"* invite code: {code}  (share it: several people can join while you "
                    "stay; too many wrong tries retire it)"
                )
                self._out.emit("invite", line, code=code, session_id=session.session_id)
            elif action == "join":
                session = await self._client.join_session(self._args.code)
                self._open(session)
            elif action == "call":
                self._out.emit("calling", f"* calling {self._args.quickokey}…",
                               quickokey=self._args.quickokey)  # fmt: skip
                self._open(await self._client.call(self._args.quickokey))
            else:
                await self._client.register_key()
                self._out.emit("listening", f"* listening for calls to {info.quickokey}",
                               quickokey=info.quickokey)  # fmt: skip
        except InputError as exc:
            print(f"quicko session: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except AuthenticationError:
            return fail("the peer could not be authenticated: the relay or the network may be "
                        "tampering. Do not trust this connection.")  # fmt: skip
        except (SessionError, ConnectionClosedError, TimeoutError) as exc:
            return fail(f"{exc or 'timed out'}. Check the code or QuickoKey and try again.")
        start_reader(self._lines, asyncio.get_running_loop())
        return 0

    def _open(self, session: m.SessionInfo) -> None:
        self._current, self._ready = session.session_id, True  # its peer events follow

    async def _loop(self) -> int:
        stop = asyncio.ensure_future(self._stop.wait())
        line = asyncio.ensure_future(self._lines.get())
        event = asyncio.ensure_future(self._client.next_event())
        try:
            while self._failure is None:
                await asyncio.wait({stop, line, event}, return_when=asyncio.FIRST_COMPLETED)
                if event.done():
                    await self._on_event(event.result())
                    event = asyncio.ensure_future(self._client.next_event())
                if stop.done():
                    return 0
                if line.done():
                    text = line.result()
                    if text is None:
                        await self._linger()
                        return 0
                    await self._on_line(text)
                    line = asyncio.ensure_future(self._lines.get())
            return fail(self._failure)
        finally:
            for task in (stop, line, event):
                task.cancel()

    async def _on_line(self, text: str) -> None:
        if self._asking is not None:
            call, self._asking = self._asking, None
            await self._answer(call, text.strip().lower() in ("y", "yes"))
            return
        if not text:
            return
        if self._current is None or not self._ready:
            self._unsent.append(text)
            return
        await self._send(text)

    async def _send(self, text: str) -> None:
        assert self._current is not None
        try:
            sent = await self._client.send_message(self._current, text)
        except (SessionError, ValueError, QuickoError) as exc:
            self._out.emit("error", f"! not sent: {exc}", message=f"not sent: {exc}")
            return
        mid = sent.message_id.hex()
        self._outstanding.add(mid)
        if self._out.as_json:
            self._out.emit("sent", "", session_id=self._current, message_id=mid, text=text)

    async def _linger(self) -> None:
        """End of input: wait (bounded) until what was sent is delivered or failed."""
        if self._unsent:
            print(f"quicko session: {len(self._unsent)} line(s) not sent: no peer joined.",
                  file=sys.stderr)  # fmt: skip
        deadline = time.monotonic() + LINGER_S
        while self._outstanding and time.monotonic() < deadline:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._on_event(await self._client.next_event())
            except TimeoutError:
                break

    async def _answer(self, call: m.IncomingCall, accept: bool) -> None:
        try:
            session = await self._client.answer_call(call.call_id, accept)
        except SessionError as exc:
            self._out.emit("error", f"! {exc}", message=str(exc))
            return
        if session is not None:
            self._open(session)
            for text in self._unsent:
                await self._send(text)
            self._unsent.clear()

    async def _on_event(self, event: m.ClientEvent) -> None:
        out = self._out
        match event:
            case m.MessageReceived(session_id=sid, message=message):
                mid = message.message_id.hex()
                name = shown_name(message.sender, message.sender_name)
                out.emit("message", f"{name}: {message.text}", session_id=sid,
                         message_id=mid, sender=message.sender.hex(),
                         **_name_fields(message.sender, message.sender_name), text=message.text,
                         timestamp_ms=message.timestamp_ms)  # fmt: skip
                await self._client.mark_read(sid, [mid])
            case m.StatusChanged(session_id=sid, message_id=mid, status=status):
                name = status.name.lower()
                out.emit("status", f"  · {mid[:8]} {name}", session_id=sid, message_id=mid,
                         status=name)  # fmt: skip
                if status in _SETTLED:
                    self._outstanding.discard(mid)
            case m.SessionReady():
                self._ready = True
                for text in self._unsent:
                    await self._send(text)
                self._unsent.clear()
            case m.PeerJoined(session_id=sid, peer=peer):
                self._peer_joined(sid, peer)
            case m.PeerAuthenticated(session_id=sid, peer=peer):
                self._authenticated.add((sid, peer.address))
                self._peer_line(sid, peer)
            case m.PeerLeft(session_id=sid, address=address, reason=reason):
                self._peer_left(sid, address, reason)
            case m.IncomingCall():
                await self._on_call(event)
            case m.KeyChanged(session_id=sid, address=address):
                name = display_name(bytes.fromhex(address))
                out.emit("key_changed", f"! WARNING: someone presented other keys for {name} "
                         "(refused)", session_id=sid, address=address,
                         display_name=name)  # fmt: skip
            case m.SessionFailed(session_id=sid, reason=reason) if sid == self._current:
                self._failure = f"the session failed: {reason}"
            case m.Connected() | m.Disconnected() | m.Reconnecting() | m.ReconnectionFailed():
                self._transport(event)
            case m.ClientError(message=text) | m.PeerRefused(reason=text):
                out.emit("error", f"! {text}", message=text)
            case m.InviteRetired(session_id=sid):
                out.emit("invite_retired", "! too many wrong codes: the invite code is retired",
                         session_id=sid)  # fmt: skip
            case _:
                pass

    def _pending(self, what: str) -> str:
        """A line about a member not authenticated yet that does not name it.

        Args:
            what: ``"joined"`` or ``"left (reason)"``.
        """
        creator = self._args.action == "create"
        if what == "joined":
            if creator:
                return "* someone with the invite code is trying to join (not authenticated yet)"
            return "* someone is connecting securely… (not authenticated yet)"
        return f"* someone who was {'trying to join' if creator else 'connecting'} {what}"

    def _peer_joined(self, sid: str, peer: m.PeerInfo) -> None:
        address = bytes.fromhex(peer.address)
        if peer.authenticated:
            self._authenticated.add((sid, peer.address))
            text = f"* {shown_name(address, peer.display_name)} joined"
            names = _name_fields(address, peer.display_name)
        else:  # the relay's word only: not a person yet, and its claimed name is not shown
            text = self._pending("joined")
            names = _name_fields(address)
        self._out.emit("peer_joined", text, session_id=sid, address=peer.address, **names,
                       authenticated=peer.authenticated)  # fmt: skip

    def _peer_left(self, sid: str, address: str, reason: str) -> None:
        if (sid, address) in self._authenticated:
            text = f"* {display_name(bytes.fromhex(address))} left ({reason})"
            if reason == "left":
                self._authenticated.discard((sid, address))
        else:
            text = self._pending(f"left ({reason})")
        self._out.emit("peer_left", text, session_id=sid,
                       address=address, display_name=display_name(bytes.fromhex(address)),
                       reason=reason)  # fmt: skip

    def _peer_line(self, sid: str, peer: m.PeerInfo) -> None:
        address = bytes.fromhex(peer.address)
        name = shown_name(address, peer.display_name)
        self._out.emit("safety_number",
                       f"* {name} authenticated; safety number {peer.safety_number}",
                       session_id=sid, address=peer.address,
                       **_name_fields(address, peer.display_name),
                       safety_number=peer.safety_number)  # fmt: skip

    def _transport(self, event: m.ClientEvent) -> None:
        match event:
            case m.Connected(node_id=node) if self._was_down:
                self._out.emit("connected", "* reconnected", node_id=node)
            case m.Disconnected(reason=reason):
                self._was_down = True
                self._out.emit("disconnected", f"* disconnected: {reason}", reason=reason)
            case m.Reconnecting(attempt=attempt, delay_ms=delay):
                self._out.emit("reconnecting", f"* reconnecting (attempt {attempt})",
                               attempt=attempt, delay_ms=delay)  # fmt: skip
            case m.ReconnectionFailed():
                self._failure = "gave up reconnecting to the relay"

    async def _on_call(self, call: m.IncomingCall) -> None:
        accept_all = self._args.action == "listen" and self._args.accept_all
        caller = parse_quickokey(call.caller_quickokey)
        self._out.emit("incoming_call",
                       f"* call from {shown_name(caller, call.display_name)} "
                       f"({call.caller_quickokey}), safety number {call.safety_number}",
                       call_id=call.call_id, quickokey=call.caller_quickokey,
                       **_name_fields(caller, call.display_name),
                       safety_number=call.safety_number, accepted=accept_all)  # fmt: skip
        if accept_all:
            await self._answer(call, True)
        elif self._out.as_json or self._args.action != "listen":
            await self._answer(call, False)
        else:
            print("accept? [y/N] ", end="", flush=True)
            self._asking = call

    async def _leave(self) -> None:
        for session in self._client.sessions():
            with contextlib.suppress(QuickoError):
                await self._client.destroy_session(session.session_id)
        await self._client.disconnect()


def fail(message: str) -> int:
    """Print an error with its fix to standard error; return the failure status."""
    print(f"quicko session: {message}", file=sys.stderr)
    return EXIT_FAILED


def start_reader(lines: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop) -> None:
    """Read standard input on a daemon thread: each line, then ``None`` at EOF, to ``lines``."""

    def read() -> None:
        try:
            for raw in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, raw.rstrip("\r\n"))
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except (RuntimeError, ValueError, OSError):
            pass  # the loop closed, or standard input went away: nothing left to do

    threading.Thread(target=read, name="quicko-stdin", daemon=True).start()
