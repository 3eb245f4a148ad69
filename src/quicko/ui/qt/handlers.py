"""How the main window applies each client event (one ``match`` over the event union).

Events name a session; the window routes them to the chat of that session (chats are keyed by
local ids). Only the user's own actions (create, join, call, answer) open a chat; events about a
session the window has not opened yet (a ``SessionReady`` or a message that overtakes the result
of ``join_session`` or ``answer_call`` on its way to the UI thread) are held, boundedly, and
replayed when the chat opens.

People are named by their addresses, never by the names they claim; a member not authenticated
yet is never named (:mod:`quicko.ui.qt.chats`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from quicko.client import models as m
from quicko.identity import claimed_name, display_name, parse_quickokey
from quicko.ui.qt.bridge import describe_exception
from quicko.ui.qt.chats import ChatState, address_name, left_line, name_of
from quicko.ui.qt.widgets.dialogs import IncomingCallDialog, stopped_calling

if TYPE_CHECKING:
    from quicko.ui.qt.main_window import MainWindow

__all__ = ["MAX_HELD_EVENTS", "MAX_HELD_SESSIONS", "SessionEvent", "apply_event", "replay_held"]

MAX_HELD_EVENTS: Final = 200
"""Most events held for one session not opened yet."""

MAX_HELD_SESSIONS: Final = 16
"""Most sessions with held events."""

_STATUS_MS: Final = 8000
_LEFT: Final = {"left": "left", "disconnected": "disconnected", "expired": "timed out"}
_log = logging.getLogger(__name__)

SessionEvent = (
    m.SessionReady
    | m.PeerJoined
    | m.PeerLeft
    | m.PeerAuthenticated
    | m.PeerRefused
    | m.MessageReceived
    | m.StatusChanged
    | m.KeyChanged
    | m.InviteRetired
    | m.SessionFailed
)
"""The events about one session that the window applies to its chat."""


def apply_event(window: MainWindow, event: m.ClientEvent) -> None:
    """Apply one client event to the window."""
    match event:
        case m.Connected():
            window.set_connection("connected")
        case m.Disconnected(reason=reason):
            window.set_connection("disconnected", detail=reason)
        case m.Reconnecting(attempt=attempt, delay_ms=delay_ms):
            window.set_connection("connecting", attempt=attempt, retry_in_ms=delay_ms)
        case m.ReconnectionFailed(attempts=attempts):
            window.set_connection("disconnected", detail=f"gave up after {attempts} tries")
        case m.LatencyMeasured(latency_ms=latency):
            window.status.set_latency(latency)
        case m.SessionClosed(session_id=sid):
            state = window.chat_of(sid)
            if state is not None:
                window.close_chat(state.chat_id)
        case m.IncomingCall():
            _incoming_call(window, event)
        case m.CallDeclined(reason=reason):
            window.status.showMessage(f"Call not connected: {reason}", _STATUS_MS)
        case m.ClientError(message=message):
            window.status.showMessage(message, _STATUS_MS)
        case m.WrongInviteCode() | m.SessionStateChanged():
            pass  # join_session reports the wrong code; states show through other events
        case _:
            _session_event(window, event)


def replay_held(window: MainWindow, session_id: str) -> None:
    """Apply the events held for a session that just opened."""
    for event in window.held_events.pop(session_id, []):
        _session_event(window, event)


def _session_id(event: SessionEvent) -> str:
    return event.session.session_id if isinstance(event, m.SessionReady) else event.session_id


def _session_ready(window: MainWindow, state: ChatState, session: m.SessionInfo) -> None:
    if session.role != state.role:  # another session under this chat's id: never merged
        _log.warning("ignored a session report that does not match its chat's role")
        return
    state.update(session)
    cid = state.chat_id
    window.add_system(cid, "Keys authenticated: this chat is end-to-end encrypted.")
    if window.awaiting_first_peer == cid:
        window.awaiting_first_peer = None
        if window.stack.currentWidget() is window.session_panel:
            window.show_chat(cid)


def _session_event(window: MainWindow, event: m.ClientEvent) -> None:
    if not isinstance(event, SessionEvent):
        return
    state = window.chat_of(_session_id(event))
    if state is None:
        _hold(window, event)
        return
    cid = state.chat_id
    match event:
        case m.SessionReady(session=session):
            _session_ready(window, state, session)
        case m.PeerJoined(peer=peer):
            _peer_joined(window, state, peer)
        case m.PeerLeft(address=address, reason=reason):
            gone = state.peers.get(address)
            if reason == "left":
                state.peers.pop(address, None)
                state.announced.discard(address)
                state.away.discard(address)
            else:
                state.away.add(address)
            window.add_system(cid, left_line(state, gone, _LEFT.get(reason, "left")))
        case m.PeerAuthenticated(peer=peer):
            before = state.peers.get(peer.address)
            state.set_peer(peer)
            name = name_of(state, state.peers[peer.address])
            if before is None or not before.authenticated:
                state.announced.add(peer.address)
                window.add_system(
                    cid, f"{name} joined: keys authenticated. Compare safety numbers."
                )
            else:
                window.add_system(cid, f"{name}'s keys are authenticated. Compare safety numbers.")
        case m.PeerRefused(reason=reason):
            window.add_system(cid, f"A member's keys did not verify ({reason}); not trusted.")
        case m.KeyChanged(address=address):
            window.add_system(
                cid,
                f"⚠ Someone presented different keys for {address_name(address)}; "
                "they were refused.",
            )
        case m.MessageReceived(message=message):
            window.show_message(cid, message)
        case m.StatusChanged(message_id=message_id, status=status):
            view = window.views[cid]
            if not view.update_status(bytes.fromhex(message_id), status):
                state.early_status[bytes.fromhex(message_id)] = status
        case m.InviteRetired():
            window.add_system(cid, "Too many wrong codes: this invite code works no more.")
        case m.SessionFailed(reason=reason):
            state.closed = f"Session ended: {reason}"
            window.add_system(cid, state.closed)


def _peer_joined(window: MainWindow, state: ChatState, peer: m.PeerInfo) -> None:
    """A member joined: "joined" the first time, "is back" only after it went away."""
    known = peer.address in state.peers
    state.set_peer(peer)
    shown = state.peers[peer.address]
    cid = state.chat_id
    if not shown.authenticated:
        if not known:
            window.add_system(cid, f"{name_of(state, shown)}.")
        return
    if peer.address in state.away:
        state.away.discard(peer.address)
        window.add_system(cid, f"{name_of(state, shown)} is back.")
    elif peer.address not in state.announced:
        state.announced.add(peer.address)
        window.add_system(cid, f"{name_of(state, shown)} joined.")


def _hold(window: MainWindow, event: SessionEvent) -> None:
    held = window.held_events
    sid = _session_id(event)
    if sid not in held and len(held) >= MAX_HELD_SESSIONS:
        return
    queue = held.setdefault(sid, [])
    if len(queue) < MAX_HELD_EVENTS:
        queue.append(event)


def _incoming_call(window: MainWindow, event: m.IncomingCall) -> None:
    address = parse_quickokey(event.caller_quickokey)
    dialog = IncomingCallDialog(
        event.call_id,
        display_name(address),  # never the name the caller claims
        event.caller_quickokey,
        event.safety_number,
        claimed_name=claimed_name(address, event.display_name),
        ring_ms=window.ring_ms,
        parent=window,
    )
    call_id = event.call_id
    name = dialog.display_name

    def answered(accept: bool) -> None:
        def done(info: m.SessionInfo | None) -> None:
            state = None if info is None else window.open_chat(info)
            if state is not None:
                window.show_chat(state.chat_id)

        def failed(exc: BaseException) -> None:
            window.status.showMessage(f"Call failed: {describe_exception(exc)}", _STATUS_MS)

        window.bridge.run(
            lambda: window.client.answer_call(call_id, accept), done, failed, lane="long"
        )

    def expired() -> None:
        # Stays in the status bar until the next message: a missed call, not a passing note.
        window.status.showMessage(stopped_calling(name), 0)
        # The caller has given up; declining tells the client to forget the call.
        window.bridge.run(lambda: window.client.answer_call(call_id, False), lane="long")

    dialog.answered.connect(answered)
    dialog.expired.connect(expired)
    window.open_dialog(dialog)
