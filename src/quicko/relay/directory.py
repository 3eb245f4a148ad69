"""The key directory: QuickoKey → signed public keys, with a TTL once offline (§12-§14).

Entries are stored exactly as their owner signed them, so a lookup returns something the
client checks itself (the address commits to the keys, the signature covers the rest): the
relay cannot substitute keys. An entry is online while a connection holds its address (the
router asks the connection table); after its owner disconnects it survives the directory TTL.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["Directory", "DirectoryEntry"]


@dataclass(frozen=True, slots=True, repr=False)
class DirectoryEntry:
    """One registration, as signed by its owner (the fields of a RegisterKey)."""

    address: bytes
    display_name: str
    x25519_public: bytes
    ed25519_public: bytes
    relay_url: str
    signed_at: int
    signature: bytes

    def __repr__(self) -> str:
        return f"<DirectoryEntry {self.address[:2].hex()}>"


class Directory:
    """Directory entries by address, and when offline ones expire (in memory)."""

    __slots__ = ("_entries", "_offline")

    def __init__(self) -> None:
        self._entries: dict[bytes, DirectoryEntry] = {}
        self._offline: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, address: bytes) -> DirectoryEntry | None:
        """The entry of *address*, if registered."""
        return self._entries.get(address)

    def put(self, entry: DirectoryEntry) -> None:
        """Register or replace the entry of an online address."""
        self._entries[entry.address] = entry
        self._offline.pop(entry.address, None)

    def remove(self, address: bytes) -> None:
        """Remove the entry of *address*, if any."""
        self._entries.pop(address, None)
        self._offline.pop(address, None)

    def mark_online(self, address: bytes) -> None:
        """*address* is held by a connection again: its entry no longer expires."""
        self._offline.pop(address, None)

    def mark_offline(self, address: bytes, expires_ms: int) -> None:
        """*address* went offline: its entry (if any) expires at *expires_ms*."""
        if address in self._entries:
            self._offline[address] = expires_ms
            self._offline.move_to_end(address)

    def next_deadline(self) -> int | None:
        """When the first offline entry expires."""
        return next(iter(self._offline.values()), None)

    def expire(self, now_ms: int) -> int:
        """Remove the offline entries whose time has come; return how many."""
        removed = 0
        while self._offline:
            address, expires_ms = next(iter(self._offline.items()))
            if expires_ms > now_ms:
                break
            del self._offline[address]
            del self._entries[address]
            removed += 1
        return removed
