"""Router: the key directory and calls by QuickoKey (§12-§16)."""

from __future__ import annotations

from router_harness import (
    RELAY_URL,
    T0,
    Harness,
    closes,
    errors,
    identity,
    payloads,
    raw,
    register_for,
)

from quicko.protocol import (
    CallPeer,
    CallResponse,
    CallStatus,
    Error,
    ErrorCode,
    LookupKey,
    LookupResponse,
    RegisterAck,
    RegisterKey,
    UnregisterKey,
    encode_frame,
)
from quicko.relay.config import RelayConfig

ACCEPTED = int(CallStatus.ACCEPTED)
DECLINED = int(CallStatus.DECLINED)
CANCELLED = int(CallStatus.CANCELLED)


def _cid(n: int) -> bytes:
    return bytes([0xCA, n]) + bytes(14)


def test_register_lookup_unregister() -> None:
    h = Harness()
    dana, eve = h.peer(1), h.peer(2)
    register = register_for(dana.ident, T0)
    assert payloads(h.send(dana.conn, register), dana.conn) == [RegisterAck(dana.address, True)]
    [found] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert found == LookupResponse(
        dana.address,
        True,
        True,
        "Dana",
        register.x25519_public,
        register.ed25519_public,
        RELAY_URL,
        T0,
        register.signature,
    )
    assert h.router.health()["directory_entries"] == 1
    assert errors(h.send(eve.conn, UnregisterKey(dana.address)), eve.conn) == [ErrorCode.NOT_OWNER]
    assert payloads(h.send(dana.conn, UnregisterKey(dana.address)), dana.conn) == [
        RegisterAck(dana.address, False)
    ]
    [missing] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert missing == LookupResponse(dana.address, False, False, "", b"", b"", "", 0, b"")


def test_register_rejections() -> None:
    h = Harness()
    dana, eve = h.peer(1), h.peer(2)
    squat = register_for(eve.ident, T0)
    assert errors(h.send(dana.conn, squat), dana.conn) == [ErrorCode.NOT_OWNER]
    good = register_for(dana.ident, T0)
    other_keys = RegisterKey(
        dana.address,
        "Dana",
        eve.ident.x25519.public,
        good.ed25519_public,
        RELAY_URL,
        T0,
        good.signature,
    )
    assert errors(h.send(dana.conn, other_keys), dana.conn) == [ErrorCode.AUTHENTICATION_FAILED]
    bad_signature = RegisterKey(
        dana.address,
        "Mallory",
        good.x25519_public,
        good.ed25519_public,
        RELAY_URL,
        T0,
        good.signature,
    )
    assert errors(h.send(dana.conn, bad_signature), dana.conn) == [ErrorCode.AUTHENTICATION_FAILED]
    stale = register_for(dana.ident, T0 - 300_001)
    assert errors(h.send(dana.conn, stale), dana.conn) == [ErrorCode.STALE_SIGNATURE]
    future = register_for(dana.ident, T0 + 300_001)
    assert errors(h.send(dana.conn, future), dana.conn) == [ErrorCode.STALE_SIGNATURE]
    assert h.router.health()["directory_entries"] == 0
    # Within the skew is fine.
    edge = register_for(dana.ident, T0 - 300_000)
    assert payloads(h.send(dana.conn, edge), dana.conn) == [RegisterAck(dana.address, True)]


def test_overwrite_by_owner_and_squatting_attempts() -> None:
    h = Harness()
    dana, eve = h.peer(1), h.peer(2)
    h.send(dana.conn, register_for(dana.ident, T0, "Dana"))
    # Eve cannot overwrite, even replaying Dana's own signed registration.
    assert errors(h.send(eve.conn, register_for(dana.ident, T0, "Eve")), eve.conn) == [
        ErrorCode.NOT_OWNER
    ]
    h.now += 1
    h.send(dana.conn, register_for(dana.ident, T0 + 1, "Dana II"))
    [found] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert isinstance(found, LookupResponse)
    assert found.display_name == "Dana II"


def test_directory_full() -> None:
    h = Harness(RelayConfig(max_directory_entries=1))
    dana, eve = h.peer(1), h.peer(2)
    h.send(dana.conn, register_for(dana.ident, T0))
    assert errors(h.send(eve.conn, register_for(eve.ident, T0)), eve.conn) == [
        ErrorCode.LIMIT_REACHED
    ]
    # The owner of an existing entry may still replace it.
    assert payloads(h.send(dana.conn, register_for(dana.ident, T0)), dana.conn) == [
        RegisterAck(dana.address, True)
    ]


