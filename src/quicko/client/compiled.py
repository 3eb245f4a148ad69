"""Which of the client's hot modules run compiled (mypyc), and which as plain Python.

The client's per-message work — the ratchet and the AEAD, the session's delivery, the
client's core and its frames — is pure, fully typed Python. The modules listed in
:data:`HOT_MODULES` can be compiled to C extensions with mypyc, together, as one group: one
shared library (:data:`GROUP`, ``quicko/_client_hot__mypyc.*.so``) and one small extension per
module beside its source (``scripts/compile.sh``, docs/performance.md "Client compiled path").
They are compiled together because a class may only subclass a compiled class if it is compiled
too (``Session`` → ``HandshakeMixin`` → ``SessionCore``), and calls between the modules of one
group are native calls. The compiled modules behave exactly like their sources; Python imports an
extension module in preference to the ``.py`` beside it, and deleting the extensions
(``scripts/compile.sh --clean``) returns to the pure-Python path, which is the default and what
the test suite runs first.

This module imports nothing of Quicko2's at import time: ``scripts/compile.sh`` reads
:data:`HOT_MODULES` from it with :func:`runpy.run_path`, before anything is built.
"""

from __future__ import annotations

from typing import Final

__all__ = ["GROUP", "HOT_MODULES", "compiled_modules", "hot_path", "is_compiled", "stale_modules"]

HOT_MODULES: Final = (
    "quicko.crypto.aead",
    "quicko.crypto.kdf",
    "quicko.crypto.ratchet",
    "quicko.messaging.message",
    "quicko.messaging.queue",
    "quicko.messaging.status",
    "quicko.session.core",
    "quicko.session.delivery",
    "quicko.session.handshake",
    "quicko.session.pairwise",
    "quicko.session.session",
    "quicko.store.ephemeral",
    "quicko.client.core",
    "quicko.client.eventq",
    "quicko.client.frames",
    "quicko.client.heartbeat",
    "quicko.client.hop",
    "quicko.client.link",
    "quicko.client.live",
    "quicko.client.pacing",
)
"""The modules ``scripts/compile.sh`` compiles, as one mypyc group: the per-message path."""

GROUP: Final = "quicko._client_hot"
"""The group's name: its shared library is the extension module ``GROUP + "__mypyc"``."""


def compiled_modules() -> dict[str, bool]:
    """Each of :data:`HOT_MODULES` and whether it was loaded from a compiled extension."""
    return {name: is_compiled(name) for name in HOT_MODULES}


def is_compiled(name: str) -> bool:
    """Whether the module ``name`` (one of :data:`HOT_MODULES`) was loaded compiled.

    For the tests that only the pure-Python path can run: those that patch a module's constants
    (mypyc inlines ``Final`` names) or its classes' methods (compiled callers call them directly).
    """
    from quicko.extensions import is_extension  # noqa: PLC0415  # see the module's docstring

    return is_extension(name)


def stale_modules() -> list[str]:
    """The compiled modules whose source changed after they were built (rebuild or clean)."""
    from quicko.extensions import stale_extensions  # noqa: PLC0415  # see the docstring

    return stale_extensions(HOT_MODULES)


def hot_path() -> str:
    """Which path the client runs, for the benchmark's report.

    ``"python"`` (the default), ``"compiled"`` (after ``scripts/compile.sh``) or ``"mixed"``
    (some modules compiled), followed by ``", stale: NAME, …"`` when a source was edited after
    the build (the old code runs: run ``scripts/compile.sh`` again, or ``--clean``).
    """
    states = set(compiled_modules().values())
    path = "python" if states == {False} else "compiled" if states == {True} else "mixed"
    stale = stale_modules()
    return f"{path}, stale: {', '.join(stale)}" if stale else path
