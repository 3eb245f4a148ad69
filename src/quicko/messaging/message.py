"""The chat message model: one text message in a session, sent or received (DESIGN.md §5).

A :class:`ChatMessage` is immutable; a status change makes a new one
(:meth:`ChatMessage.with_status`), and only :func:`quicko.messaging.status.advance` decides
whether a change is allowed. Its ``repr()`` never shows the text, only its length, and shows
ids shortened, because plaintext and full ids never go to logs (STYLE.md rule 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from quicko.crypto import RandomSource
from quicko.messaging.status import DeliveryStatus
from quicko.protocol.constants import MESSAGE_ID_SIZE
from quicko.protocol.frozen import direct_init

__all__ = ["ChatMessage", "new_message_id", "short_id"]

_SHORT_ID_BYTES: Final = 4


def short_id(value: bytes) -> str:
    """A shortened hex form of an id for reprs and logs: its first 4 bytes and an ellipsis.

    Args:
        value: a message, session or member id.

    Returns:
        For example ``"1a2b3c4d…"``; ids of 4 bytes or fewer are shown whole.
    """
    head = value[:_SHORT_ID_BYTES].hex()
    return head + "…" if len(value) > _SHORT_ID_BYTES else head


def new_message_id(rng: RandomSource) -> bytes:
    """A fresh random message id.

    Args:
        rng: the injected random source (``os.urandom`` at the edge).

    Returns:
        16 random bytes.

    Raises:
        ValueError: ``rng`` returned a number of bytes other than 16.
    """
    message_id = rng(MESSAGE_ID_SIZE)
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError(f"the random source returned {len(message_id)} bytes, not 16")
    return bytes(message_id)


@direct_init
@dataclass(frozen=True, slots=True, repr=False)
class ChatMessage:
    """One text message of a session, as the user sees it.

    Attributes:
        message_id: 16 bytes, random, chosen by the sender; unique within a session.
        session_id: the session the message belongs to.
        sender: the sender's address (our own for outgoing messages).
        sender_name: the sender's display name, as authenticated in their identity bundle.
        text: the plaintext (never in ``repr()``).
        timestamp_ms: the sender's clock when sending, milliseconds since the epoch. For a
            received message it is the peer's claim, not a local time.
        outgoing: ``True`` if we sent it.
        status: where it is on its way (:class:`DeliveryStatus`).

    Raises:
        ValueError: ``message_id`` is not 16 bytes.
    """

    message_id: bytes
    session_id: bytes
    sender: bytes
    sender_name: str
    text: str
    timestamp_ms: int
    outgoing: bool
    status: DeliveryStatus

    def __post_init__(self) -> None:
        if len(self.message_id) != MESSAGE_ID_SIZE:
            raise ValueError(f"a message id is 16 bytes, not {len(self.message_id)}")

    def with_status(self, status: DeliveryStatus) -> ChatMessage:
        """A copy of this message with another status.

        This does not check the transition: callers decide with
        :func:`quicko.messaging.status.advance` first (the store does).
        """
        # Built field by field: dataclasses.replace costs several times more, on every Ack and
        # receipt of the client's per-message path.
        return ChatMessage(self.message_id, self.session_id, self.sender, self.sender_name,
                           self.text, self.timestamp_ms, self.outgoing, status)  # fmt: skip

    def __repr__(self) -> str:
        direction = "outgoing" if self.outgoing else "incoming"
        return (
            f"ChatMessage(id={short_id(self.message_id)}, "
            f"session={short_id(self.session_id)}, sender={short_id(self.sender)}, "
            f"{direction}, status={self.status.name}, timestamp_ms={self.timestamp_ms}, "
            f"text=<{len(self.text)} chars>)"
        )