def test_entry_goes_offline_then_expires() -> None:
    h = Harness()
    dana, eve = h.peer(1), h.peer(2)
    h.send(dana.conn, register_for(dana.ident, T0))
    h.drop(dana)
    [offline] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert isinstance(offline, LookupResponse)
    assert (offline.found, offline.online) == (True, False)
    assert h.router.next_deadline() == T0 + 600_000  # eve's idle timeout comes first
    h.now += 3_000_000
    h.send(eve.conn, LookupKey(dana.address))
    # Coming back before the TTL keeps the entry.
    dana2, _ = h.connect(1)
    h.advance(700_000)
    assert h.router.health()["directory_entries"] == 1
    h.drop(dana2)
    h.now += 3_599_999
    h.send(eve.conn, LookupKey(dana.address))
    h.advance(0)
    assert h.router.health()["directory_entries"] == 1
    h.advance(1)
    assert h.router.health()["directory_entries"] == 0


def _call_setup(h: Harness) -> tuple[int, int, bytes, bytes]:
    eve, dana = h.peer(2), h.peer(1)
    h.send(dana.conn, register_for(dana.ident, T0))
    return eve.conn, dana.conn, eve.address, dana.address


def test_call_forwarded_and_accepted() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    call = encode_frame(CallPeer(_cid(1), eve_addr, dana_addr, b"bundle"))
    actions = h.recv(eve, call)
    assert raw(actions, dana) == [call]
    assert raw(actions, eve) == []
    answer = encode_frame(CallResponse(_cid(1), eve_addr, dana_addr, ACCEPTED, b"mine"))
    actions = h.recv(dana, answer)
    assert raw(actions, eve) == [answer]
    # Answered once: a second answer is not pending, and no timeout follows.
    assert errors(h.recv(dana, answer), dana) == [ErrorCode.NOT_PENDING]
    assert h.advance(60_000) == []


def test_call_declined_after_caller_reconnected() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    h.router.closed(eve, h.now)
    answer = encode_frame(CallResponse(_cid(1), eve_addr, dana_addr, DECLINED, b""))
    assert h.recv(dana, answer) == []  # caller gone: dropped
    h.send(h.peer(2).conn, CallPeer(_cid(2), eve_addr, dana_addr, b""))
    eve2 = h.peer(2)
    answer = encode_frame(CallResponse(_cid(2), eve_addr, dana_addr, DECLINED, b""))
    assert raw(h.recv(dana, answer), eve2.conn) == [answer]


def test_call_offline_when_unregistered_or_away() -> None:
    h = Harness()
    eve, carol = h.peer(2), h.peer(3)
    actions = h.send(eve.conn, CallPeer(_cid(1), eve.address, carol.address, b""))
    assert payloads(actions, eve.conn) == [
        CallResponse(_cid(1), eve.address, carol.address, CallStatus.OFFLINE, b"")
    ]
    assert raw(actions, carol.conn) == []
    dana = h.peer(1)
    h.send(dana.conn, register_for(dana.ident, T0))
    h.drop(dana)
    actions = h.send(eve.conn, CallPeer(_cid(2), eve.address, dana.address, b""))
    assert payloads(actions, eve.conn) == [
        CallResponse(_cid(2), eve.address, dana.address, CallStatus.OFFLINE, b"")
    ]


def test_call_timeout() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    assert h.router.next_deadline() == T0 + 60_000
    actions = h.advance(60_000)
    timeout = CallResponse(_cid(1), eve_addr, dana_addr, CallStatus.TIMEOUT, b"")
    assert payloads(actions, eve) == [timeout]
    assert payloads(actions, dana) == [timeout]  # the callee's ring ends too (§4.8)
    h.send(eve, CallPeer(_cid(2), eve_addr, dana_addr, b""))
    h.router.closed(eve, h.now)
    assert not [a for a in h.advance(60_000) if getattr(a, "conn", None) == eve]


def test_call_rejections() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, max_pending_calls_per_caller=2))
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    mallory = h.peer(3)
    reversed_call = CallPeer(_cid(1), dana_addr, eve_addr, b"")
    assert errors(h.send(eve, reversed_call), eve) == [ErrorCode.SENDER_MISMATCH]
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    reused_id = CallPeer(_cid(1), mallory.address, dana_addr, b"")
    assert errors(h.send(mallory.conn, reused_id), mallory.conn) == [ErrorCode.MALFORMED]
    h.send(eve, CallPeer(_cid(2), eve_addr, dana_addr, b""))
    third = CallPeer(_cid(3), eve_addr, dana_addr, b"")
    assert errors(h.send(eve, third), eve) == [ErrorCode.LIMIT_REACHED]
    # Answers: from someone else, with a bad status, for another caller, for no call.
    cases = [
        (
            mallory.conn,
            CallResponse(_cid(1), eve_addr, dana_addr, ACCEPTED, b""),
            ErrorCode.SENDER_MISMATCH,
        ),
        (
            dana,
            CallResponse(_cid(1), eve_addr, dana_addr, int(CallStatus.TIMEOUT), b""),
            ErrorCode.MALFORMED,
        ),
        (
            dana,
            CallResponse(_cid(1), mallory.address, dana_addr, ACCEPTED, b""),
            ErrorCode.NOT_PENDING,
        ),
        (dana, CallResponse(_cid(9), eve_addr, dana_addr, ACCEPTED, b""), ErrorCode.NOT_PENDING),
    ]
    for conn, response, code in cases:
        assert errors(h.send(conn, response), conn) == [code]
    assert h.router.metrics.pending_calls == 2


