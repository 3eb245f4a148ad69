"""How the main window applies each client event (one ``match`` over the event union).

Events about a session the window has not opened yet (a message that overtakes the result of
``join_session`` or ``answer_call`` on its way to the UI thread) are held, boundedly, and
replayed when the chat opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from quicko.client import models as m
from quicko.ui.qt.bridge import describe_exception
from quicko.ui.qt.widgets.dialogs import IncomingCallDialog

if TYPE_CHECKING:
    from quicko.ui.qt.main_window import MainWindow

__all__ = ["MAX_HELD_EVENTS", "MAX_HELD_SESSIONS", "SessionEvent", "apply_event", "replay_held"]

MAX_HELD_EVENTS: Final = 200
"""Most events held for one session not opened yet."""

MAX_HELD_SESSIONS: Final = 16
"""Most sessions with held events."""

_STATUS_MS: Final = 8000
_LEFT: Final = {"left": "left", "disconnected": "disconnected", "expired": "timed out"}

SessionEvent = (
    m.PeerJoined
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
            window.status.set_connection("connected")
        case m.Disconnected(reason=reason):
            window.status.set_connection("disconnected", detail=reason)
        case m.Reconnecting(attempt=attempt):
            window.status.set_connection("connecting", attempt=attempt)
        case m.ReconnectionFailed(attempts=attempts):
            window.status.set_connection("disconnected", detail=f"gave up after {attempts} tries")
        case m.LatencyMeasured(latency_ms=latency):
            window.status.set_latency(latency)
        case m.SessionReady(session=session):
            _session_ready(window, session)
        case m.SessionClosed(session_id=sid):
            window.close_chat(sid)
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


def _session_ready(window: MainWindow, session: m.SessionInfo) -> None:
    window.open_chat(session)
    window.add_system(session.session_id, "Keys authenticated: this chat is end-to-end encrypted.")
    if window.awaiting_first_peer == session.session_id:
        window.awaiting_first_peer = None
        if window.stack.currentWidget() is window.session_panel:
            window.show_chat(session.session_id)


def _session_event(window: MainWindow, event: m.ClientEvent) -> None:
    if not isinstance(event, SessionEvent):
        return
    state = window.chats.get(event.session_id)
    if state is None:
        _hold(window, event)
        return
    sid = event.session_id
    match event:
        case m.PeerJoined(peer=peer):
            known = peer.address in state.peers
            state.set_peer(peer)
            window.add_system(sid, f"{peer.display_name} {'is back' if known else 'joined'}.")
        case m.PeerLeft(address=address, display_name=name, reason=reason):
            if reason == "left":
                state.peers.pop(address, None)
            window.add_system(sid, f"{name} {_LEFT.get(reason, 'left')}.")
        case m.PeerAuthenticated(peer=peer):
            state.set_peer(peer)
            window.add_system(
                sid, f"{peer.display_name}'s keys are authenticated. Compare safety numbers."
            )
        case m.PeerRefused(reason=reason):
            window.add_system(sid, f"A member's keys did not verify ({reason}); not trusted.")
        case m.KeyChanged(display_name=name):
            window.add_system(sid, f"⚠ {name} presented different keys; they were refused.")
        case m.MessageReceived(message=message):
            window.show_message(sid, message)
        case m.StatusChanged(message_id=message_id, status=status):
            view = window.views[sid]
            if not view.update_status(bytes.fromhex(message_id), status):
                state.early_status[bytes.fromhex(message_id)] = status
        case m.InviteRetired():
            window.add_system(sid, "Too many wrong codes: this invite code works no more.")
        case m.SessionFailed(reason=reason):
            state.closed = f"Session ended: {reason}"
            window.add_system(sid, state.closed)


def _hold(window: MainWindow, event: SessionEvent) -> None:
    held = window.held_events
    if event.session_id not in held and len(held) >= MAX_HELD_SESSIONS:
        return
    queue = held.setdefault(event.session_id, [])
    if len(queue) < MAX_HELD_EVENTS:
        queue.append(event)


def _incoming_call(window: MainWindow, event: m.IncomingCall) -> None:
    dialog = IncomingCallDialog(
        event.call_id,
        event.display_name,
        event.caller_quickokey,
        event.safety_number,
        parent=window,
    )
    call_id = event.call_id

    def answered(accept: bool) -> None:
        def done(info: m.SessionInfo | None) -> None:
            if info is not None:
                window.open_chat(info)
                window.show_chat(info.session_id)

        def failed(exc: BaseException) -> None:
            window.status.showMessage(f"Call failed: {describe_exception(exc)}", _STATUS_MS)

        window.bridge.run(
            lambda: window.client.answer_call(call_id, accept), done, failed, lane="long"
        )

    dialog.answered.connect(answered)
    window.open_dialog(dialog)
