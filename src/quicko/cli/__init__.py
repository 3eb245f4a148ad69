"""The ``quicko`` command: one sub-command per module in this package."""

from __future__ import annotations

from quicko.cli.main import main

__all__ = ["main"]