def test_total_pending_calls_cap() -> None:
    h = Harness(RelayConfig(rate=1000, burst=1000, max_pending_calls=1))
    eve, _, eve_addr, dana_addr = _call_setup(h)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    carol = h.peer(3)
    second = CallPeer(_cid(2), carol.address, dana_addr, b"")
    assert errors(h.send(carol.conn, second), carol.conn) == [ErrorCode.LIMIT_REACHED]
    assert identity(3).address == carol.address


def test_register_for_another_relay_is_refused_and_the_connection_stays() -> None:
    h = Harness()
    dana, eve = h.peer(1), h.peer(2)
    elsewhere = register_for(dana.ident, T0, relay_url="ws://relay-two.example:9900")
    actions = h.send(dana.conn, elsewhere)
    [error] = [p for p in payloads(actions, dana.conn) if isinstance(p, Error)]
    assert (error.code, error.ref_type) == (ErrorCode.WRONG_RELAY, 0x50)
    assert closes(actions) == {}
    [missing] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert isinstance(missing, LookupResponse) and not missing.found
    # A URL that is this relay's once canonicalised is accepted, and looked up as signed.
    spelled = register_for(dana.ident, T0, relay_url="WS://127.0.0.1:9900/ws")
    assert payloads(h.send(dana.conn, spelled), dana.conn) == [RegisterAck(dana.address, True)]
    [found] = payloads(h.send(eve.conn, LookupKey(dana.address)), eve.conn)
    assert isinstance(found, LookupResponse) and found.relay_url == "WS://127.0.0.1:9900/ws"


def test_call_cancelled_by_the_caller() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b"bundle"))
    cancel = encode_frame(CallResponse(_cid(1), eve_addr, dana_addr, CANCELLED, b""))
    actions = h.recv(eve, cancel)
    assert raw(actions, dana) == [cancel]  # forwarded unchanged to the callee
    assert raw(actions, eve) == []
    assert h.router.metrics.pending_calls == 0
    # Forgotten: a late answer and a second cancel are not pending; no timeout follows.
    late = CallResponse(_cid(1), eve_addr, dana_addr, ACCEPTED, b"mine")
    assert errors(h.send(dana, late), dana) == [ErrorCode.NOT_PENDING]
    assert errors(h.recv(eve, cancel), eve) == [ErrorCode.NOT_PENDING]
    assert h.advance(60_000) == []


def test_call_cancel_rejections() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    mallory = h.peer(3)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    cases = [
        # Only the caller may cancel: from the callee, or from a third party naming the caller.
        (dana, CallResponse(_cid(1), eve_addr, dana_addr, CANCELLED, b""),
         ErrorCode.SENDER_MISMATCH),
        (mallory.conn, CallResponse(_cid(1), eve_addr, dana_addr, CANCELLED, b""),
         ErrorCode.SENDER_MISMATCH),
        # Someone else's call id, under one's own address; another callee; no such call.
        (mallory.conn, CallResponse(_cid(1), mallory.address, dana_addr, CANCELLED, b""),
         ErrorCode.NOT_PENDING),
        (eve, CallResponse(_cid(1), eve_addr, mallory.address, CANCELLED, b""),
         ErrorCode.NOT_PENDING),
        (eve, CallResponse(_cid(9), eve_addr, dana_addr, CANCELLED, b""), ErrorCode.NOT_PENDING),
        # A cancel carries no bundle.
        (eve, CallResponse(_cid(1), eve_addr, dana_addr, CANCELLED, b"x"), ErrorCode.MALFORMED),
    ]  # fmt: skip
    for conn, response, code in cases:
        assert errors(h.send(conn, response), conn) == [code]
    assert h.router.metrics.pending_calls == 1  # still waiting for dana


def test_call_cancel_with_the_callee_gone() -> None:
    h = Harness()
    eve, dana, eve_addr, dana_addr = _call_setup(h)
    h.send(eve, CallPeer(_cid(1), eve_addr, dana_addr, b""))
    h.router.closed(dana, h.now)
    cancel = encode_frame(CallResponse(_cid(1), eve_addr, dana_addr, CANCELLED, b""))
    assert h.recv(eve, cancel) == []  # nobody to tell; the call is forgotten all the same
    assert h.router.metrics.pending_calls == 0
