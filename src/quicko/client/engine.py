"""The machinery under :class:`~quicko.client.api.AsyncQuickoClient`: routing, pumping, sending.

:class:`ClientEngine` owns the client's sessions and the one relay connection
(:class:`~quicko.client.connection.Connection`) and does everything the public methods do not
show:

- **Routing.** Every frame the relay sends goes to the session it names (Joined, PeerJoined,
  PeerLeft, KeyExchange, Message, Ack; Lobby and LobbyMessage by nameplate: to the joiner
  waiting in that lobby, or, when ``peer`` is set, to the creator that owns the nameplate; an
  Error by its ``ref_id``: a session id, a message id, or, for a lobby, the oldest joiner still
  in one), or to the reply a command waits for (RegisterAck, LookupResponse, CallResponse), or
  becomes an incoming call.
- **Join proofs.** Every Join by id is signed as it is sent, by the session's join key, over
  the Challenge of the connection that carries it (:meth:`Session.sign_join`).
- **Local session ids.** A remote party never chooses or replaces a local session: a call or
  an admission whose session id is already a live session here is refused.
- **Pumping.** After every input and command, :meth:`ClientEngine._pump` turns the session's
  events into client events (:mod:`quicko.client.live`) and sends its frames.
- **Sending.** While no connection is up, frames wait in an :class:`OutboundQueue` of 500 (one
  per client); a text dropped from it is reported FAILED and never sent later. After every
  (re)connection the ``on_connected`` hook re-joins every live session
  (:meth:`Session.rejoin`, which also retransmits what is not known to be delivered), re-registers
  the QuickoKey if it was registered, then sends what waited.
- **Timers.** One task calls :meth:`Session.handle_timeout` at the earliest
  :meth:`Session.next_deadline` and purges the stores' expired messages.

Nothing is written to disk and nothing logged names content, keys, codes or full ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Final

from quicko.client import events as te
from quicko.client import models as m
from quicko.client.connection import Connection
from quicko.client.live import LiveSession
from quicko.crypto import RandomSource
from quicko.errors import ConnectionClosedError, LocalProtocolError, QuickoError, SessionError
from quicko.identity import Identity
from quicko.messaging import OutboundQueue
from quicko.protocol import (
    Ack,
    CallPeer,
    CallResponse,
    Error,
    ErrorCode,
    Join,
    Joined,
    KeyExchange,
    Lobby,
    LobbyMessage,
    LookupResponse,
    Message,
    MessageType,
    Payload,
    PeerJoined,
    PeerLeft,
    RegisterAck,
)
from quicko.session import IncomingCall, State
from quicko.session.lifecycle import LifecycleEvent, SessionState

__all__ = ["OUTBOUND_QUEUE_CAPACITY", "ClientEngine", "Waiter", "now_ms"]

_log = logging.getLogger(__name__)

OUTBOUND_QUEUE_CAPACITY: Final = 500
"""Frames kept while offline, per client; the oldest is dropped (DESIGN.md §5)."""

#: Relay errors about frames in flight around a reconnect; the sessions repair them.
_TRANSIENT: Final = frozenset({ErrorCode.RECIPIENT_UNKNOWN, ErrorCode.NOT_A_MEMBER})
_REPLY_TYPES: Final = {
    MessageType.REGISTER_KEY: "register",
    MessageType.UNREGISTER_KEY: "register",
    MessageType.LOOKUP_KEY: "lookup",
}


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (the I/O edge supplies time)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Waiter:
    """What a command waits for on a session: the relay's Joined, then an authenticated peer."""

    joined: asyncio.Future[None]
    ready: asyncio.Future[None]
    problems: list[str] = field(default_factory=list)


