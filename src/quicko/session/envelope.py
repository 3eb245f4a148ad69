"""Envelopes: the padded plaintext that the pairwise ratchet encrypts (docs/protocol.md §10).

An envelope is a MessagePack array ``[kind, ...]``::

    0 SYNC        [0]
    1 TEXT        [1, text str]                          text: at most 65,536 UTF-8 bytes
    2 RECEIPT     [2, status int, [message_id bin16, …]]  status 3 delivered, 4 read; 1-256 ids
    3 MEMBER_ADD  [3, address bin16, x25519 bin32, ed25519 bin32]  the vouched identity
    4 LEAVE       [4]

The plaintext is ``u32(len(m)) || m || zero padding``, padded to the smallest bucket that holds
it: 64, 128, …, 65,536 bytes (powers of two), then multiples of 65,536. The encoding is
canonical on the padding: :func:`unpad_envelope` accepts only the bucket size, and only zeros.

:func:`pad_envelope` raises ``ValueError`` for an envelope we should not send (local misuse);
:func:`unpad_envelope` raises :class:`~quicko.errors.MalformedFrameError` naming what is wrong,
and nothing else, whatever the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import msgpack

from quicko.errors import MalformedFrameError
from quicko.protocol.constants import ADDRESS_SIZE, MESSAGE_ID_SIZE
from quicko.protocol.frozen import direct_init

__all__ = [
    "BUCKET_SIZES",
    "LENGTH_PREFIX_SIZE",
    "MAX_BUNDLE_BYTES",
    "MAX_RECEIPT_IDS",
    "MAX_TEXT_BYTES",
    "RECEIPT_DELIVERED",
    "RECEIPT_READ",
    "Envelope",
    "Leave",
    "MemberAdd",
    "Receipt",
    "Sync",
    "Text",
    "pad_envelope",
    "padded_size",
    "unpad_envelope",
]

LENGTH_PREFIX_SIZE = 4
"""Size of the big-endian length of the MessagePack part, in bytes."""
BUCKET_SIZES = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
"""Padded sizes in bytes; beyond the last, plaintexts are padded to a multiple of it."""
MAX_TEXT_BYTES = 65536
"""Longest text, in UTF-8 bytes."""
MAX_RECEIPT_IDS = 256
"""Most message ids in one receipt."""
MAX_BUNDLE_BYTES = 4096
"""Longest binary string an envelope may hold, in bytes."""
RECEIPT_DELIVERED = 3
"""Receipt status: the messages were decrypted."""
RECEIPT_READ = 4
"""Receipt status: the messages were shown to the user."""

_LENGTH = struct.Struct(">I")
_KEY_SIZE = 32
_RECEIPT_STATUSES = frozenset({RECEIPT_DELIVERED, RECEIPT_READ})
#: Arrays in one envelope: the envelope itself and a receipt's id list.
_MAX_ARRAYS = 2


@dataclass(frozen=True, slots=True)
class Sync:
    """SYNC (kind 0): the initiator's first message, which lets the responder send."""

    KIND: ClassVar[int] = 0

    def _problem(self) -> str | None:
        return None

    def _wire(self) -> list[object]:
        return [self.KIND]


@direct_init
@dataclass(frozen=True, slots=True)
class Text:
    """TEXT (kind 1): a chat message.

    Attributes:
        text: the message, at most :data:`MAX_TEXT_BYTES` in UTF-8 (any characters, newlines
            included; the user interface decides how to show control characters).
    """

    KIND: ClassVar[int] = 1
    text: str

    def _problem(self) -> str | None:
        if type(self.text) is not str:
            return "text must be a string"
        try:
            size = len(self.text.encode("utf-8"))
        except UnicodeEncodeError:
            return "text must be valid Unicode (no lone surrogates)"
        if size > MAX_TEXT_BYTES:
            return f"text must be at most {MAX_TEXT_BYTES} UTF-8 bytes"
        return None

    def _wire(self) -> list[object]:
        return [self.KIND, self.text]


