"""The apps' shared model fed client events with a fixed clock: no event loop, no toolkit."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from quicko.appmodel import (
    MAX_HELD_EVENTS,
    MAX_HELD_SESSIONS,
    AppModel,
    CallArrived,
    CallGone,
    ChatChanged,
    ChatClosed,
    ChatReady,
    ConnectionChanged,
    EntryAdded,
    LinkState,
    Notice,
    ResyncNeeded,
    StatusUpdated,
    SystemLine,
    not_connected,
)
from quicko.client import models as ev
from quicko.identity import Identity, display_name
from quicko.messaging import ChatMessage, DeliveryStatus, advance

SID = "5e" * 16
PEER_ADDRESS = "ab" * 16
PEER_NAME = display_name(bytes.fromhex(PEER_ADDRESS))
PEER = ev.PeerInfo(PEER_ADDRESS, PEER_NAME, True, "12345 67890", False)
STRANGER = ev.PeerInfo("cd" * 16, "Alice", False, None, False)
URL = "ws://127.0.0.1:9900"


def message(number: int, *, outgoing: bool, status: DeliveryStatus) -> ChatMessage:
    return ChatMessage(
        number.to_bytes(16, "big"),
        bytes.fromhex(SID),
        bytes.fromhex(PEER_ADDRESS),
        PEER_NAME,
        f"text {number}",
        1_700_000_000_000 + number,
        outgoing,
        status,
    )


def lines(model: AppModel, chat_id: str) -> list[str]:
    chat = model.book.get(chat_id)
    assert chat is not None
    return [entry.text for entry in chat.entries if isinstance(entry, SystemLine)]


def opened(
    model: AppModel, role: ev.SessionRole = "creator", peers: tuple[ev.PeerInfo, ...] = ()
) -> str:
    chat, changes = model.open_session(ev.SessionInfo(SID, "KBQW-E3TV", role, peers), "Opened")
    assert chat is not None and changes[-1] == ChatChanged(chat.chat_id)
    return chat.chat_id


def link(model: AppModel) -> LinkState:
    return model.connection.state


def test_connection_follows_the_client_and_keeps_the_reason_until_back() -> None:
    model = AppModel(URL)
    assert model.connection.state is LinkState.CONNECTING and model.connection.relay_url == URL
    assert model.apply(ev.Connected("n1"), 0) == [ConnectionChanged(model.connection)]
    model.apply(ev.LatencyMeasured(3.5), 10)
    assert model.connection.latency_ms == 3.5
    model.apply(ev.Disconnected("cannot connect: ConnectionRefusedError"), 20)
    connection = model.connection
    assert (connection.state, connection.attempt, connection.reason) == (
        LinkState.CONNECTING,
        1,
        "connection refused",
    )
    model.apply(ev.Reconnecting(attempt=3, delay_ms=4_500), 1_000)
    assert model.connection.retry_at_ms == 5_500
    assert model.connection.seconds_to_retry(1_000) == 5
    assert model.connection.seconds_to_retry(9_000) == 0
    assert model.connection.reason == "connection refused"  # kept through the attempts
    model.apply(ev.Reconnecting(attempt=4, delay_ms=100, reason="host name not found"), 1_000)
    assert model.connection.reason == "host name not found"  # the client says why now
    assert model.connection.offline_text() == (
        f"the relay at {URL} is not reachable (host name not found)"
    )
    assert not_connected("call", f"not connected to the relay at {URL}: refused", "here") == (
        f"Cannot call now: not connected to the relay at {URL}: refused. "
        "Try again once here says connected."
    )
    model.apply(ev.ReconnectionFailed(attempts=5), 2_000)
    assert link(model) is LinkState.DISCONNECTED
    assert model.connection.reason == "gave up after 5 attempts"
    model.apply(ev.Disconnected("bye", will_retry=False), 2_000)
    assert link(model) is LinkState.DISCONNECTED
    model.apply(ev.Connected("n1"), 3_000)
    assert model.connection.connected and model.connection.reason == ""
    assert model.apply(ev.Connected("n1"), 3_000) == []  # nothing new to draw


def test_latency_while_not_connected_changes_nothing() -> None:
    model = AppModel()
    assert model.apply(ev.LatencyMeasured(1.0), 0) == []
    assert model.connection.latency_ms is None


def test_events_before_the_chat_opens_are_held_then_replayed() -> None:
    model = AppModel()
    incoming = message(7, outgoing=False, status=DeliveryStatus.DELIVERED)
    assert model.apply(ev.MessageReceived(SID, incoming), 0) == []
    assert model.apply(ev.SessionReady(ev.SessionInfo(SID, None, "callee", (PEER,))), 0) == []
    assert len(model.book) == 0  # only the user's own actions open chats
    chat, changes = model.open_session(ev.SessionInfo(SID, None, "callee", ()), "Accepted")
    assert chat is not None and chat.unread == 1 and PEER_ADDRESS in chat.peers
    assert ChatReady(chat.chat_id) in changes
    assert [entry for entry in chat.entries if isinstance(entry, ChatMessage)] == [incoming]
    assert lines(model, chat.chat_id) == [
        "Accepted",
        f"{PEER_NAME} joined.",
        "Keys authenticated: this chat is end-to-end encrypted.",
    ]
    assert chat.preview == "Keys authenticated: this chat is end-to-end encrypted."
    assert model.take_unread(chat.chat_id) == [incoming.message_id.hex()]
    assert chat.unread == 0


def test_held_events_are_bounded() -> None:
    model = AppModel()
    for session in range(MAX_HELD_SESSIONS + 3):
        for number in range(MAX_HELD_EVENTS + 3):
            event = ev.MessageReceived(
                f"{session:032x}", message(number, outgoing=False, status=DeliveryStatus.DELIVERED)
            )
            model.apply(event, 0)
    chat, _ = model.open_session(ev.SessionInfo(f"{0:032x}", None, "joiner", ()))
    assert chat is not None and chat.unread == MAX_HELD_EVENTS
    late, _ = model.open_session(ev.SessionInfo(f"{MAX_HELD_SESSIONS:032x}", None, "joiner", ()))
    assert late is not None and late.unread == 0


def test_peers_join_leave_come_back_and_keep_what_is_known() -> None:
    model = AppModel()
    cid = opened(model)
    model.apply(ev.PeerJoined(SID, STRANGER), 0)
    model.apply(ev.PeerJoined(SID, PEER), 0)
    model.apply(ev.PeerJoined(SID, PEER), 0)  # no news
    model.apply(ev.PeerLeft(SID, PEER_ADDRESS, PEER_NAME, "away"), 0)
    model.apply(ev.PeerJoined(SID, PEER), 0)
    model.apply(ev.PeerLeft(SID, STRANGER.address, "Alice", "left"), 0)
    assert lines(model, cid)[1:] == [
        "Someone with the invite code is trying to join.",
        f"{PEER_NAME} joined.",
        f"{PEER_NAME} left.",
        f"{PEER_NAME} is back.",
        "Someone who was trying to join left.",
    ]
    chat = model.book.get(cid)
    assert chat is not None and list(chat.peers) == [PEER_ADDRESS] and chat.encrypted
    assert model.mark_verified(cid, PEER_ADDRESS)[-1] == ChatChanged(cid)
    model.apply(ev.PeerJoined(SID, PEER), 0)  # an older snapshot: still verified
    assert chat.verified and chat.subtitle == "Invite code KBQW-E3TV · Verified ✓"
    assert lines(model, cid)[-1] == f"You verified {PEER_NAME}."


def test_authentication_key_changes_refusals_and_the_end() -> None:
    model = AppModel()
    cid = opened(model, "joiner")
    model.apply(ev.PeerAuthenticated(SID, PEER), 0)
    model.apply(ev.PeerAuthenticated(SID, PEER), 0)
    model.apply(ev.KeyChanged(SID, PEER_ADDRESS, "Mallory"), 0)
    model.apply(ev.PeerRefused(SID, "cd" * 16, "bad signature"), 0)
    model.apply(ev.InviteRetired(SID), 0)
    changes = model.apply(ev.SessionFailed(SID, "the relay forgot it"), 0)
    chat = model.book.get(cid)
    assert chat is not None and chat.invite_code is None
    assert changes[0] == EntryAdded(
        cid, SystemLine("Session ended: the relay forgot it", warning=True)
    )
    assert chat.ended == "the relay forgot it" and not chat.encrypted
    assert chat.subtitle == "Session ended: the relay forgot it"
    assert lines(model, cid)[1:] == [
        f"{PEER_NAME} joined: keys authenticated. Compare safety numbers.",
        f"{PEER_NAME}'s keys are authenticated. Compare safety numbers.",
        f"⚠ Someone presented different keys for {PEER_NAME}; they were refused.",
        "A member's keys did not verify (bad signature); not trusted.",
        "Too many wrong codes: this invite code works no more.",
        "Session ended: the relay forgot it",
    ]


def test_a_session_report_with_another_role_is_never_merged() -> None:
    model = AppModel()
    cid = opened(model, "creator")
    model.apply(ev.SessionReady(ev.SessionInfo(SID, None, "callee", (PEER,))), 0)
    chat = model.book.get(cid)
    assert chat is not None and chat.peers == {} and chat.role == "creator"
    again, changes = model.open_session(ev.SessionInfo(SID, None, "callee", (PEER,)))
    assert again is None and changes == [] and model.book.get(cid) is chat


def test_statuses_early_and_late_and_for_our_messages_only() -> None:
    model = AppModel()
    cid = opened(model)
    sent = message(1, outgoing=True, status=DeliveryStatus.PENDING)
    assert model.apply(ev.StatusChanged(SID, sent.message_id.hex(), DeliveryStatus.SENT), 0) == [
        ChatChanged(cid)
    ]
    added = model.add_message(cid, sent)
    assert added[0] == EntryAdded(cid, sent.with_status(DeliveryStatus.SENT))
    changes = model.apply(ev.StatusChanged(SID, sent.message_id.hex(), DeliveryStatus.READ), 0)
    assert changes[0] == StatusUpdated(cid, sent.with_status(DeliveryStatus.READ))
    chat = model.book.get(cid)
    assert chat is not None and chat.preview == "You: text 1"


def test_a_failed_message_says_why_and_a_retry_makes_it_pending_again() -> None:
    model = AppModel()
    cid = opened(model)
    sent = message(1, outgoing=True, status=DeliveryStatus.SENT)
    model.add_message(cid, sent)
    why = "not delivered within 3,600 s"
    changes = model.apply(
        ev.StatusChanged(SID, sent.message_id.hex(), DeliveryStatus.FAILED, why), 0
    )
    failed = sent.with_status(DeliveryStatus.FAILED)
    assert changes[0] == StatusUpdated(cid, failed, why)
    chat = model.book.get(cid)
    assert chat is not None and chat.failed() == [failed]
    assert chat.reasons == {sent.message_id.hex(): why}
    # retry_message's result: the same message, PENDING again, in its place.
    again = sent.with_status(DeliveryStatus.PENDING)
    assert model.retried(cid, again)[0] == StatusUpdated(cid, again)
    assert chat.failed() == [] and chat.reasons == {} and list(chat.entries)[-1] == again
    pending = ev.StatusChanged(SID, sent.message_id.hex(), DeliveryStatus.PENDING)
    assert model.apply(pending, 0) == [ChatChanged(cid)]  # the client's echo: no news
    assert model.retried(cid, message(9, outgoing=True, status=DeliveryStatus.PENDING)) == []
    assert model.retried("c99", again) == []


def test_local_names_are_shown_first_and_can_be_removed() -> None:
    model = AppModel()
    cid = opened(model, "joiner", (PEER,))
    model.set_local_name(cid, PEER_ADDRESS, "Bob")
    chat = model.book.get(cid)
    assert chat is not None and chat.title == f"Bob ({PEER_NAME})"
    assert chat.derived_names == PEER_NAME
    model.set_local_name(cid, PEER_ADDRESS, "")
    assert chat.title == PEER_NAME
    assert lines(model, cid)[-1] == f"{PEER_NAME} has no name of yours any more."
    assert model.set_local_name(cid, "99" * 16, "Nobody") == []


def test_closing_drops_later_events_of_the_session() -> None:
    model = AppModel()
    cid = opened(model)
    assert model.apply(ev.SessionClosed(SID), 0) == [ChatClosed(cid)]
    assert model.apply(ev.PeerJoined(SID, PEER), 0) == []
    assert model.close(cid) == [] and len(model.book) == 0


def test_incoming_calls_ring_until_their_deadline() -> None:
    model = AppModel(ring_ms=55_000)
    caller = Identity.from_root(bytes([*range(15), 0xAE])).public
    event = ev.IncomingCall("call-1", caller.quickokey, "Alice", "123")
    (arrived,) = model.apply(event, 1_000)
    assert isinstance(arrived, CallArrived)
    call = arrived.call
    assert call.display_name == caller.display_name and call.claimed_name == "Alice"
    assert call.deadline_ms == 56_000 and model.next_deadline() == 56_000
    assert call.seconds_left(1_000) == 55 and call.seconds_left(60_000) == 0
    assert model.handle_timeout(55_999) == []
    (gone,) = model.handle_timeout(56_000)
    assert gone == CallGone(
        call, f"{caller.display_name} stopped calling (no answer within 60 s).", decline=True
    )
    assert gone.decline  # only the app knows: the client must be told
    assert model.next_deadline() is None and model.answered("call-1") is None
    (again,) = model.apply(event, 0)
    assert isinstance(again, CallArrived) and model.answered("call-1") == again.call


def test_the_ring_ends_with_the_clients_deadline_or_its_call_ended() -> None:
    model = AppModel(ring_ms=55_000)
    caller = Identity.from_root(bytes([*range(15), 0xAE])).public
    early = ev.IncomingCall("c1", caller.quickokey, caller.display_name, "1", expires_ms=30_000)
    (arrived,) = model.apply(early, 10_000)
    assert isinstance(arrived, CallArrived) and arrived.call.claimed_name is None
    assert arrived.call.deadline_ms == 25_000  # 5 s before the relay's end, not 65,000
    assert model.apply(ev.CallEnded("c1", "cancelled"), 11_000) == [
        CallGone(arrived.call, f"{caller.display_name} stopped calling.", decline=False)
    ]
    assert model.apply(ev.CallEnded("c1", "timeout"), 12_000) == []  # already gone
    model.apply(ev.IncomingCall("c2", caller.quickokey, "", "1"), 0)
    (gone,) = model.apply(ev.CallEnded("c2", "timeout"), 1)
    assert isinstance(gone, CallGone) and "no answer within 60 s" in gone.text
    assert not gone.decline and model.next_deadline() is None


def test_the_outgoing_call_is_known_while_it_rings() -> None:
    model = AppModel()
    ringing = ev.CallRinging("c9", "QK-X")
    assert model.apply(ringing, 0) == [] and model.outgoing == ringing
    model.call_over()
    assert outgoing(model) is None
    model.apply(ringing, 0)
    assert model.apply(ev.CallDeclined("c9", "declined"), 0)[0] == Notice(
        "Call not connected: declined"
    )
    assert outgoing(model) is None


def outgoing(model: AppModel) -> ev.CallRinging | None:
    return model.outgoing


def test_after_dropped_events_the_store_fills_the_gaps() -> None:
    # core10: on EventsDropped, re-read messages(); nothing shown twice, statuses forward.
    model = AppModel()
    cid = opened(model)
    other = "6f" * 16
    model.open_session(ev.SessionInfo(other, None, "joiner", ()))
    (resync,) = model.apply(ev.EventsDropped(count=12), 0)
    assert resync == ResyncNeeded((SID, other))
    sent = message(1, outgoing=True, status=DeliveryStatus.SENT)
    shown = message(2, outgoing=False, status=DeliveryStatus.DELIVERED)
    model.add_message(cid, sent)
    model.add_message(cid, shown)
    missed = message(3, outgoing=False, status=DeliveryStatus.DELIVERED)
    info = ev.SessionInfo(SID, None, "creator", ())
    changes = model.resync(SID, [sent.with_status(DeliveryStatus.READ), shown, missed], info)
    note = SystemLine(
        "Some events were missed (the app fell behind): this chat was brought up to date."
    )
    assert changes == [
        EntryAdded(cid, note),
        StatusUpdated(cid, sent.with_status(DeliveryStatus.READ)),
        EntryAdded(cid, missed),
        ChatChanged(cid),
    ]
    chat = model.book.get(cid)
    assert chat is not None and chat.unread == 2
    assert model.resync("77" * 16, [missed], None) == []


def test_after_dropped_events_the_members_are_brought_up_to_date() -> None:
    # The dropped events may have been joins, authentications and leaves, not only messages.
    model = AppModel()
    cid = opened(model, peers=(STRANGER,))
    chat = model.book.get(cid)
    assert chat is not None and set(chat.peers) == {STRANGER.address}
    members = (PEER,)  # the stranger left for good; PEER joined and was authenticated
    model.resync(SID, [], ev.SessionInfo(SID, None, "creator", members))
    assert set(chat.peers) == {PEER_ADDRESS} and chat.peers[PEER_ADDRESS].authenticated
    assert lines(model, cid)[-2:] == [
        "Someone who was trying to join left.",
        f"{PEER_NAME} joined: keys authenticated. Compare safety numbers.",
    ]
    before = lines(model, cid)
    model.resync(SID, [], ev.SessionInfo(SID, None, "creator", members))
    assert lines(model, cid)[len(before) :] == [  # nothing changed: only the note
        "Some events were missed (the app fell behind): this chat was brought up to date."
    ]
    model.resync(SID, [], None)  # the client no longer has the session
    assert chat.ended == "the session ended" and model.book.get(cid) is chat
    assert lines(model, cid)[-1] == "Session ended while events were missed."


def test_notices() -> None:
    model = AppModel()
    assert model.apply(ev.CallDeclined("c", "declined"), 0) == [
        Notice("Call not connected: declined")
    ]
    assert model.apply(ev.ClientError("boom"), 0) == [Notice("boom")]
    assert model.apply(ev.WrongInviteCode(SID, 0), 0) == []


STATUSES = st.sampled_from(list(DeliveryStatus))


def folded(updates: list[DeliveryStatus]) -> DeliveryStatus:
    status = DeliveryStatus.PENDING
    for update in updates:
        status = advance(status, update) or status
    return status


@given(st.lists(STATUSES, max_size=12), st.integers(min_value=0, max_value=12))
def test_a_status_ends_the_same_whenever_its_message_arrives(
    updates: list[DeliveryStatus], added_after: int
) -> None:
    # The receipts may overtake send_message's reply: the status shown is the same as if every
    # update had come after it, and it never moves back while shown.
    model = AppModel()
    cid = opened(model)
    sent = message(1, outgoing=True, status=DeliveryStatus.PENDING)
    shown: list[DeliveryStatus] = []
    for index, status in enumerate([*updates, None]):
        if index == added_after or (status is None and added_after >= len(updates)):
            model.add_message(cid, sent)
        if status is not None:
            model.apply(ev.StatusChanged(SID, sent.message_id.hex(), status), 0)
        chat = model.book.get(cid)
        assert chat is not None
        shown += [e.status for e in chat.entries if isinstance(e, ChatMessage)]
    assert shown[-1] is folded(updates)
    assert all(
        before == after or advance(before, after) is after
        for before, after in itertools.pairwise(shown)
    )
