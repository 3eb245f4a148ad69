"""The coalesced flush writes each connection on its own (issue 10 item 2), without sockets.

A write that raises (uvloop raises RuntimeError on a transport whose handle is closed) costs
only that connection: it is counted and dropped, and every other connection of the batch is
still written.
"""

from __future__ import annotations

from typing import Any

from quicko.relay.config import RelayConfig
from quicko.relay.server import RelayServer, _Connection


class _Socket:
    """A stand-in for uvloop's TCP transport."""

    def __init__(self, *, broken: bool) -> None:
        self.broken = broken
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        if self.broken:
            raise RuntimeError("unable to perform operation: the handler is closed")
        self.written.append(data)

    def abort(self) -> None:
        self.aborted = True


class _Transport:
    """A stand-in for picows' WSTransport."""

    is_close_frame_sent = False
    is_disconnected = False

    def __init__(self, socket: _Socket) -> None:
        self.underlying_transport = socket


def _connect(server: RelayServer, conn_id: int, socket: _Socket) -> _Connection:
    conn = _Connection(server, "127.0.0.1")
    conn.conn_id = conn_id
    conn.transport = _Transport(socket)  # type: ignore[assignment]  # a stand-in
    server._conns[conn_id] = conn
    return conn


def test_a_write_that_raises_costs_only_its_own_connection() -> None:
    server = RelayServer(RelayConfig(node_id="test"))
    sockets: list[Any] = []
    conns = []
    for conn_id in range(1, 7):
        socket = _Socket(broken=conn_id in {1, 3, 4})
        sockets.append(socket)
        conns.append(_connect(server, conn_id, socket))
    for conn in conns:
        server._queue(conn, b"frame")
    server._flush()
    assert [bool(s.written) for s in sockets] == [False, True, False, False, True, True]
    assert [s.aborted for s in sockets] == [True, False, True, True, False, False]
    assert server.io.write_failures == 3
    assert sorted(server._conns) == [2, 5, 6]
    # The survivors keep being flushed afterwards: nothing is left stuck in a queue.
    for conn in conns[1:]:
        server._queue(conn, b"again")
    server._flush()
    assert [len(s.written) for s in sockets] == [0, 2, 0, 0, 2, 2]


def test_a_connection_lost_before_the_flush_is_skipped() -> None:
    server = RelayServer(RelayConfig(node_id="test"))
    gone, alive = _Socket(broken=True), _Socket(broken=False)
    first, second = _connect(server, 1, gone), _connect(server, 2, alive)
    server.io.open_connections = 2
    server._queue(first, b"frame")
    server._queue(second, b"frame")
    first.on_ws_disconnected(first.transport)  # type: ignore[arg-type]  # the loop reports it
    server._flush()
    assert server.io.write_failures == 0  # nothing was even tried on the lost socket
    assert alive.written
