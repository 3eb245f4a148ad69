"""The client engine: connection supervisor, heartbeat and the QuickoClient façade (asyncio)."""
