"""A fault-injecting TCP proxy on 127.0.0.1, between clients and a real relay (loopback only).

Used by the fault tests (tests/integration/test_client_faults*.py) and by ``quicko bench
faults`` (:mod:`quicko.bench.faults`).

Every connection a client opens to the proxy becomes one *flow*: the proxy opens its own
connection to the relay and copies bytes both ways. The faults act on flows, like a network:

- :meth:`FaultProxy.blackhole`: every current flow goes dead without a FIN or RST (its bytes are
  swallowed both ways, for good: the NAT state is lost), and so does every flow opened until
  :meth:`FaultProxy.restore` (the network is down).
- :meth:`FaultProxy.path_change`: every current flow goes dead for good, while new flows work
  at once (NAT rebinding, Wi-Fi to mobile data).
- :meth:`FaultProxy.reset`: every current flow is aborted (an RST both ways).
- :meth:`FaultProxy.stall` then :meth:`FaultProxy.release`: the current flows hold every byte
  (both ways) and then deliver the backlog at once, as one burst (TCP after a long stall).

Nothing here sleeps to synchronise: tests wait on the clients' events.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["FaultProxy"]

_CHUNK = 65_536


@dataclass(eq=False)
class _Flow:
    client: asyncio.StreamWriter
    relay: asyncio.StreamWriter
    dead: bool = False
    stalled: bool = False
    held: dict[str, list[bytes]] = field(default_factory=lambda: {"up": [], "down": []})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """A TCP forwarder to ``127.0.0.1:upstream_port`` with network faults (module docstring)."""

    def __init__(self, upstream_port: int = 0) -> None:
        #: The relay's port on 127.0.0.1; may be set after the proxy is listening (a relay
        #: started afterwards can then be told the proxy's URL as its public one).
        self.upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._flows: list[_Flow] = []
        self._down = False
        #: Flows opened so far (to tell a reconnect from the first connection).
        self.opened = 0
        #: Bytes swallowed by dead flows.
        self.swallowed = 0

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    def forget_dead(self) -> None:
        """Close and forget the flows that are dead (between a benchmark's scenarios)."""
        for flow in [f for f in self._flows if f.dead or f.client.is_closing()]:
            self._flows.remove(flow)
            for writer in (flow.client, flow.relay):
                writer.transport.abort()
            for task in flow.tasks:
                task.cancel()

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for flow in self._flows:
            for writer in (flow.client, flow.relay):
                writer.transport.abort()
            for task in flow.tasks:
                task.cancel()
        await asyncio.gather(*(t for f in self._flows for t in f.tasks), return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        """The proxy's port on 127.0.0.1."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The relay URL a client dials to go through the proxy."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def live_flows(self) -> int:
        """Flows that still carry bytes."""
        return sum(1 for flow in self._flows if not flow.dead and not flow.client.is_closing())

    # ---------------------------------------------------------------- faults

    def blackhole(self) -> None:
        """The network goes down: current and new flows swallow everything, silently."""
        self._down = True
        for flow in self._flows:
            flow.dead = True

    def restore(self) -> None:
        """The network is back for new flows (the blackholed ones stay dead)."""
        self._down = False

    def path_change(self) -> None:
        """The current flows die silently; new ones work."""
        for flow in self._flows:
            flow.dead = True

    def reset(self) -> None:
        """Abort every current flow (RST to both ends)."""
        for flow in self._flows:
            for writer in (flow.client, flow.relay):
                writer.transport.abort()

    def stall(self) -> None:
        """The current flows hold every byte until :meth:`release`."""
        for flow in self._flows:
            flow.stalled = True

    def release(self) -> None:
        """Deliver what the stalled flows held, at once, and let bytes flow again."""
        for flow in self._flows:
            if not flow.stalled:
                continue
            flow.stalled = False
            for direction, writer in (("up", flow.relay), ("down", flow.client)):
                backlog = b"".join(flow.held[direction])
                flow.held[direction].clear()
                if backlog and not writer.is_closing():
                    writer.write(backlog)

    # ---------------------------------------------------------------- forwarding

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        flow = _Flow(writer, up_writer, dead=self._down)
        self._flows.append(flow)
        flow.tasks = [
            asyncio.ensure_future(self._copy(flow, reader, up_writer, "up")),
            asyncio.ensure_future(self._copy(flow, up_reader, writer, "down")),
        ]

    async def _copy(
        self,
        flow: _Flow,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        direction: str,
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await source.read(_CHUNK):
                if flow.dead:
                    self.swallowed += len(data)  # a dead flow: never delivered, never closed
                elif flow.stalled:
                    flow.held[direction].append(data)
                else:
                    sink.write(data)
                    await sink.drain()
        if not flow.dead:
            # An orderly end on one side is passed on (a dead flow passes on nothing).
            with contextlib.suppress(ConnectionError, RuntimeError):
                sink.close()
