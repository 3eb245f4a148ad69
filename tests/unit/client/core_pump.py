"""Test support: ClientCores pumped against the real relay Router, in memory, with no loop.

Each :class:`Device` is one client: a :class:`~quicko.client.core.ClientCore` and, while it is
online, one connection of the router. :class:`Net` plays both I/O shells: it runs the relay
handshake (Challenge, Hello, HelloAck) with the real :func:`~quicko.client.link.hello_for`,
moves the cores' payloads into :meth:`Router.receive` and the router's ``Send`` actions into
:meth:`ClientCore.receive` (decoded with the real codec), acknowledges what each device received
with ``Received`` as the connection does, and advances one fixed clock. Faults are explicit:
:meth:`Net.blackhole` makes a device's link swallow everything (no FIN, like a dead NAT flow),
:meth:`Net.path_change` gives it a new connection while the old one stays half-open.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from quicko.client import models as m
from quicko.client.core import ClientCore, Completion
from quicko.client.link import hello_for
from quicko.identity import Identity
from quicko.protocol import (
    Challenge,
    HelloAck,
    Payload,
    Ping,
    Received,
    decode_frame,
    encode_frame,
)
from quicko.relay.config import RelayConfig
from quicko.relay.router import Close, Router, Send

T0 = 1_700_000_000_000
RELAY_URL = "ws://127.0.0.1:9900"
NODE_ID = "core-pump"

E = TypeVar("E")


class SeededRng:
    """A deterministic RandomSource: SHA-256 blocks of (seed, counter)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self._counter += 1
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return out[:n]


@dataclass
class Device:
    """One client: its core, its connection (``None`` offline) and what it reported."""

    name: str
    core: ClientCore
    conn: int | None = None
    #: The connection is half-open: frames both ways are swallowed.
    dead: bool = False
    received: int = 0
    acked: int = 0
    events: list[m.ClientEvent] = field(default_factory=list)
    done: list[Completion] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    def texts(self) -> list[str]:
        return [event.message.text for event in self.of(m.MessageReceived)]

    def result(self, op: int) -> Completion:
        [done] = [item for item in self.done if item.op == op]
        return done


class Net:
    """The real router and any number of devices, on one fixed clock."""

    def __init__(self, config: RelayConfig | None = None) -> None:
        config = config or RelayConfig(rate=10_000.0, burst=10_000, idle_timeout_s=600.0)
        self.config = dataclasses.replace(config, public_urls=(RELAY_URL,))
        self.router = Router(self.config, node_id=NODE_ID, rng=SeededRng(b"relay"))
        self.now = T0
        self.devices: list[Device] = []
        self._next_conn = 1
        self.swallowed = 0

    def device(self, name: str) -> Device:
        identity = Identity.generate(SeededRng(b"identity/" + name.encode()))
        core = ClientCore(identity, SeededRng(b"core/" + name.encode()), relay_url=RELAY_URL)
        device = Device(name, core)
        self.devices.append(device)
        return device

    # ---------------------------------------------------------------- links

    def connect(self, device: Device) -> None:
        """Open a connection, log in, and tell the core (it re-joins its sessions)."""
        conn = self._next_conn
        self._next_conn += 1
        [challenge] = self._payloads(self.router.open(conn, self.now, "192.0.2.7"), conn)
        assert isinstance(challenge, Challenge)
        hello = hello_for(device.core.identity, challenge, relay_url=RELAY_URL, channel_binding=b"")
        actions = self.router.receive(conn, encode_frame(hello), self.now)
        ack, *rest = self._payloads(actions, conn)
        assert isinstance(ack, HelloAck), ack
        device.conn, device.dead, device.received, device.acked = conn, False, 0, 0
        device.core.connection_made(challenge.node_id, challenge.nonce, self.now)
        self._collect(device)
        self._apply([a for a in actions if not (isinstance(a, Send) and a.conn == conn)])
        for payload in rest:
            self._deliver(device, payload)

    def disconnect(self, device: Device, reason: str = "connection lost") -> None:
        """The device's link closes cleanly (both ends know)."""
        if device.conn is not None:
            self._apply(self.router.closed(device.conn, self.now))
        device.conn = None
        device.core.connection_lost(reason, self.now)
        self._collect(device)

    def blackhole(self, device: Device) -> None:
        """The device's link goes dead without a FIN: nothing passes, nobody is told."""
        device.dead = True

    def path_change(self, device: Device) -> None:
        """The client notices (its ping timed out) and reconnects; the old flow stays dead."""
        old = device.conn
        device.conn = None
        device.core.connection_lost("ping timeout", self.now)
        self._collect(device)
        self.connect(device)
        assert old is not None  # the router learns of the old one only by replacement

    # ---------------------------------------------------------------- pumping

    def step(self) -> bool:
        moved = False
        for device in self.devices:
            self._collect(device)
            for payload in device.core.data_to_send():
                moved = True
                if device.conn is None or device.dead:
                    self.swallowed += 1
                    continue
                self._apply(self.router.receive(device.conn, encode_frame(payload), self.now))
            if device.conn is not None and not device.dead and device.received > device.acked:
                device.acked = device.received
                ack = Received(device.received)
                self._apply(self.router.receive(device.conn, encode_frame(ack), self.now))
        return moved

    def run(self, limit: int = 200) -> None:
        for _ in range(limit):
            if not self.step():
                return
        raise AssertionError("the net did not settle")

    def advance(self, ms: int) -> None:
        """Let ``ms`` pass in 1 s ticks: timers of the router and the cores run."""
        end = self.now + ms
        while self.now < end:
            self.now = min(end, self.now + 1_000)
            self._apply(self.router.handle_timeout(self.now))
            for device in self.devices:
                deadline = device.core.next_deadline()
                if deadline is not None and deadline <= self.now:
                    device.core.handle_timeout(self.now)
            self.run()

    def ping(self, device: Device) -> None:
        """Keep the relay from taking a live, quiet connection for idle."""
        if device.conn is not None and not device.dead:
            self._apply(self.router.receive(device.conn, encode_frame(Ping(1)), self.now))

    # ---------------------------------------------------------------- internals

    def _collect(self, device: Device) -> None:
        device.events += device.core.events()
        device.done += device.core.completions()

    def _owner(self, conn: int) -> Device | None:
        return next((d for d in self.devices if d.conn == conn), None)

    def _apply(self, actions: Sequence[object]) -> None:
        for action in actions:
            if isinstance(action, Send):
                device = self._owner(action.conn)
                if device is not None and not device.dead:
                    self._deliver(device, decode_frame(action.data))
            elif isinstance(action, Close):
                device = self._owner(action.conn)
                if device is not None and not device.dead:
                    device.conn = None
                    device.core.connection_lost("closed by the relay", self.now)
                    self._collect(device)

    def _deliver(self, device: Device, payload: Payload) -> None:
        device.received += 1
        device.core.receive(payload, self.now)
        self._collect(device)

    @staticmethod
    def _payloads(actions: Sequence[object], conn: int) -> list[Payload]:
        return [decode_frame(a.data) for a in actions if isinstance(a, Send) and a.conn == conn]


def chat(net: Net) -> tuple[Device, Device, str]:
    """Alice creates a session, Bob joins it by its code; both online, settled."""
    alice, bob = net.device("alice"), net.device("bob")
    net.connect(alice)
    net.connect(bob)
    info, _ = alice.core.create_session(net.now)
    net.run()
    assert info.invite_code is not None
    op = bob.core.join_session(info.invite_code, net.now)
    net.run()
    joined = bob.result(op)
    assert joined.error is None, joined.error
    return alice, bob, info.session_id
