"""Routing inside sessions: MESSAGE, ACK and KEY_EXCHANGE (docs/protocol.md §4.4, §4.5).

The relay forwards the original frame bytes unchanged to every online recipient and holds them
for away ones (and for online ones whose connection is *blocked*: too far behind, see
:meth:`RouterCore._track`); every forwarded frame is kept until its connection acknowledges
it (``Received``); for MESSAGE it acks to the sender (ACCEPTED, BUFFERED, later EXPIRED). The
common case, one online recipient of a MESSAGE, is kept short: it is the relay's hot path.
"""

from __future__ import annotations

from quicko.protocol import (
    Ack,
    AckStatus,
    KeyExchange,
    Message,
    MessageType,
    decode_frame,
    encode_frame,
)
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action, new_send
from quicko.relay.buffer import Receipt
from quicko.relay.connections import Connection
from quicko.relay.core import RouterCore
from quicko.relay.frames import MessageFields, ack_frame_from_message

__all__ = ["RoutingHandlers"]

_MESSAGE = int(MessageType.MESSAGE)
_ACK = int(MessageType.ACK)
_KEY_EXCHANGE = int(MessageType.KEY_EXCHANGE)
_ACCEPTED = int(AckStatus.ACCEPTED)
_BUFFERED = int(AckStatus.BUFFERED)
_EXPIRED = int(AckStatus.EXPIRED)


