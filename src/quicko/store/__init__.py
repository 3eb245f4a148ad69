"""Ephemeral in-memory message store with a TTL (sans-I/O)."""
