"""Directory and call handlers (docs/protocol.md §12-§16).

REGISTER_KEY, UNREGISTER_KEY and LOOKUP_KEY, CALL_PEER and CALL_RESPONSE.
"""

from __future__ import annotations

from quicko.crypto import ed25519
from quicko.errors import AuthenticationError
from quicko.protocol import (
    CallPeer,
    CallResponse,
    CallStatus,
    LookupKey,
    LookupResponse,
    MessageType,
    RegisterAck,
    RegisterKey,
    UnregisterKey,
    register_transcript,
)
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action
from quicko.relay.calls import PendingCall
from quicko.relay.connections import Connection
from quicko.relay.core import RouterCore
from quicko.relay.directory import DirectoryEntry

__all__ = ["KeyHandlers"]

_REGISTER = int(MessageType.REGISTER_KEY)
_CALL_PEER = int(MessageType.CALL_PEER)
_CALL_RESPONSE = int(MessageType.CALL_RESPONSE)
_ANSWERS = frozenset((CallStatus.ACCEPTED, CallStatus.DECLINED))


class KeyHandlers(RouterCore):
    """The key directory and calls by QuickoKey."""

    def _register(
        self, c: Connection, address: bytes, register: RegisterKey, now_ms: int
    ) -> list[Action]:
        """Publish the connection's own keys, signed (§12)."""
        if not self._is_public_url(register.relay_url):
            return self._reject(
                c, ErrorCode.WRONG_RELAY, "the entry is signed for another relay", _REGISTER
            )
        if register.address != address:
            return self._reject(
                c, ErrorCode.NOT_OWNER, "you may register only your address", _REGISTER
            )
        if (register.x25519_public, register.ed25519_public) != (
            c.x25519_public,
            c.ed25519_public,
        ):
            return self._reject(
                c,
                ErrorCode.AUTHENTICATION_FAILED,
                "keys differ from the ones proven in Hello",
                _REGISTER,
            )
        if abs(register.signed_at - now_ms) > self._config.signature_skew_ms:
            return self._reject(
                c, ErrorCode.STALE_SIGNATURE, "signed_at is too far from now", _REGISTER
            )
        transcript = register_transcript(
            address=register.address,
            display_name=register.display_name,
            x25519_public=register.x25519_public,
            ed25519_public=register.ed25519_public,
            relay_url=register.relay_url,
            signed_at=register.signed_at,
        )
        try:
            ed25519.verify(register.ed25519_public, register.signature, transcript)
        except AuthenticationError:
            return self._reject(c, ErrorCode.AUTHENTICATION_FAILED, "bad signature", _REGISTER)
        directory = self._directory
        if directory.get(address) is None:
            if len(directory) >= self._config.max_directory_entries:
                return self._reject(c, ErrorCode.LIMIT_REACHED, "the directory is full", _REGISTER)
            if directory.count_for_source(c.source) >= self._config.max_directory_entries_per_ip:
                return self._reject(
                    c, ErrorCode.LIMIT_REACHED, "too many entries from your address", _REGISTER
                )
        directory.put(
            DirectoryEntry(
                register.address,
                register.display_name,
                register.x25519_public,
                register.ed25519_public,
                register.relay_url,
                register.signed_at,
                register.signature,
            ),
            c.source,
        )
        out: list[Action] = []
        self._send_payload(out, c.conn, RegisterAck(address, registered=True))
        return out

    def _unregister(self, c: Connection, address: bytes, request: UnregisterKey) -> list[Action]:
        """Remove the connection's own directory entry (§13)."""
        if request.address != address:
            return self._reject(
                c,
                ErrorCode.NOT_OWNER,
                "you may unregister only your address",
                MessageType.UNREGISTER_KEY,
            )
        self._directory.remove(address)
        out: list[Action] = []
        self._send_payload(out, c.conn, RegisterAck(address, registered=False))
        return out

    def _lookup(self, c: Connection, request: LookupKey) -> list[Action]:
        """Answer with the entry exactly as signed, and whether its owner is online (§14)."""
        entry = self._directory.get(request.address)
        if entry is None:
            reply = LookupResponse(request.address, False, False, "", b"", b"", "", 0, b"")
        else:
            online = self._conns.bound(entry.address) is not None
            reply = LookupResponse(
                entry.address,
                True,
                online,
                entry.display_name,
                entry.x25519_public,
                entry.ed25519_public,
                entry.relay_url,
                entry.signed_at,
                entry.signature,
            )
        out: list[Action] = []
        self._send_payload(out, c.conn, reply)
        return out

    def _call(
        self, c: Connection, address: bytes, call: CallPeer, data: bytes, now_ms: int
    ) -> list[Action]:
        """Forward a call to a registered, online callee, or answer OFFLINE at once (§15)."""
        if call.caller != address:
            return self._reject(
                c, ErrorCode.SENDER_MISMATCH, "caller is not your address", _CALL_PEER, call.call_id
            )
        out: list[Action] = []
        target = self._conns.bound(call.callee)
        if target is None or self._directory.get(call.callee) is None:
            offline = CallResponse(
                call.call_id, call.caller, call.callee, int(CallStatus.OFFLINE), b""
            )
            self._send_payload(out, c.conn, offline)
            return out
        calls, config = self._calls, self._config
        if call.call_id in calls:
            return self._reject(
                c, ErrorCode.MALFORMED, "call id already in use", _CALL_PEER, call.call_id
            )
        if (
            calls.count_for(address) >= config.max_pending_calls_per_caller
            or calls.count_for_source(c.source) >= config.max_pending_calls_per_ip
            or len(calls) >= config.max_pending_calls
        ):
            return self._reject(
                c, ErrorCode.LIMIT_REACHED, "too many unanswered calls", _CALL_PEER, call.call_id
            )
        deadline = now_ms + self._call_ms
        calls.add(PendingCall(call.call_id, address, call.callee, deadline, c.source))
        self._metrics.calls_forwarded += 1
        self._route(out, target, data, address, now_ms)
        return out

    def _answer(
        self, c: Connection, address: bytes, response: CallResponse, data: bytes, now_ms: int
    ) -> list[Action]:
        """Forward an answer to the caller, or the caller's cancel to the callee (§4.8)."""
        if response.status == CallStatus.CANCELLED:
            return self._cancel(c, address, response, data, now_ms)
        if response.callee != address:
            return self._reject(
                c,
                ErrorCode.SENDER_MISMATCH,
                "callee is not your address",
                _CALL_RESPONSE,
                response.call_id,
            )
        if response.status not in _ANSWERS:
            return self._reject(
                c,
                ErrorCode.MALFORMED,
                "a call is answered ACCEPTED or DECLINED",
                _CALL_RESPONSE,
                response.call_id,
            )
        pending = self._calls.get(response.call_id)
        if pending is None or pending.caller != response.caller or pending.callee != address:
            return self._reject(
                c,
                ErrorCode.NOT_PENDING,
                "no such call is waiting",
                _CALL_RESPONSE,
                response.call_id,
            )
        self._calls.remove(pending)
        out: list[Action] = []
        caller = self._conns.bound(pending.caller)
        if caller is not None:
            self._route(out, caller, data, address, now_ms)
        return out

    def _cancel(
        self, c: Connection, address: bytes, response: CallResponse, data: bytes, now_ms: int
    ) -> list[Action]:
        """The caller stopped calling: forward its CANCELLED to the callee, forget the call."""
        if response.caller != address:
            return self._reject(
                c,
                ErrorCode.SENDER_MISMATCH,
                "caller is not your address",
                _CALL_RESPONSE,
                response.call_id,
            )
        if response.bundle:
            return self._reject(
                c, ErrorCode.MALFORMED, "a cancel carries no bundle", _CALL_RESPONSE,
                response.call_id,
            )  # fmt: skip
        pending = self._calls.get(response.call_id)
        if pending is None or pending.caller != address or pending.callee != response.callee:
            return self._reject(
                c,
                ErrorCode.NOT_PENDING,
                "no such call is waiting",
                _CALL_RESPONSE,
                response.call_id,
            )
        self._calls.remove(pending)
        out: list[Action] = []
        callee = self._conns.bound(pending.callee)
        if callee is not None:
            self._route(out, callee, data, address, now_ms)
        return out
