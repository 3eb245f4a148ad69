"""The part of :class:`quicko.client.AsyncQuickoClient` the terminal app uses.

The app talks to the client engine only through this surface (DESIGN.md §9: never to
sockets). Declaring it as a protocol keeps the app's dependency explicit and lets the app be
driven by any object with the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from quicko.client.models import ClientEvent, QuickoKeyInfo, SessionInfo
from quicko.messaging import ChatMessage

__all__ = ["ChatClient"]


class ChatClient(Protocol):
    """The asynchronous client methods the app calls (see docs of ``AsyncQuickoClient``)."""

    @property
    def relay_url(self) -> str:
        """The relay's URL (canonical)."""

    @property
    def identity_info(self) -> QuickoKeyInfo:
        """The current identity."""

    @property
    def connection_state(self) -> str:
        """``disconnected``, ``connecting``, ``connected`` or ``reconnecting``."""

    @property
    def latency_ms(self) -> float | None:
        """The last measured round trip to the relay."""

    async def connect(self, timeout: float = ...) -> None:
        """Start connecting; return once connected."""

    async def disconnect(self) -> None:
        """Disconnect for good."""

    async def next_event(self) -> ClientEvent:
        """The next client event."""

    async def create_session(self) -> SessionInfo:
        """Create a session with an invite code."""

    async def join_session(self, code: str) -> SessionInfo:
        """Join a session by invite code."""

    async def send_message(self, session_id: str, text: str) -> ChatMessage:
        """Send a message."""

    async def mark_read(self, session_id: str, message_ids: Sequence[str]) -> None:
        """Send read receipts."""

    async def destroy_session(self, session_id: str) -> None:
        """Leave a session and wipe its keys and messages."""

    async def generate_quickokey(self) -> QuickoKeyInfo:
        """Replace the identity with a new QuickoKey."""

    async def recover_quickokey(self, seed_phrase: str) -> QuickoKeyInfo:
        """Replace the identity with the one of a seed phrase."""

    async def register_key(self) -> None:
        """Register the QuickoKey in the relay's directory."""

    async def call(self, quickokey: str, timeout: float = ...) -> SessionInfo:
        """Call a QuickoKey."""

    def messages(self, session_id: str) -> list[ChatMessage]:
        """The messages the client's store holds for a session."""

    def sessions(self) -> list[SessionInfo]:
        """The client's sessions."""

    async def retry_message(self, session_id: str, message_id: str) -> ChatMessage:
        """Send a failed message again (same id, PENDING again)."""

    async def answer_call(self, call_id: str, accept: bool) -> SessionInfo | None:
        """Accept or decline an incoming call."""

    def mark_verified(self, session_id: str, address: str) -> None:
        """Record that the user compared a peer's safety number."""