class ClientEngine:
    """Sessions, routing, the offline queue and the timer (see the module docstring)."""

    def __init__(self, identity: Identity, rng: RandomSource) -> None:
        self._identity = identity
        self._rng = rng
        self._conn: Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._events: asyncio.Queue[m.ClientEvent] = asyncio.Queue()
        self._sessions: dict[bytes, LiveSession] = {}
        self._joining: list[LiveSession] = []
        self._left: dict[str, LiveSession] = {}
        self._queue: OutboundQueue[tuple[LiveSession | None, Payload]] = OutboundQueue(
            OUTBOUND_QUEUE_CAPACITY
        )
        self._seq = 0
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._waiters: dict[LiveSession, Waiter] = {}
        self._replies: dict[tuple[str, bytes], asyncio.Future[Payload]] = {}
        self._incoming: dict[bytes, IncomingCall] = {}
        self._registered = False
        self._was_connected = False

    # ------------------------------------------------------------------ events

    def _emit(self, events: list[m.ClientEvent]) -> None:
        for event in events:
            self._events.put_nowait(event)

    def _live(self) -> list[LiveSession]:
        return [*self._sessions.values(), *self._joining]

    # ------------------------------------------------------------------ tasks

    def _start_tasks(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read(conn), name="quicko-client-reader"),
            loop.create_task(self._timers(), name="quicko-client-timers"),
        ]

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, conn: Connection) -> None:
        while True:
            try:
                event = await conn.next_event()
            except ConnectionClosedError:
                return
            try:
                await self._on_transport(event)
            except Exception:  # a bug must not stop the reader; nothing secret is logged
                _log.exception("the client failed to handle a %s", type(event).__name__)

    async def _on_transport(self, event: te.TransportEvent) -> None:
        match event:
            case te.MessageReceived(payload=payload):
                await self._on_payload(payload)
            case te.Connected(node_id=node_id):
                self._was_connected = True
                self._emit([m.Connected(node_id)])
            case te.Disconnected(reason=reason, detail=detail):
                out: list[m.ClientEvent] = [m.Disconnected(detail or reason.value)]
                for live in self._live():
                    out += live.move(LifecycleEvent.CONNECTION_LOST)
                self._emit(out)
            case te.Reconnecting(attempt=attempt, delay_ms=delay):
                self._emit([m.Reconnecting(attempt, delay)])
            case te.ReconnectionFailed(attempts=attempts):
                self._emit([m.ReconnectionFailed(attempts)])
            case te.PingReceived(latency_ms=latency):
                self._emit([m.LatencyMeasured(latency)])
            case te.AttemptFailed():
                pass  # the Reconnecting event that follows says enough

    async def _timers(self) -> None:
        while True:
            self._wake.clear()
            deadlines = [live.session.next_deadline() for live in self._live()]
            deadlines += [live.store.next_deadline() for live in self._sessions.values()]
            deadline = min((d for d in deadlines if d is not None), default=None)
            delay = None if deadline is None else max(0.0, (deadline - now_ms()) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            now = now_ms()
            for live in self._live():
                session_deadline = live.session.next_deadline()
                if session_deadline is not None and session_deadline <= now:
                    live.session.handle_timeout(now)
                    await self._pump(live)
                if live.session_id:
                    live.store.purge_expired(now)

    # ------------------------------------------------------------------ reconnect hook

    async def _on_connected(self, connected: te.Connected) -> None:
        """Re-join every live session, re-register, then send what waited (spec §8)."""
        now = now_ms()
        for live in self._live():
            live.session.rejoin(now)
        waiting = self._queue.drain()
        for live in self._live():
            await self._pump(live)
        if self._registered:
            await self._send_one(None, self._register_frame())
        async with self._send_lock:
            for _, (owner, payload) in waiting:
                if self._resent_by_rejoin(owner, payload):
                    continue
                await self._send_one(owner, payload)

    @staticmethod
    def _resent_by_rejoin(owner: LiveSession | None, payload: Payload) -> bool:
        """Whether :meth:`Session.rejoin` already re-emitted this frame (Joins, our texts)."""
        if isinstance(payload, Join):
            return True  # live sessions re-joined; closed ones need no Join before their Leave
        return (
            isinstance(payload, Message)
            and owner is not None
            and payload.message_id in owner.outgoing
        )

    def _register_frame(self) -> Payload:
        raise NotImplementedError  # provided by the API class

    # ------------------------------------------------------------------ incoming frames

    async def _on_payload(self, payload: Payload) -> None:
        live: LiveSession | None
        match payload:
            case Joined():
                await self._on_joined(payload)
                return
            case PeerJoined() | PeerLeft() | KeyExchange() | Message() | Ack():
                live = self._sessions.get(payload.session_id)
            case Lobby():
                live = self._lobby_joiner(payload.nameplate)
            case LobbyMessage():
                owner = bool(payload.peer)
                live = (
                    self._nameplate_owner(payload.nameplate)
                    if owner
                    else (self._lobby_joiner(payload.nameplate))
                )
            case Error():
                await self._on_error(payload)
                return
            case RegisterAck():
                self._reply(("register", b""), payload)
                return
            case LookupResponse():
                self._reply(("lookup", payload.address), payload)
                return
            case CallResponse():
                self._reply(("call", payload.call_id), payload)
                return
            case CallPeer():
                self._on_call(payload)
                return
            case _:
                return
        if live is not None:
            live.session.receive(payload, now_ms())
            await self._pump(live)

    def _lobby_joiner(self, nameplate: str) -> LiveSession | None:
        """The joiner (not admitted yet) waiting in the lobby of ``nameplate``."""
        return next(
            (item for item in self._joining
             if item.invite is not None and item.invite.nameplate == nameplate),
            None,
        )  # fmt: skip

    def _nameplate_owner(self, nameplate: str) -> LiveSession | None:
        """Our creator session whose invite code has ``nameplate``."""
        return next(
            (item for item in self._sessions.values()
             if item.role == "creator" and item.invite is not None
             and item.invite.nameplate == nameplate),
            None,
        )  # fmt: skip

    async def _on_joined(self, joined: Joined) -> None:
        live = self._sessions.get(joined.session_id)
        if live is None:
            return
        live.session.receive(joined, now_ms())
        self._emit(live.joined())
        await self._pump(live)

    async def _on_error(self, error: Error) -> None:
        live: LiveSession | None = None
        if error.ref_type == MessageType.JOIN:
            if error.ref_id:
                live = self._sessions.get(error.ref_id)
            else:
                live = next((item for item in self._joining if not item.session_id), None)
        elif error.ref_type == MessageType.LOBBY_MESSAGE:
            live = next((item for item in self._joining if not item.session_id), None)
        elif error.ref_type == MessageType.MESSAGE:
            live = next((s for s in self._sessions.values() if error.ref_id in s.outgoing), None)
        elif error.ref_type in _REPLY_TYPES:
            key = (_REPLY_TYPES[MessageType(error.ref_type)], b"")
            if self._fail_reply(key, error) or self._fail_lookup(error):
                return
        elif error.ref_type == MessageType.CALL_PEER and self._fail_reply(
            ("call", error.ref_id), error
        ):
            return
        if live is not None:
            dropped = live.session.dropped_frames
            live.session.receive(error, now_ms())
            await self._pump(live)
            if live.session.dropped_frames == dropped:
                return
        if error.code not in _TRANSIENT:
            self._emit([m.ClientError(describe_error(error))])

    def _on_call(self, frame: CallPeer) -> None:
        try:
            call = IncomingCall.receive(frame, self._identity)
        except QuickoError:
            self._emit([m.ClientError("refused a call whose caller could not be authenticated")])
            return
        if call.session_id in self._sessions:
            # Never reachable by chance (the id is a hash of the call); refused all the same: a
            # call never replaces a session we have (issue 8, finding 1).
            self._emit([m.ClientError("refused a call that would reuse a session of ours")])
            return
        if len(self._incoming) >= 16:
            self._incoming.pop(next(iter(self._incoming)))
        self._incoming[call.call_id] = call
        event = m.IncomingCall(
            call.call_id.hex(), call.caller.quickokey, call.display_name, call.safety_number
        )
        self._emit([event])

    # ------------------------------------------------------------------ replies

    def _expect(self, key: tuple[str, bytes]) -> asyncio.Future[Payload]:
        old = self._replies.pop(key, None)
        if old is not None and not old.done():
            old.cancel()
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._replies[key] = future
        return future

    def _reply(self, key: tuple[str, bytes], payload: Payload) -> None:
        future = self._replies.pop(key, None)
        if future is not None and not future.done():
            future.set_result(payload)

    def _fail_reply(self, key: tuple[str, bytes], error: Error) -> bool:
        future = self._replies.pop(key, None)
        if future is None or future.done():
            return False
        future.set_exception(SessionError(describe_error(error)))
        return True

    def _fail_lookup(self, error: Error) -> bool:
        keys = [key for key in self._replies if key[0] == "lookup"]
        return any(self._fail_reply(key, error) for key in keys[:1])

    # ------------------------------------------------------------------ pumping and sending

    async def _pump(self, live: LiveSession) -> None:
        """Drain a session: report its events, settle its waiters, send its frames."""
        session = live.session
        events = live.translate(session.events(), now_ms())
        payloads = session.data_to_send()
        if live in self._joining and live.session_id:
            payloads = self._admit(live, payloads)
        self._settle(live, events)
        if session.state is State.FAILED:
            events += live.move(LifecycleEvent.DESTROY)
            self._forget(live)
            live.wipe()
        self._emit(events)
        await self._transmit(live, payloads)
        self._wake.set()

    def _admit(self, live: LiveSession, payloads: list[Payload]) -> list[Payload]:
        """A joiner was admitted (it knows its session id): key it, unless the id is taken."""
        self._joining.remove(live)
        if live.session_id in self._sessions:
            # The creator named a session we already have: refuse rather than replace it.
            live.session.leave(now_ms())
            live.session.data_to_send()
            live.session.events()
            self._emit([m.SessionFailed("", "the session's creator named a session we have")])
            waiter = self._waiters.get(live)
            if waiter is not None:
                problem = SessionError("the session's creator named a session we have")
                for future in (waiter.joined, waiter.ready):
                    if not future.done():
                        future.set_exception(problem)
                        future.exception()
            live.wipe()
            return []
        self._sessions[live.session_id] = live
        return payloads

    def _settle(self, live: LiveSession, events: list[m.ClientEvent]) -> None:
        waiter = self._waiters.get(live)
        if waiter is None:
            return
        for event in events:
            if isinstance(event, m.WrongInviteCode):
                waiter.problems.append("wrong invite code")
            elif isinstance(event, m.SessionFailed):
                waiter.problems.append(event.reason)
        joined = live.lifecycle.state not in (SessionState.CREATED, SessionState.CONNECTING)
        if joined and live.session_id and not waiter.joined.done():
            waiter.joined.set_result(None)
        if joined and live.session.members and not waiter.ready.done():
            # Admitted (the creator authenticated) and joined at the relay by id.
            waiter.ready.set_result(None)
        if live.session.state is State.FAILED:
            problem = SessionError(waiter.problems[0] if waiter.problems else "the join failed")
            for future in (waiter.joined, waiter.ready):
                if not future.done():
                    future.set_exception(problem)
                    future.exception()  # retrieved: a caller may wait on only one of them

    def _forget(self, live: LiveSession) -> None:
        self._sessions.pop(live.session_id, None)
        if live in self._joining:
            self._joining.remove(live)

    async def _transmit(self, live: LiveSession | None, payloads: list[Payload]) -> None:
        if not payloads:
            return
        async with self._send_lock:
            for payload in payloads:
                if (
                    live is not None
                    and isinstance(payload, Message)
                    and payload.message_id in live.abandoned
                ):
                    continue
                await self._send_one(live, payload)

    async def _send_one(self, live: LiveSession | None, payload: Payload) -> None:
        conn = self._conn
        connected = None if conn is None else conn.connected
        if conn is not None and connected is not None:
            if isinstance(payload, Join) and live is not None:
                # The proof binds this connection's Challenge (docs/protocol.md §4.3).
                payload = live.session.sign_join(
                    payload, nonce=connected.nonce, node_id=connected.node_id
                )
            try:
                await conn.send(payload)
                return
            except ConnectionClosedError:
                pass  # kept below, sent after the reconnect
            except LocalProtocolError as exc:
                self._emit([m.ClientError(f"a frame could not be sent: {exc}")])
                return
        self._seq += 1
        dropped = self._queue.push(self._seq.to_bytes(8, "big"), (live, payload))
        for _, (owner, frame) in dropped:
            if (
                owner is not None
                and isinstance(frame, Message)
                and frame.message_id in owner.outgoing
                and frame.message_id not in owner.abandoned
            ):
                self._emit(owner.fail(frame.message_id))


def describe_error(error: Error) -> str:
    """A relay Error frame as a short text that is safe to show."""
    try:
        name = ErrorCode(error.code).name
    except ValueError:
        name = f"code {error.code}"
    return f"relay error {name}: {error.reason}" if error.reason else f"relay error {name}"
