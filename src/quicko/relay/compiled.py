"""Which of the relay's hot modules run compiled (mypyc), and which as plain Python.

The relay's per-frame work is pure, fully typed Python. Its hottest modules, listed in
:data:`HOT_MODULES`, can be compiled to C extensions with mypyc (``scripts/compile.sh``,
docs/relay.md "Compiled hot path"), as black and mypy ship themselves. The compiled
modules behave exactly like their sources; Python imports an extension module in preference
to the ``.py`` beside it, so building them is all it takes, and deleting them
(``scripts/compile.sh --clean``) returns to the pure-Python path, which is the default and what
the test suite runs.
"""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Final

__all__ = ["HOT_MODULES", "compiled_modules", "hot_path"]

HOT_MODULES: Final = ("quicko.relay.frames", "quicko.relay.flow")
"""The modules ``scripts/compile.sh`` compiles: the MESSAGE frame reader and the rate limiter."""


def compiled_modules() -> dict[str, bool]:
    """Each of :data:`HOT_MODULES` and whether it was loaded from a compiled extension."""
    found: dict[str, bool] = {}
    for name in HOT_MODULES:
        path = getattr(importlib.import_module(name), "__file__", None) or ""
        found[name] = path.endswith(tuple(EXTENSION_SUFFIXES))
    return found


def hot_path() -> str:
    """``"compiled"``, ``"python"``, or ``"mixed"`` (some modules compiled): for the logs."""
    states = set(compiled_modules().values())
    if states == {True}:
        return "compiled"
    if states == {False}:
        return "python"
    return "mixed"
