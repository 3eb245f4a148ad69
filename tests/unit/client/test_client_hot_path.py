"""quicko.client.compiled: which hot modules are compiled, and whether a build is out of date."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quicko import extensions
from quicko.client import compiled
from quicko.client.compiled import (
    GROUP,
    HOT_MODULES,
    compiled_modules,
    hot_path,
    is_compiled,
    stale_modules,
)

SOURCE = Path(compiled.__file__ or "")


def test_the_hot_modules_are_reported_and_the_path_follows_them() -> None:
    found = compiled_modules()
    assert tuple(found) == HOT_MODULES
    assert all(is_compiled(name) == state for name, state in found.items())
    if not any(found.values()):  # the default: a fresh clone compiles nothing
        assert hot_path() == "python"
        assert stale_modules() == []
    else:
        assert hot_path().startswith("compiled" if all(found.values()) else "mixed")


def test_the_list_is_one_group_of_sources_scripts_compile_can_read() -> None:
    # scripts/compile.sh runs this file on its own (runpy), before anything is built.
    names = runpy.run_path(str(SOURCE))
    assert names["HOT_MODULES"] == HOT_MODULES and names["GROUP"] == GROUP
    root = SOURCE.parents[2]  # src/
    for name in HOT_MODULES:
        assert (root / (name.replace(".", "/") + ".py")).is_file(), name
    # The group's library sits in a package whose __init__ imports nothing of the group's
    # modules (quicko/__init__.py): a library in quicko.client would import quicko.client
    # first, which imports the modules of the group while it loads.
    assert GROUP.rpartition(".")[0] == "quicko"
    assert len(set(HOT_MODULES)) == len(HOT_MODULES)


def test_a_source_newer_than_its_extension_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-ins: every module built after its source, except the first, edited after its build.
    class Module:
        def __init__(self, file: Path) -> None:
            self.__file__ = str(file)

    for index, name in enumerate(HOT_MODULES):
        leaf = name.rsplit(".", 1)[-1]
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        source, built = folder / f"{leaf}.py", folder / f"{leaf}.cpython-311-x.so"
        source.write_text("")
        built.write_bytes(b"")
        older, newer = (built, source) if index == 0 else (source, built)
        os.utime(older, (1_000, 1_000))
        os.utime(newer, (2_000, 2_000))
        monkeypatch.setitem(sys.modules, name, Module(built))  # what import_module returns
    monkeypatch.setattr(extensions, "EXTENSION_SUFFIXES", [".so"])
    assert all(compiled_modules().values())
    assert stale_modules() == [HOT_MODULES[0]]
    assert hot_path() == f"compiled, stale: {HOT_MODULES[0]}"
    monkeypatch.setitem(sys.modules, HOT_MODULES[1], Module(tmp_path / "x.py"))
    assert hot_path().startswith("mixed")


# ---------------------------------------------------------------- scripts/compile.sh's outcomes
#
# A copy of the script in a stand-in tree with extensions "built" in it: what it removes, and
# its exit status when it cannot build (the full build runs in ./test.sh's compiled step).

ROOT = SOURCE.parents[3]
BUILT = (
    "src/quicko/relay/frames.cpython-311-x.so",
    "src/quicko/relay/native.cpython-311-x.so",
    "src/quicko/_client_hot__mypyc.cpython-311-x.so",
    "src/quicko/client/core.cpython-311-x.so",
    "src/quicko/crypto/ratchet.cpython-311-x.so",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "compile.sh", tmp_path / "scripts" / "compile.sh")
    for name in (*BUILT, "src/quicko/client/core.py", "src/quicko/relay/frames.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    shutil.copy(SOURCE, tmp_path / "src/quicko/client/compiled.py")
    # A Python with the headers but without mypyc.
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "Python.h").write_text("")
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *sysconfig*) echo "{tmp_path}/include" ;; *mypyc*) exit 1 ;;\n'
        f'  *) exec {sys.executable} "$@" ;; esac\n'
    )
    python.chmod(0o755)
    return tmp_path


def compile_sh(tree: Path, *args: str, python: str = "python") -> int:
    env = {**os.environ, "PYTHON": str(tree / python), "CC": "true"}
    done = subprocess.run(
        ["bash", str(tree / "scripts" / "compile.sh"), *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


def built(tree: Path) -> list[str]:
    return sorted(str(path.relative_to(tree)) for path in tree.rglob("*.so"))


def test_a_missing_prerequisite_exits_3_and_removes_nothing(tree: Path) -> None:
    assert compile_sh(tree) == 3
    assert built(tree) == sorted(BUILT)


def test_an_unknown_option_exits_2(tree: Path) -> None:
    assert compile_sh(tree, "--bogus") == 2
    assert built(tree) == sorted(BUILT)


def test_clean_removes_the_relay_and_client_extensions_without_python(tree: Path) -> None:
    assert compile_sh(tree, "--clean", python="no-such-python") == 0
    assert built(tree) == []
    assert (tree / "src/quicko/client/core.py").is_file()
