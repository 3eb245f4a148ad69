"""The zero-knowledge relay: listener, pure router, registry, directory, limits (asyncio)."""
