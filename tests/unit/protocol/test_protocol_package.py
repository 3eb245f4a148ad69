"""The package ``quicko.protocol`` loads its names on first use (start-up time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import quicko.protocol
from quicko.protocol import auth, codec, constants, payloads, types


def test_every_exported_name_is_the_object_of_its_module() -> None:
    modules = (auth, codec, constants, payloads, types)
    for name in quicko.protocol.__all__:
        value = getattr(quicko.protocol, name)
        assert any(vars(module).get(name) is value for module in modules), name
    assert set(quicko.protocol.__all__) <= set(dir(quicko.protocol))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = quicko.protocol.Nothing  # type: ignore[attr-defined]  # the point of the test


def test_importing_one_module_does_not_load_the_payloads() -> None:
    code = "import json, sys, quicko.protocol.auth; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    modules = set(json.loads(done.stdout))
    assert "quicko.protocol.auth" in modules
    assert "quicko.protocol.payloads" not in modules
    assert "quicko.protocol.codec" not in modules
