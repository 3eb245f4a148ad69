"""Quicko2: an ephemeral, end-to-end encrypted messenger with a zero-knowledge relay.

The package is layered (docs/architecture.md): a pure, sans-I/O core (``crypto``,
``identity``, ``protocol``, ``messaging``, ``session``, ``store``) under thin asyncio shells
(``client``, ``relay``) and the front-ends (``ui.qt``, ``tui``, ``cli``).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
