"""Types of :mod:`quicko.relay.native` (built from ``native.pyx`` by ``scripts/compile.sh``)."""

from typing import Any

from picows import WSFrame, WSListener, WSTransport

__all__ = ["NativeConnection", "NativePath"]

class NativeConnection(WSListener):
    """The server's listener with the binary-frame callback in C (``server._Connection``'s)."""

    server: Any
    source: str
    conn_id: int
    transport: WSTransport | None
    parts: list[bytes] | None
    parts_size: int
    prelogin_bytes: int
    release: bool
    outgoing: list[bytes] | None
    write_blocked: bool
    resume_at: int
    resume_armed: bool
    path: NativePath
    def __init__(
        self, server: Any, source: str, parts: list[bytes] | None, path: NativePath
    ) -> None: ...
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None: ...

class NativePath:
    """The C forward of one server over its router's tables."""

    @property
    def forwarded(self) -> int: ...
    def __init__(self, server: Any, router: Any) -> None: ...
    def take_counts(self) -> tuple[int, int]: ...
    def forward(self, conn: NativeConnection, data: bytes) -> bool: ...
