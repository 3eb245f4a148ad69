"""Fixtures of the adversarial tests: attacks run against a real relay on 127.0.0.1.

Each test runs one attack of issue 9 (or issue 10 item 6) for a bounded time and asserts the
bound the relay promises (docs/relay.md, "Capacity"). The relay runs as a subprocess
(``python -m quicko relay``) when its memory is measured, so that its RSS is its own, and in
process otherwise. The clients are the integration tests' (``relay_support``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from relay_support import drop_open_clients  # found through the line above


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Run the adversarial tests on uvloop, the relay's production event loop."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
def _drop_clients() -> Any:
    """Abort every test client left open by a test (also after a failure)."""
    yield
    drop_open_clients()
