"""The key directory: QuickoKey → signed public keys, with a TTL once offline (§12-§14).

Entries are stored exactly as their owner signed them, so a lookup returns something the
client checks itself (the address commits to the keys, the signature covers the rest): the
relay cannot substitute keys. An entry is online while a connection holds its address (the
router asks the connection table); after its owner disconnects it survives the directory TTL
(a shorter one if the owner never came back since registering). Entries are counted per source
address, for the per-source quota.
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
    """Directory entries by address, counted per source, and when offline ones expire.

    Two TTLs (both in arrival order, so each map's first item expires first): an entry whose
    owner has come back (a Hello) since registering it gets ``ttl_ms`` once offline; one whose
    owner never came back gets the shorter ``new_ttl_ms``, so throw-away registrations leave
    soon.
    """

    __slots__ = (
        "_entries",
        "_new_ttl_ms",
        "_offline",
        "_offline_new",
        "_per_source",
        "_returned",
        "_source_of",
        "_ttl_ms",
    )

    def __init__(self, ttl_ms: int = 3_600_000, new_ttl_ms: int | None = None) -> None:
        """Set the TTLs of offline entries (``new_ttl_ms`` is at most ``ttl_ms``, its default)."""
        self._ttl_ms = ttl_ms
        self._new_ttl_ms = ttl_ms if new_ttl_ms is None else min(ttl_ms, new_ttl_ms)
        self._entries: dict[bytes, DirectoryEntry] = {}
        self._offline: OrderedDict[bytes, int] = OrderedDict()
        self._offline_new: OrderedDict[bytes, int] = OrderedDict()
        self._source_of: dict[bytes, str] = {}
        self._per_source: dict[str, int] = {}
        self._returned: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, address: bytes) -> DirectoryEntry | None:
        """The entry of *address*, if registered."""
        return self._entries.get(address)

    def count_for_source(self, source: str) -> int:
        """Entries registered from *source*."""
        return self._per_source.get(source, 0)

    def put(self, entry: DirectoryEntry, source: str = "") -> None:
        """Register or replace the entry of an online address, registered from *source*."""
        address = entry.address
        if address not in self._entries:
            self._returned.discard(address)
        self._entries[address] = entry
        self._unschedule(address)
        self._set_source(address, source)

    def remove(self, address: bytes) -> None:
        """Remove the entry of *address*, if any."""
        if self._entries.pop(address, None) is not None:
            self._unschedule(address)
            self._set_source(address, None)
            self._returned.discard(address)

    def mark_online(self, address: bytes) -> None:
        """*address* is held by a connection again: its entry no longer expires."""
        if address in self._entries:
            self._unschedule(address)
            self._returned.add(address)

    def mark_offline(self, address: bytes, now_ms: int) -> None:
        """*address* went offline at *now_ms*: its entry (if any) starts its TTL."""
        if address not in self._entries:
            return
        self._unschedule(address)
        if address in self._returned:
            self._offline[address] = now_ms + self._ttl_ms
        else:
            self._offline_new[address] = now_ms + self._new_ttl_ms

    def next_deadline(self) -> int | None:
        """When the first offline entry expires."""
        first = next(iter(self._offline.values()), None)
        first_new = next(iter(self._offline_new.values()), None)
        if first is None or (first_new is not None and first_new < first):
            return first_new
        return first

    def expire(self, now_ms: int) -> int:
        """Remove the offline entries whose time has come; return how many."""
        removed = 0
        for offline in (self._offline, self._offline_new):
            while offline:
                address, expires_ms = next(iter(offline.items()))
                if expires_ms > now_ms:
                    break
                self.remove(address)
                removed += 1
        return removed

    def _unschedule(self, address: bytes) -> None:
        self._offline.pop(address, None)
        self._offline_new.pop(address, None)

    def _set_source(self, address: bytes, source: str | None) -> None:
        """Count *address* under *source* (``None``: under none) instead of its old one."""
        old = self._source_of.pop(address, None)
        if old is not None:
            left = self._per_source[old] - 1
            if left:
                self._per_source[old] = left
            else:
                del self._per_source[old]
        if source is not None:
            self._source_of[address] = source
            self._per_source[source] = self._per_source.get(source, 0) + 1
