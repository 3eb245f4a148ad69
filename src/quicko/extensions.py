"""Whether a module runs from a compiled extension, and whether that extension is stale.

Shared by :mod:`quicko.relay.compiled` and :mod:`quicko.client.compiled`, which list the hot
modules ``scripts/compile.sh`` builds (mypyc, and the relay's Cython module). Python imports an
extension in preference to the ``.py`` beside it, so a module's ``__file__`` says which runs.
Imports nothing of Quicko2's: ``scripts/compile.sh`` reads the client's list before anything is
built.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

__all__ = ["is_extension", "stale_extensions"]


def _file(name: str) -> Path:
    return Path(getattr(importlib.import_module(name), "__file__", None) or "")


def is_extension(name: str) -> bool:
    """Whether the module ``name`` was loaded from a compiled extension (imports it)."""
    return str(_file(name)).endswith(tuple(EXTENSION_SUFFIXES))


def stale_extensions(names: Iterable[str], source_suffix: str = ".py") -> list[str]:
    """Those of ``names`` loaded from an extension older than their source beside it.

    The source is ``<last part of the name><source_suffix>`` in the extension's directory
    (``.py`` for mypyc, ``.pyx`` for Cython). A stale extension runs the old code: rebuild it
    (``scripts/compile.sh``) or remove it (``--clean``).
    """
    stale: list[str] = []
    for name in names:
        path = _file(name)
        source = path.parent / (name.rsplit(".", 1)[-1] + source_suffix)
        if (
            str(path).endswith(tuple(EXTENSION_SUFFIXES))
            and source.is_file()
            and source.stat().st_mtime > path.stat().st_mtime
        ):
            stale.append(name)
    return stale
