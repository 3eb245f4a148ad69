"""Which of the relay's hot modules run compiled (mypyc), and which as plain Python.

The relay's per-frame work is pure, fully typed Python. Its hottest modules, listed in
:data:`HOT_MODULES`, can be compiled to C extensions with mypyc (``scripts/compile.sh``,
docs/relay.md "Compiled hot path"), as black and mypy ship themselves. The compiled
modules behave exactly like their sources; Python imports an extension module in preference
to the ``.py`` beside it, so building them is all it takes, and deleting them
(``scripts/compile.sh --clean``) returns to the pure-Python path, which is the default and what
the test suite runs.

The same script also builds :data:`NATIVE_MODULE` (``quicko/relay/native.pyx``, Cython): the
common MESSAGE forwarded in C, an accelerator of the Python path that declines every other
frame. It has no Python twin to fall back to by import: the server uses it when it is built
(``RelayServer(native=…)``), and :func:`hot_path` adds ``+native``.
"""

from __future__ import annotations

import importlib
from typing import Final

from quicko.extensions import is_extension, stale_extensions

__all__ = [
    "HOT_MODULES",
    "NATIVE_MODULE",
    "compiled_modules",
    "hot_path",
    "native_built",
    "stale_modules",
]

HOT_MODULES: Final = ("quicko.relay.frames", "quicko.relay.flow")
"""The modules ``scripts/compile.sh`` compiles: the MESSAGE frame reader and the rate limiter."""


NATIVE_MODULE: Final = "quicko.relay.native"
"""The Cython hot path ``scripts/compile.sh`` builds from ``native.pyx`` (optional)."""


def native_built() -> bool:
    """Whether :data:`NATIVE_MODULE` is built and importable."""
    try:
        importlib.import_module(NATIVE_MODULE)
    except ImportError:
        return False
    return True


def compiled_modules() -> dict[str, bool]:
    """Each of :data:`HOT_MODULES` and whether it was loaded from a compiled extension."""
    return {name: is_extension(name) for name in HOT_MODULES}


def stale_modules() -> list[str]:
    """The compiled modules whose source changed after they were built (rebuild or clean)."""
    stale = stale_extensions(HOT_MODULES)
    if native_built():
        stale += stale_extensions((NATIVE_MODULE,), ".pyx")
    return stale


def hot_path() -> str:
    """Which path the relay runs, for its logs.

    ``"python"`` (the default), ``"compiled"``, ``"mixed"`` (some modules compiled), each
    followed by ``"+native"`` when :data:`NATIVE_MODULE` is built (``"compiled+native"`` after
    ``scripts/compile.sh``), and by ``", stale: NAME, …"`` when a source was edited after the
    build (the old code runs: run ``scripts/compile.sh`` again, or ``--clean``).
    """
    states = set(compiled_modules().values())
    path = "python" if states == {False} else "compiled" if states == {True} else "mixed"
    if native_built():
        path += "+native"
    stale = stale_modules()
    return f"{path}, stale: {', '.join(stale)}" if stale else path
