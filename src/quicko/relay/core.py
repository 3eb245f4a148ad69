"""The router's state and the helpers every handler uses (see :mod:`quicko.relay.router`).

:class:`RouterCore` holds the stores, typed as the interfaces of :mod:`quicko.relay.stores`
only, and knows how to send a frame, reject a frame with an Error, close a connection,
announce something to a session, and buffer a frame for an away member. The handlers
(:mod:`quicko.relay.routing`, :mod:`quicko.relay.membership`, :mod:`quicko.relay.keys`) and
the :class:`~quicko.relay.router.Router` build on it.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from quicko.crypto import RandomSource
from quicko.protocol import (
    Ack,
    AckStatus,
    LeaveReason,
    Message,
    MessageType,
    Payload,
    PeerLeft,
    canonical_relay_url,
    decode_frame,
    encode_frame,
)
from quicko.protocol.types import ErrorCode
from quicko.relay.actions import Action, Close, new_send
from quicko.relay.buffer import Receipt
from quicko.relay.config import RelayConfig
from quicko.relay.connections import Connection
from quicko.relay.flow import FlowLimiter
from quicko.relay.frames import ack_frame_from_message, error_frame, parse_message
from quicko.relay.metrics import RelayMetrics
from quicko.relay.misses import MissLimiter
from quicko.relay.sessions import Session
from quicko.relay.stores import (
    BufferStore,
    CallStore,
    ConnectionStore,
    DirectoryStore,
    MembershipStore,
    RelayState,
)

__all__ = ["RouterCore"]

_MESSAGE = int(MessageType.MESSAGE)
_EXPIRED = int(AckStatus.EXPIRED)


class RouterCore:
    """State of one relay node and the router's shared helpers."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        node_id: str,
        rng: RandomSource,
        state: RelayState | None = None,
    ) -> None:
        """Create a router over *state*.

        Args:
            config: the limits to enforce.
            node_id: this node's id, sent in every Challenge and HelloAck (at most 64
                printable characters).
            rng: the source of Challenge nonces.
            state: the stores to keep state in; empty in-memory ones by default
                (:meth:`RelayState.in_memory`).

        Raises:
            ValueError: *node_id* does not fit in a Challenge.
        """
        if not 0 < len(node_id) <= 64 or not node_id.isprintable():
            raise ValueError("node_id must be 1 to 64 printable characters")
        self._config = config
        self._node_id = node_id
        self._rng = rng
        if state is None:
            state = RelayState.in_memory(config)
        self._conns: ConnectionStore = state.connections
        self._sessions: MembershipStore = state.sessions
        self._directory: DirectoryStore = state.directory
        self._buffer: BufferStore = state.buffer
        self._calls: CallStore = state.calls
        self._limiter = FlowLimiter(
            config.rate,
            config.burst,
            config.effective_source_rate,
            config.effective_source_burst,
            config.abuse_limit,
        )
        #: Unacknowledged bytes kept per connection (see :meth:`_track`).
        self._window = config.send_queue_bytes
        self._ack_ms = config.ack_timeout_ms
        #: Acknowledging connections with routed frames outstanding, by ``ack_since``.
        self._ack_waits: OrderedDict[int, Connection] = OrderedDict()
        self._metrics = RelayMetrics()
        self._buffer_ttl_ms = config.buffer_ttl_ms
        self._handshake_ms = config.handshake_timeout_ms
        self._idle_ms = config.idle_timeout_ms
        self._call_ms = config.call_timeout_ms
        self._directory_ttl_ms = config.directory_ttl_ms
        self._lobby_ttl_ms = config.lobby_ttl_ms
        self._public_urls = frozenset(config.public_urls)
        self._misses = MissLimiter(
            config.nameplate_miss_rate,
            config.nameplate_miss_burst,
            config.nameplate_miss_total_rate,
        )

    def _is_public_url(self, url: str) -> bool:
        """Whether *url* (as a client named it) is one of this relay's public URLs."""
        try:
            return canonical_relay_url(url) in self._public_urls
        except ValueError:
            return False

    def _send(self, out: list[Action], conn: int, data: bytes) -> None:
        """Append a Send of a frame of the relay's own (not routed), numbering and counting it."""
        out.append(new_send(conn, data))
        c = self._conns.get(conn)
        if c is not None:
            c.sent += 1
        metrics = self._metrics
        metrics.frames_out[data[1]] += 1
        metrics.bytes_out += len(data)

    def _route(
        self, out: list[Action], target: Connection, data: bytes, sender: bytes, now_ms: int
    ) -> None:
        """Append a Send of a routed frame (another client's data), kept until acknowledged."""
        out.append(new_send(target.conn, data))
        metrics = self._metrics
        metrics.frames_out[data[1]] += 1
        metrics.bytes_out += len(data)
        self._track(target, data, sender, now_ms)

    def _track(self, target: Connection, data: bytes, sender: bytes, now_ms: int) -> None:
        """Number a routed frame sent to *target* and keep it until *target* acknowledges it.

        The unacknowledged bytes are bounded by ``send_queue_bytes`` (:meth:`_over_window`).
        The MESSAGE hot path (:meth:`RoutingHandlers._message`) inlines this method.
        """
        seq = target.sent = target.sent + 1
        inflight = target.inflight
        if not inflight:
            inflight = self._track_start(target, now_ms)
        inflight.append((seq, data, sender))
        target.inflight_bytes += len(data)
        if target.inflight_bytes > self._window:
            self._over_window(target)

    def _track_start(self, target: Connection, now_ms: int) -> deque[tuple[int, bytes, bytes]]:
        """*target* had nothing unacknowledged: its ack clock starts now; return its list."""
        inflight = target.inflight
        if inflight is None:
            inflight = target.inflight = deque()
        if target.acking:
            target.ack_since = now_ms
            waits = self._ack_waits
            waits[target.conn] = target
            waits.move_to_end(target.conn)
        return inflight

    def _over_window(self, target: Connection) -> None:
        """*target* has more than ``send_queue_bytes`` unacknowledged.

        An acknowledging connection is *blocked*: further routed frames wait in its away
        buffer until Received frees room. For a connection that has never acknowledged, the
        oldest frames are forgotten, as if delivered (an old or raw client works as before).
        """
        if target.acking:
            target.blocked = True
            return
        inflight = target.inflight
        assert inflight is not None  # a frame was just added
        size, forgotten = target.inflight_bytes, 0
        while size > self._window and len(inflight) > 1:
            size -= len(inflight.popleft()[1])
            forgotten += 1
        target.inflight_bytes = size
        self._metrics.unacked_forgotten += forgotten

    def _acknowledge(self, c: Connection, count: int, now_ms: int) -> None:
        """Forget the routed frames numbered up to *count*: *c* received them."""
        c.acked = count
        inflight = c.inflight
        if not inflight or inflight[0][0] > count:
            return
        size = c.inflight_bytes
        while inflight and inflight[0][0] <= count:
            size -= len(inflight.popleft()[1])
        c.inflight_bytes = size
        waits = self._ack_waits
        if inflight:  # progress: the ack clock restarts for what is left
            if c.acking:
                c.ack_since = now_ms
                waits[c.conn] = c
                waits.move_to_end(c.conn)
        else:
            waits.pop(c.conn, None)

    def _drain(self, out: list[Action], c: Connection, address: bytes, now_ms: int) -> int:
        """Send *c* every frame held for *address*, in order; return how many."""
        held = self._buffer.take(address)
        for frame in held:
            self._route(out, c, frame.data, frame.sender, now_ms)
        return len(held)

    def _unblock(self, out: list[Action], c: Connection, now_ms: int) -> None:
        """If *c* can take routed frames again, deliver what its away buffer held meanwhile."""
        if (
            c.blocked
            and not c.write_paused
            and (not c.acking or c.inflight_bytes <= self._window)
            and c.address is not None
        ):
            c.blocked = False
            self._drain(out, c, c.address, now_ms)

    def _requeue(self, out: list[Action], c: Connection, address: bytes, now_ms: int) -> None:
        """*c* is dead or replaced: its unacknowledged routed frames go to the away buffer.

        They go ahead of whatever the buffer holds for *address* (they were sent first) and
        are re-delivered after the address's next HelloAck. A frame over a buffer cap is
        dropped: the sender of a MESSAGE hears Ack(EXPIRED), as when a held copy expires.
        """
        self._ack_waits.pop(c.conn, None)
        inflight = c.inflight
        c.inflight = None
        c.inflight_bytes = 0
        if not inflight:
            return
        frames = [(data, self._receipt_for(data, sender), sender) for _, data, sender in inflight]
        refused = self._buffer.push_front(address, frames, now_ms + self._buffer_ttl_ms)
        metrics = self._metrics
        metrics.requeued += len(frames) - len(refused)
        metrics.requeue_refused += len(refused)
        for _, receipt, _ in refused:
            if receipt is not None:
                sender = self._conns.bound(receipt.sender)
                if sender is not None:
                    self._send(out, sender.conn, receipt.expired_ack)

    @staticmethod
    def _receipt_for(data: bytes, sender: bytes) -> Receipt | None:
        """For a MESSAGE frame, what to tell its sender if it is not delivered after all."""
        if data[1] != _MESSAGE:
            return None
        fields = parse_message(data)
        if fields is not None:
            return Receipt(sender, ack_frame_from_message(data, fields[4], _EXPIRED))
        message = decode_frame(data)
        assert isinstance(message, Message)  # it was routed as one
        ack = Ack(
            message.session_id, message.sender, message.recipient, message.message_id, _EXPIRED
        )
        return Receipt(sender, encode_frame(ack))

    def _send_payload(self, out: list[Action], conn: int, payload: Payload) -> None:
        """Encode *payload* and append a Send of it."""
        self._send(out, conn, encode_frame(payload))

    def _error(
        self,
        out: list[Action],
        conn: int,
        code: ErrorCode,
        reason: str,
        *,
        ref_type: int = 0,
        ref_id: bytes = b"",
    ) -> None:
        """Append an Error frame (docs/protocol.md §19), counting the rejection."""
        self._metrics.count_rejection(code)
        self._send(out, conn, error_frame(code, reason, ref_type, ref_id))

    def _reject(
        self, c: Connection, code: ErrorCode, reason: str, ref_type: int, ref_id: bytes = b""
    ) -> list[Action]:
        """Answer a frame from *c* with one Error, and nothing else."""
        out: list[Action] = []
        self._error(out, c.conn, code, reason, ref_type=ref_type, ref_id=ref_id)
        return out

    def _close(self, out: list[Action], c: Connection, code: int, reason: str, now_ms: int) -> None:
        """Close *c* (after what *out* already sends it) and let its address go away."""
        out.append(Close(c.conn, code, reason))
        self._disconnect(out, c, now_ms)

    def _disconnect(self, out: list[Action], c: Connection, now_ms: int) -> None:
        """*c* is going: unbind its address, tell its sessions, start the away timers (§8).

        Its unacknowledged routed frames go back to the address's away buffer first.
        """
        address = self._conns.unbind(c)
        if address is None:
            return
        self._requeue(out, c, address, now_ms)
        self._went_offline(out, address, now_ms)

    def _went_offline(self, out: list[Action], address: bytes, now_ms: int) -> None:
        """*address* has no connection any more: its sessions hear PeerLeft, timers start."""
        self._sessions.remove_pending(address)
        self._sessions.mark_away(address, now_ms + self._buffer_ttl_ms)
        for session in self._sessions.sessions_of(address):
            notice = PeerLeft(session.session_id, address, int(LeaveReason.DISCONNECTED))
            self._announce(out, session, address, encode_frame(notice))
        self._directory.mark_offline(address, now_ms)

    def _announce(self, out: list[Action], session: Session, about: bytes, frame: bytes) -> None:
        """Send *frame* to every online member of *session* except *about*."""
        bound = self._conns.bound
        for member in session.members:
            if member != about:
                target = bound(member)
                if target is not None:
                    self._send(out, target.conn, frame)

    def _hold(
        self, recipient: bytes, data: bytes, now_ms: int, receipt: Receipt | None, sender: bytes
    ) -> bool:
        """Buffer *data* from *sender* for the away *recipient*; ``False`` when over a cap."""
        return self._buffer.push(recipient, data, now_ms + self._buffer_ttl_ms, receipt, sender)