@dataclass(frozen=True, slots=True)
class Receipt:
    """RECEIPT (kind 2): the sender of these messages learns they were delivered or read.

    Attributes:
        status: :data:`RECEIPT_DELIVERED` (3) or :data:`RECEIPT_READ` (4).
        message_ids: 1 to :data:`MAX_RECEIPT_IDS` ids of 16 bytes.
    """

    KIND: ClassVar[int] = 2
    status: int
    message_ids: tuple[bytes, ...]

    def _problem(self) -> str | None:
        if type(self.status) is not int or self.status not in _RECEIPT_STATUSES:
            return f"receipt status must be {RECEIPT_DELIVERED} or {RECEIPT_READ}"
        if type(self.message_ids) is not tuple:
            return "receipt message ids must be an array"
        if not 1 <= len(self.message_ids) <= MAX_RECEIPT_IDS:
            return f"a receipt must carry 1 to {MAX_RECEIPT_IDS} message ids"
        for index, message_id in enumerate(self.message_ids):
            if type(message_id) is not bytes or len(message_id) != MESSAGE_ID_SIZE:
                return f"receipt message id {index} must be {MESSAGE_ID_SIZE} bytes"
        return None

    def _wire(self) -> list[object]:
        return [self.KIND, self.status, list(self.message_ids)]


@dataclass(frozen=True, slots=True)
class MemberAdd:
    """MEMBER_ADD (kind 3): the creator vouches for a new member's identity (self-certifying).

    The receiver checks that the address is the address of the two keys (docs/protocol.md
    §6.4) and accepts the vouch only from the session's creator.

    Attributes:
        address: the new member's 16-byte address.
        x25519_public: its 32-byte identity X25519 key.
        ed25519_public: its 32-byte identity Ed25519 key.
    """

    KIND: ClassVar[int] = 3
    address: bytes
    x25519_public: bytes
    ed25519_public: bytes

    def _problem(self) -> str | None:
        sizes = (
            (self.address, ADDRESS_SIZE),
            (self.x25519_public, _KEY_SIZE),
            (self.ed25519_public, _KEY_SIZE),
        )
        if any(type(value) is not bytes or len(value) != size for value, size in sizes):
            return "a vouched identity is an address and two 32-byte keys"
        return None

    def _wire(self) -> list[object]:
        return [self.KIND, self.address, self.x25519_public, self.ed25519_public]


@dataclass(frozen=True, slots=True)
class Leave:
    """LEAVE (kind 4): the sender left the session or destroyed it."""

    KIND: ClassVar[int] = 4

    def _problem(self) -> str | None:
        return None

    def _wire(self) -> list[object]:
        return [self.KIND]


Envelope: TypeAlias = Sync | Text | Receipt | MemberAdd | Leave
"""Any envelope."""

#: kind -> (number of array items, constructor from the items after the kind).
_DECODERS: dict[int, tuple[int, Callable[[list[Any]], Envelope]]] = {
    Sync.KIND: (1, lambda _: Sync()),
    Text.KIND: (2, lambda items: Text(items[1])),
    Receipt.KIND: (
        3,
        lambda items: Receipt(items[1], tuple(items[2]) if type(items[2]) is list else items[2]),
    ),
    MemberAdd.KIND: (4, lambda items: MemberAdd(items[1], items[2], items[3])),
    Leave.KIND: (1, lambda _: Leave()),
}


