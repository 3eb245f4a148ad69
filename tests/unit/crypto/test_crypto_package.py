"""Tests of the quicko.crypto package surface: exports, random source type, no I/O imports."""

from __future__ import annotations

import ast
import secrets
from pathlib import Path

import quicko.crypto
from quicko.crypto import RandomSource, X25519KeyPair

PACKAGE_DIR = Path(quicko.crypto.__file__).parent
FORBIDDEN = {"asyncio", "socket", "threading", "selectors", "ssl", "subprocess", "os", "random"}


def test_all_names_exist() -> None:
    for name in quicko.crypto.__all__:
        assert hasattr(quicko.crypto, name), name
    assert sorted(quicko.crypto.__all__) == sorted(set(quicko.crypto.__all__))


def test_every_module_declares_all() -> None:
    for path in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert "__all__" in names, path.name


def test_no_io_or_os_randomness_imports() -> None:
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & (FORBIDDEN | {"secrets"}), (path.name, roots)


def test_secrets_token_bytes_is_a_random_source() -> None:
    rng: RandomSource = secrets.token_bytes
    assert len(X25519KeyPair.generate(rng).public) == 32
