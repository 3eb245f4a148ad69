"""The client's hot modules compiled with mypyc (docs/performance.md "Client compiled path").

``scripts/compile.sh`` builds :data:`quicko.client.compiled.HOT_MODULES` as one mypyc group: an
extension beside each source and the group's shared library. The test suite runs the pure-Python
path by default (nothing is compiled in a fresh clone), so the tests marked ``compiled`` below
skip there, with the reason; in ``./test.sh``'s compiled step they check that the extensions are
what the client runs, and that two real clients on them chat through a real relay. (The client's
unit and integration tests run again in that step, on the compiled modules.) The last test runs
on both paths: ``quicko bench client`` says which one it measured.
"""

from __future__ import annotations

import sys
import types

import pytest
from client_support import chat_pair, closing
from relay_support import relay_url

from quicko.bench.clientrun import client_machine_info
from quicko.client import DeliveryStatus, MessageReceived, StatusChanged
from quicko.client import core as client_core
from quicko.client.compiled import GROUP, HOT_MODULES, compiled_modules, hot_path
from quicko.crypto import ratchet
from quicko.relay.server import RelayServer
from quicko.session import session

pytestmark = pytest.mark.integration

_COMPILED = all(compiled_modules().values())
compiled = pytest.mark.skipif(
    not _COMPILED,
    reason="the client's hot modules are not compiled (pure Python, the default): "
    "run scripts/compile.sh (mypyc) to test the compiled ones",
)


@compiled
def test_the_hot_modules_are_the_compiled_extensions() -> None:
    assert set(compiled_modules()) == set(HOT_MODULES)
    assert hot_path() == "compiled"
    for name in HOT_MODULES:
        assert not (sys.modules[name].__file__ or "").endswith(".py"), name
    # One group: the modules share one library, loaded once.
    assert f"{GROUP}__mypyc" in sys.modules
    # Compiled functions and methods are builtins, not Python functions with bytecode.
    assert not isinstance(client_core.ClientCore.send_text, types.FunctionType)
    assert not isinstance(session.Session.receive, types.FunctionType)
    assert not isinstance(ratchet.DoubleRatchet.encrypt, types.FunctionType)


@compiled
async def test_two_clients_on_the_compiled_modules_chat_to_read(relay: RelayServer) -> None:
    a, b, created, _ = await chat_pair(relay_url(relay))
    async with closing(a.client, b.client):
        sid = created.session_id
        sent = [await a.client.send_message(sid, f"hello {n}") for n in range(20)]
        expected = {f"hello {n}" for n in range(20)}
        await b.until(lambda _: {e.message.text for e in b.of(MessageReceived)} == expected or None)
        await b.client.mark_read(sid, [message.message_id.hex() for message in sent])
        ids, read = {message.message_id.hex() for message in sent}, DeliveryStatus.READ
        await a.until(
            lambda _: {e.message_id for e in a.of(StatusChanged) if e.status == read} == ids or None
        )
        assert {m.status for m in a.client.messages(sid)} == {read}


def test_the_client_benchmark_reports_which_path_it_measured() -> None:
    machine = client_machine_info(None, None)
    assert machine["client_path"] == hot_path()
    assert machine["client_path"] == ("compiled" if _COMPILED else "python")