class RoutingHandlers(RouterCore):
    """Forwarding, buffering and relay acks of the frames members send each other."""

    def _slow_message(
        self, c: Connection, address: bytes, message: Message, data: bytes, now_ms: int
    ) -> list[Action]:
        """A MESSAGE in an encoding the fast path does not read (still valid)."""
        if message.sender != address:
            return self._reject(
                c,
                ErrorCode.SENDER_MISMATCH,
                "sender is not your address",
                _MESSAGE,
                message.message_id,
            )
        fields = (message.session_id, address, message.recipient, message.message_id, -1)
        return self._message(c, data, fields, now_ms)

    def _message(
        self, c: Connection, data: bytes, fields: MessageFields, now_ms: int
    ) -> list[Action]:
        """Route a MESSAGE whose sender is checked; ack it to the sender (§9).

        The last item of *fields* is where the ids end in *data* when the fast parser read
        it, else -1.
        """
        session_id, sender, recipient, message_id, end_ids = fields
        session = self._sessions.get(session_id)
        if session is None or sender not in session.members:
            return self._reject(
                c, ErrorCode.NOT_A_MEMBER, "not a member of this session", _MESSAGE, message_id
            )
        if recipient:
            if recipient not in session.members:
                return self._reject(
                    c,
                    ErrorCode.RECIPIENT_UNKNOWN,
                    "the recipient is not a member",
                    _MESSAGE,
                    message_id,
                )
            target = self._conns.bound(recipient)
            if target is not None and not target.blocked:  # the hot path: one online recipient
                ack = self._ack_bytes(data, end_ids, _ACCEPTED)
                metrics = self._metrics
                metrics.frames_out[_MESSAGE] += 1
                metrics.frames_out[_ACK] += 1
                metrics.bytes_out += len(data) + len(ack)
                c.sent += 1
                seq = target.sent = target.sent + 1  # _track, inlined
                inflight = target.inflight
                if not inflight:
                    inflight = self._track_start(target, now_ms)
                inflight.append((seq, data, sender))
                target.inflight_bytes += len(data)
                if target.inflight_bytes > self._window:
                    self._over_window(target)
                return [new_send(target.conn, data), new_send(c.conn, ack)]
            recipients: tuple[bytes, ...] | list[bytes] = (recipient,)
        else:
            recipients = [member for member in session.members if member != sender]
        return self._fan_out(c, data, recipients, fields, now_ms)

    def _fan_out(
        self,
        c: Connection,
        data: bytes,
        recipients: tuple[bytes, ...] | list[bytes],
        fields: MessageFields,
        now_ms: int,
    ) -> list[Action]:
        """Deliver or hold a MESSAGE for each recipient; one Ack (or BUFFER_FULL) to the sender."""
        end_ids = fields[4]
        out: list[Action] = []
        bound = self._conns.bound
        receipt: Receipt | None = None
        held = full = delivered = False
        for member in recipients:
            target = bound(member)
            if target is not None and not target.blocked:
                self._route(out, target, data, fields[1], now_ms)
                delivered = True
                continue
            if receipt is None:
                receipt = Receipt(fields[1], self._ack_bytes(data, end_ids, _EXPIRED))
            if self._hold(member, data, now_ms, receipt, fields[1]):
                held = True
            else:
                full = True
        if full:
            self._error(
                out,
                c.conn,
                ErrorCode.BUFFER_FULL,
                "the recipient's buffer is full",
                ref_type=_MESSAGE,
                ref_id=fields[3],
            )
        if held or delivered or not full:  # only BUFFER_FULL when no copy went anywhere
            status = _BUFFERED if held else _ACCEPTED
            self._send(out, c.conn, self._ack_bytes(data, end_ids, status))
        return out

    @staticmethod
    def _ack_bytes(data: bytes, end_ids: int, status: int) -> bytes:
        """The relay's Ack of a MESSAGE frame (fast when the fast parser read it)."""
        if end_ids >= 0:
            return ack_frame_from_message(data, end_ids, status)
        message = decode_frame(data)
        assert isinstance(message, Message)  # it was decoded once already
        return encode_frame(
            Ack(message.session_id, message.sender, message.recipient, message.message_id, status)
        )

    def _relay_frame(
        self,
        c: Connection,
        data: bytes,
        route: tuple[bytes, bytes],
        ref: tuple[int, bytes],
        now_ms: int,
    ) -> list[Action]:
        """Route an ACK or KEY_EXCHANGE (sender already checked) like a message, without acks.

        *route* is ``(session_id, recipient)``; *ref* is ``(ref_type, ref_id)`` for errors.
        """
        session_id, recipient = route
        ref_type, ref_id = ref
        session = self._sessions.get(session_id)
        if session is None or c.address not in session.members:
            return self._reject(
                c, ErrorCode.NOT_A_MEMBER, "not a member of this session", ref_type, ref_id
            )
        if recipient and recipient not in session.members:
            return self._reject(
                c, ErrorCode.RECIPIENT_UNKNOWN, "the recipient is not a member", ref_type, ref_id
            )
        recipients = [recipient] if recipient else [m for m in session.members if m != c.address]
        out: list[Action] = []
        full = False
        sender = c.address or b""
        for member in recipients:
            target = self._conns.bound(member)
            if target is not None and not target.blocked:
                self._route(out, target, data, sender, now_ms)
            elif not self._hold(member, data, now_ms, None, sender):
                full = True
        if full:
            self._error(
                out,
                c.conn,
                ErrorCode.BUFFER_FULL,
                "the recipient's buffer is full",
                ref_type=ref_type,
                ref_id=ref_id,
            )
        return out

    def _client_ack(
        self, c: Connection, address: bytes, ack: Ack, data: bytes, now_ms: int
    ) -> list[Action]:
        """A recipient acknowledges a message: route it to the message's sender (§10)."""
        if ack.status != AckStatus.RECEIVED:
            return self._reject(
                c, ErrorCode.MALFORMED, "a client acks with status RECEIVED", _ACK, ack.message_id
            )
        if ack.recipient != address:
            return self._reject(
                c, ErrorCode.SENDER_MISMATCH, "recipient is not your address", _ACK, ack.message_id
            )
        return self._relay_frame(
            c, data, (ack.session_id, ack.sender), (_ACK, ack.message_id), now_ms
        )

    def _key_exchange(
        self, c: Connection, address: bytes, exchange: KeyExchange, data: bytes, now_ms: int
    ) -> list[Action]:
        """An end-to-end handshake message: route it like a message, without acks (§9)."""
        if exchange.sender != address:
            return self._reject(
                c,
                ErrorCode.SENDER_MISMATCH,
                "sender is not your address",
                _KEY_EXCHANGE,
                exchange.session_id,
            )
        return self._relay_frame(
            c,
            data,
            (exchange.session_id, exchange.recipient),
            (_KEY_EXCHANGE, exchange.session_id),
            now_ms,
        )
