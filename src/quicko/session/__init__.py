"""End-to-end session state machines: handshake, ratchet, members, lifecycle (sans-I/O)."""
