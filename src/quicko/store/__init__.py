"""Ephemeral in-memory message store with a TTL (sans-I/O).

:class:`EphemeralStore` keeps one session's messages: a ring buffer (1,000 by default) whose
messages also expire an hour (the session TTL) after they arrived, keyed by (sender, message
id) (:data:`MessageKey`). See
:mod:`quicko.store.ephemeral`.
"""

from __future__ import annotations

from quicko.store.ephemeral import (
    DEFAULT_STORE_CAPACITY,
    DEFAULT_STORE_TTL_MS,
    EphemeralStore,
    MessageKey,
)

__all__ = ["DEFAULT_STORE_CAPACITY", "DEFAULT_STORE_TTL_MS", "EphemeralStore", "MessageKey"]
