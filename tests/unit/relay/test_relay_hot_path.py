"""quicko.relay.compiled: which hot modules are compiled, and whether a build is out of date."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from quicko import extensions
from quicko.relay import compiled
from quicko.relay.compiled import (
    HOT_MODULES,
    compiled_modules,
    hot_path,
    native_built,
    stale_modules,
)


def test_the_hot_modules_are_reported_and_the_path_follows_them() -> None:
    found = compiled_modules()
    assert tuple(found) == HOT_MODULES
    if not any(found.values()):  # the default: a fresh clone compiles nothing
        assert hot_path() == ("python+native" if native_built() else "python")
        assert stale_modules() == []
    else:
        assert hot_path().startswith("compiled" if all(found.values()) else "mixed")


def test_a_source_newer_than_its_extension_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in package: frames built, then its source edited; flow built after its source.
    for name, source_after in (("frames", True), ("flow", False)):
        source, built = tmp_path / f"{name}.py", tmp_path / f"{name}.cpython-311-x.so"
        source.write_text("")
        built.write_bytes(b"")
        older, newer = (built, source) if source_after else (source, built)
        os.utime(older, (1_000, 1_000))
        os.utime(newer, (2_000, 2_000))

    class Module:
        def __init__(self, file: Path) -> None:
            self.__file__ = str(file)

    for name in ("frames", "flow"):  # import_module returns what sys.modules holds
        module = Module(tmp_path / f"{name}.cpython-311-x.so")
        monkeypatch.setitem(sys.modules, f"quicko.relay.{name}", module)
    monkeypatch.setattr(extensions, "EXTENSION_SUFFIXES", [".so"])
    monkeypatch.setattr(compiled, "native_built", lambda: False)
    assert compiled_modules() == {"quicko.relay.frames": True, "quicko.relay.flow": True}
    assert stale_modules() == ["quicko.relay.frames"]
    assert hot_path() == "compiled, stale: quicko.relay.frames"
