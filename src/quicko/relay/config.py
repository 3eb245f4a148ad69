"""The relay's settings: one frozen dataclass with every flag of ``quicko relay`` and its default.

Field names are the command-line flags in snake case, with the unit appended where the flag is
a duration (``--buffer-ttl`` → ``buffer_ttl_s``); the environment variable of each flag is
``QUICKO_`` plus the flag upper-cased with underscores (``QUICKO_BUFFER_TTL``). The loader of
flags and environment builds a :class:`RelayConfig` on top of these defaults; the router reads
only the limits it enforces, in milliseconds through the ``*_ms`` properties.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from quicko.protocol.auth import canonical_relay_url
from quicko.protocol.constants import MAX_MEMBERS, MAX_PAYLOAD_BYTES

__all__ = ["RelayConfig"]

_MS_PER_S = 1000
#: Fields whose 0 means "derived from another setting" (see their properties).
_ZERO_MEANS_DERIVED = frozenset({"source_rate", "source_burst", "send_queue_hard_bytes"})


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Every relay setting, with the defaults of docs/protocol.md and DESIGN.md §7.

    Attributes:
        host: address to bind (``--host``).
        port: TCP port to bind; 0 picks a free one (``--port``).
        max_connections: open connections at most; more are refused at the upgrade with 503.
        max_connections_per_ip: concurrent connections per source address (429 above).
        connect_rate: new connections per second per source address (429 above).
        rate: frames per second per address (token bucket refill rate); a client over it
            has its reads paused (backpressure), its frames are not dropped.
        burst: token bucket size per address, in frames.
        max_payload: largest payload a frame may carry, in bytes.
        buffer_ttl_s: how long frames for an away recipient, and away members, are kept.
        buffer_per_recipient: frames held for one away recipient at most.
        buffer_total: frames held for all away recipients together at most.
        buffer_bytes_per_recipient: bytes held for one away recipient at most (each frame
            counts its length plus 256); more is answered BUFFER_FULL to the sender.
        buffer_bytes_per_sender: bytes one sender may have held, across all its recipients
            (a frame fanned out to n away members counts n times).
        buffer_bytes_total: bytes held for all away recipients together at most.
        handshake_timeout_s: time from the Challenge to a valid Hello.
        idle_timeout_s: time without any frame before a connection is closed.
        call_timeout_s: time a CallPeer waits for its CallResponse.
        directory_ttl_s: time a directory entry survives its owner going offline, once the
            owner has come back at least once since registering it.
        directory_new_ttl_s: the same for an entry whose owner never came back since
            registering it (throw-away registrations go soon).
        send_queue_bytes: unsent bytes per connection before the relay stops writing routed
            frames to it (they wait in its away buffer until it drains); also the bound on
            the unacknowledged routed bytes kept for re-delivery per connection.
        tls_cert: PEM certificate file for ``wss://``, or ``None``.
        tls_key: PEM private key file for ``wss://``, or ``None``.
        channel_binding: what Hellos must sign under ``wss://``: SHA-256 of the certificate the
            clients see (:func:`quicko.protocol.auth.tls_channel_binding`); empty for ``ws://``.
        node_id: this node's id in Challenges; ``None`` lets the server pick a short random hex.
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        abuse_limit: frames an address may be over its rate (read after its bucket ran dry,
            before the pause took effect) before it is told RATE_LIMITED and disconnected; a
            source may be over by this times source_rate / rate.
        signature_skew_s: largest difference between a RegisterKey's ``signed_at`` and now.
        max_sessions: sessions at most, in total.
        max_nameplates: claimed nameplates at most, in total.
        max_sessions_per_address: sessions one address may be a member of at most.
        max_members: members of one session at most (the protocol's MAX_MEMBERS).
        max_directory_entries: directory entries at most.
        max_directory_entries_per_ip: directory entries registered from one source address
            at most (so one source cannot fill the directory).
        max_pending_calls: unanswered calls at most, in total.
        max_pending_calls_per_caller: unanswered calls of one caller at most.
        max_pending_calls_per_ip: unanswered calls placed from one source address at most.
        public_urls: the URLs clients dial to reach this relay, in canonical form
            (``scheme://host:port``); a Hello or RegisterKey naming another URL is refused
            with WRONG_RELAY. Repeat the flag or separate URLs with commas. Empty: the URLs
            of the bound address, filled in by the server once it is listening.
        public_cert: PEM certificate the clients see when TLS ends in front of the relay;
            its SHA-256 is the channel binding Hellos sign (without it, tls_cert's).
        lobby_ttl_s: how long a nameplate joiner stays pending in the lobby.
        max_pending_per_nameplate: pending joiners of one nameplate at most.
        max_pending_per_source: pending joiners of one nameplate from one source address.
        lobby_messages: LobbyMessages from each pending joiner per pending period at most, and
            from the owner to each pending joiner.
        nameplate_miss_rate: nameplate joins that miss, per second per source address.
        nameplate_miss_burst: nameplate misses one source address may make in a burst.
        nameplate_miss_total_rate: nameplate misses per second from all sources together.
        max_sessions_per_source: live sessions created from one source address at most.
        max_nameplates_per_source: claimed nameplates from one source address at most.
        source_rate: frames per second per source address, all its connections together
            (0: ten times ``--rate``).
        source_burst: token bucket size per source address, in frames (0: ten times
            ``--burst``).
        ack_timeout_s: a connection that acknowledges with Received and leaves routed frames
            unacknowledged this long is closed as a dead link; its frames are re-delivered.
        send_queue_hard_bytes: unsent bytes per connection past which it is disconnected as
            too slow (0: four times ``--send-queue-bytes``).
    """

    host: str = "0.0.0.0"  # noqa: S104  # a relay serves the network by default, as documented
    port: int = 9900
    max_connections: int = 10_000
    max_connections_per_ip: int = 32
    connect_rate: float = 32.0
    rate: float = 30.0
    burst: int = 60
    max_payload: int = MAX_PAYLOAD_BYTES
    buffer_ttl_s: float = 60.0
    buffer_per_recipient: int = 256
    buffer_total: int = 100_000
    buffer_bytes_per_recipient: int = 1_048_576
    buffer_bytes_per_sender: int = 4_194_304
    buffer_bytes_total: int = 268_435_456
    handshake_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    call_timeout_s: float = 60.0
    directory_ttl_s: float = 3600.0
    directory_new_ttl_s: float = 600.0
    send_queue_bytes: int = 4_194_304
    tls_cert: str | None = None
    tls_key: str | None = None
    channel_binding: bytes = b""
    node_id: str | None = None
    log_level: str = "info"
    abuse_limit: int = 1000
    signature_skew_s: float = 300.0
    max_sessions: int = 100_000
    max_nameplates: int = 100_000
    max_sessions_per_address: int = 256
    max_members: int = MAX_MEMBERS
    max_directory_entries: int = 100_000
    max_directory_entries_per_ip: int = 16
    max_pending_calls: int = 100_000
    max_pending_calls_per_caller: int = 16
    max_pending_calls_per_ip: int = 64
    # Protocol v3 (docs/protocol.md §4.1, §4.3): relay-bound login, the lobby, join quotas.
    public_urls: tuple[str, ...] = ()
    public_cert: str | None = None
    lobby_ttl_s: float = 60.0
    max_pending_per_nameplate: int = 8
    max_pending_per_source: int = 2
    lobby_messages: int = 4
    nameplate_miss_rate: float = 1 / 3
    nameplate_miss_burst: int = 10
    nameplate_miss_total_rate: float = 50.0
    max_sessions_per_source: int = 64
    max_nameplates_per_source: int = 16
    # Flow control (issue 10): per-address/per-source buckets, acks, slow readers.
    source_rate: float = 0.0
    source_burst: int = 0
    ack_timeout_s: float = 10.0
    send_queue_hard_bytes: int = 0

    def __post_init__(self) -> None:
        """Check that every limit is usable.

        Raises:
            ValueError: a number is out of range, or only one of the TLS files is given.
        """
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "port":
                if not 0 <= value <= 65535:
                    raise ValueError("port must be between 0 and 65535")
            elif field.name in _ZERO_MEANS_DERIVED:
                if value < 0:
                    raise ValueError(f"{field.name} must be positive, or 0 for its default")
            elif isinstance(value, int | float) and value <= 0:
                raise ValueError(f"{field.name} must be positive")
        if self.max_payload > MAX_PAYLOAD_BYTES:
            raise ValueError(f"max_payload must be at most {MAX_PAYLOAD_BYTES}")
        if self.max_members > MAX_MEMBERS:
            raise ValueError(f"max_members must be at most {MAX_MEMBERS}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for url in self.public_urls:
            if canonical_relay_url(url) != url:
                raise ValueError(f"public_urls: {url!r} is not in canonical form")
        if self.log_level not in {"debug", "info", "warning", "error"}:
            raise ValueError("log_level must be debug, info, warning or error")

    @property
    def buffer_ttl_ms(self) -> int:
        """:attr:`buffer_ttl_s` in milliseconds."""
        return round(self.buffer_ttl_s * _MS_PER_S)

    @property
    def handshake_timeout_ms(self) -> int:
        """:attr:`handshake_timeout_s` in milliseconds."""
        return round(self.handshake_timeout_s * _MS_PER_S)

    @property
    def idle_timeout_ms(self) -> int:
        """:attr:`idle_timeout_s` in milliseconds."""
        return round(self.idle_timeout_s * _MS_PER_S)

    @property
    def call_timeout_ms(self) -> int:
        """:attr:`call_timeout_s` in milliseconds."""
        return round(self.call_timeout_s * _MS_PER_S)

    @property
    def directory_ttl_ms(self) -> int:
        """:attr:`directory_ttl_s` in milliseconds."""
        return round(self.directory_ttl_s * _MS_PER_S)

    @property
    def directory_new_ttl_ms(self) -> int:
        """:attr:`directory_new_ttl_s` in milliseconds."""
        return round(self.directory_new_ttl_s * _MS_PER_S)

    @property
    def lobby_ttl_ms(self) -> int:
        """:attr:`lobby_ttl_s` in milliseconds."""
        return round(self.lobby_ttl_s * _MS_PER_S)

    @property
    def signature_skew_ms(self) -> int:
        """:attr:`signature_skew_s` in milliseconds."""
        return round(self.signature_skew_s * _MS_PER_S)

    @property
    def ack_timeout_ms(self) -> int:
        """:attr:`ack_timeout_s` in milliseconds."""
        return round(self.ack_timeout_s * _MS_PER_S)

    @property
    def effective_source_rate(self) -> float:
        """:attr:`source_rate`, or ten times :attr:`rate` when it is 0."""
        return self.source_rate or 10 * self.rate

    @property
    def effective_source_burst(self) -> int:
        """:attr:`source_burst`, or ten times :attr:`burst` when it is 0."""
        return self.source_burst or 10 * self.burst

    @property
    def effective_send_queue_hard_bytes(self) -> int:
        """:attr:`send_queue_hard_bytes`, or four times :attr:`send_queue_bytes` when it is 0."""
        return self.send_queue_hard_bytes or 4 * self.send_queue_bytes