def padded_size(length: int) -> int:
    """Return the bucket size for a plaintext of ``length`` bytes (prefix included)."""
    for bucket in BUCKET_SIZES:
        if length <= bucket:
            return bucket
    last = BUCKET_SIZES[-1]
    return -(-length // last) * last


def pad_envelope(envelope: Envelope) -> bytes:
    """Encode ``envelope`` and pad it to its bucket.

    A TEXT, the envelope of every chat message, is encoded here directly (:func:`_packed_text`:
    the bytes ``msgpack`` writes, tested); every other envelope through ``msgpack``.

    Raises:
        ValueError: the envelope is not valid (a field of the wrong type or size).
    """
    packed = _packed_text(envelope) if type(envelope) is Text else None
    if packed is None:
        packed = _packed(envelope)
    plain = _LENGTH.pack(len(packed)) + packed
    return plain + bytes(padded_size(len(plain)) - len(plain))


def _packed(envelope: Envelope) -> bytes:
    """The envelope's MessagePack encoding (the general path).

    Raises:
        ValueError: the envelope is not valid (a field of the wrong type or size).
    """
    problem = envelope._problem()
    if problem is not None:
        raise ValueError(problem)
    packed: bytes = msgpack.packb(envelope._wire(), use_bin_type=True)
    return packed


_TEXT_HEAD = b"\x92\x01"  # a MessagePack array of 2 items, the first the TEXT kind (1)
_FIXSTR = 0xA0  # a string of up to 31 bytes: 0xa0 | length (0xa0-0xbf)
_FIXSTR_END = 0xC0
_STR8, _STR16, _STR32 = 0xD9, 0xDA, 0xDB  # then the length in 1, 2 or 4 bytes


def _packed_text(envelope: Text) -> bytes | None:
    """A valid TEXT's MessagePack encoding, as ``msgpack.packb`` writes it; ``None`` otherwise.

    ``None`` (anything :meth:`Text._problem` would refuse) sends the envelope down the general
    path, which raises as it always did.
    """
    text = envelope.text
    if type(text) is not str:
        return None
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    size = len(encoded)
    if size < 32:
        head = bytes((_FIXSTR | size,))
    elif size < 0x100:
        head = bytes((_STR8, size))
    elif size < 0x10000:
        head = bytes((_STR16,)) + size.to_bytes(2, "big")
    elif size <= MAX_TEXT_BYTES:
        head = bytes((_STR32,)) + size.to_bytes(4, "big")
    else:
        return None
    return _TEXT_HEAD + head + encoded


def unpad_envelope(data: bytes) -> Envelope:
    """Check and decode a decrypted plaintext.

    Raises:
        MalformedFrameError: the length prefix, the padding, the MessagePack or a field is not
            valid; the message says which.
    """
    if len(data) < LENGTH_PREFIX_SIZE:
        raise MalformedFrameError("envelope is shorter than its length prefix")
    (length,) = _LENGTH.unpack_from(data)
    end = LENGTH_PREFIX_SIZE + length
    if end > len(data):
        raise MalformedFrameError("envelope length prefix points beyond the plaintext")
    if len(data) != padded_size(end):
        raise MalformedFrameError("envelope is not padded to its bucket size")
    if data.count(0, end) != len(data) - end:
        raise MalformedFrameError("envelope padding is not all zeros")
    text = _unpacked_text(data, end) if type(data) is bytes else None
    if text is not None:
        return text
    items = _unpack(memoryview(data)[LENGTH_PREFIX_SIZE:end])
    if type(items) is not list or not items or type(items[0]) is not int:
        raise MalformedFrameError("envelope must be an array that starts with an integer kind")
    decoder = _DECODERS.get(items[0])
    if decoder is None:
        raise MalformedFrameError(f"unknown envelope kind {items[0]}")
    arity, build = decoder
    if len(items) != arity:
        raise MalformedFrameError(f"envelope of kind {items[0]} must have {arity} items")
    envelope = build(items)
    problem = envelope._problem()
    if problem is not None:
        raise MalformedFrameError(problem)
    return envelope


def _unpacked_text(data: bytes, end: int) -> Text | None:
    """The TEXT that ``data[4:end]`` encodes the way :func:`_packed_text` writes it, or ``None``.

    Sound, not complete: a TEXT returned here is what the general decoding returns for the
    same bytes (tested); anything else (another kind, another string encoding, invalid
    UTF-8, a text over :data:`MAX_TEXT_BYTES`) is ``None`` and goes to the general decoding.
    """
    pos = LENGTH_PREFIX_SIZE + 3
    if end < pos or data[LENGTH_PREFIX_SIZE] != 0x92 or data[LENGTH_PREFIX_SIZE + 1] != 0x01:
        return None
    head = data[pos - 1]
    if _FIXSTR <= head < _FIXSTR_END:  # the length in the low 5 bits
        size = head & 0x1F
    elif head == _STR8 and end >= pos + 1:
        size, pos = data[pos], pos + 1
    elif head == _STR16 and end >= pos + 2:
        size, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
    else:
        return None  # str32 (only a text of 65,536 bytes) and anything else: the general path
    if pos + size != end:
        return None
    try:
        return Text(data[pos:end].decode("utf-8"))
    except UnicodeDecodeError:
        return None


class _ArrayCounter:
    """``list_hook`` for msgpack that stops decoding after ``_MAX_ARRAYS`` arrays."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, items: list[Any]) -> list[Any]:
        self.count += 1
        if self.count > _MAX_ARRAYS:
            raise MalformedFrameError("envelope has too many arrays")
        return items


def _unpack(packed: memoryview) -> Any:
    """MessagePack-decode the envelope with every container and string capped."""
    try:
        return msgpack.unpackb(
            packed,
            raw=False,
            use_list=True,
            list_hook=_ArrayCounter(),
            max_array_len=MAX_RECEIPT_IDS,
            max_map_len=0,
            max_ext_len=0,
            max_str_len=MAX_TEXT_BYTES,
            max_bin_len=MAX_BUNDLE_BYTES,
        )
    except MalformedFrameError:
        raise
    except Exception as exc:  # msgpack raises many kinds (ValueError, StackError, ExtraData…)
        raise MalformedFrameError("envelope is not valid MessagePack within the limits") from exc
