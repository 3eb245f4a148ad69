"""quicko.protocol.frozen.direct_init: the same records as the dataclass's own __init__."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicko.client import events as te
from quicko.client import models as m
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.protocol import Ack, Message
from quicko.protocol.frozen import direct_init
from quicko.session import envelope as env
from quicko.session import events as ev

_ids = st.binary(min_size=16, max_size=16)
_any_id = st.binary(max_size=20)  # ChatMessage refuses ids that are not 16 bytes: both ways
_addresses = st.binary(min_size=32, max_size=32)
_statuses = st.sampled_from(list(DeliveryStatus))

# Every class given direct_init, with what its fields take (positionally).
_CASES: dict[type[Any], st.SearchStrategy[tuple[Any, ...]]] = {
    ChatMessage: st.tuples(
        _any_id, _ids, _addresses, st.text(), st.text(), st.integers(), st.booleans(), _statuses
    ),
    m.MessageReceived: st.tuples(
        st.text(),
        st.builds(
            ChatMessage,
            _ids,
            _ids,
            _addresses,
            st.text(),
            st.text(),
            st.integers(),
            st.booleans(),
            _statuses,
        ),
    ),
    m.StatusChanged: st.tuples(st.text(), st.text(), _statuses, st.text()),
    ev.MessageReceived: st.tuples(_ids, _addresses, st.text(), st.text(), st.integers()),
    ev.StatusChanged: st.tuples(_ids, _statuses, st.text()),
    Message: st.tuples(_ids, _addresses, _addresses, _ids, st.integers(), st.binary()),
    Ack: st.tuples(_ids, _addresses, _addresses, _ids, st.integers(0, 255)),
    te.MessageReceived: st.tuples(st.builds(Ack, _ids, _addresses, _addresses, _ids, st.just(0))),
    env.Text: st.tuples(st.text()),
}


def _general(cls: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    record = object.__new__(cls)
    cls.__init__.__wrapped__(record, *args, **kwargs)
    return record


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        return "ok", build()
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("cls", list(_CASES), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
@given(data=st.data())
def test_direct_init_builds_what_the_dataclass_builds(cls: type[Any], data: st.DataObject) -> None:
    args = data.draw(_CASES[cls])
    names = [field.name for field in dataclasses.fields(cls)]
    # Positional, by keyword, and with trailing defaults left out where the class has them.
    cut = data.draw(st.integers(0, len(args)))
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (args, {}),
        ((), dict(zip(names, args, strict=True))),
        (args[:cut], dict(zip(names[cut:], args[cut:], strict=True))),
        (args[:-1], {}),  # the last field omitted: its default, or a TypeError both ways
    ]
    for call_args, call_kwargs in calls:
        fast = _outcome(lambda: cls(*call_args, **call_kwargs))  # noqa: B023
        general = _outcome(lambda: _general(cls, call_args, call_kwargs))  # noqa: B023
        assert fast[0] == general[0]
        if fast[0] != "ok":
            # The same error (TypeError messages name the same function and argument).
            assert fast[1].split("() ", 1)[-1] == general[1].split("() ", 1)[-1]
            continue
        built, expected = fast[1], general[1]
        assert type(built) is cls
        assert built == expected and hash(built) == hash(expected)
        assert repr(built) == repr(expected)
        assert [getattr(built, name) for name in names] == [
            getattr(expected, name) for name in names
        ]
        assert pickle.loads(pickle.dumps(built)) == built
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, names[0], None)


def test_direct_init_keeps_the_signature_and_the_general_init() -> None:
    for cls in _CASES:
        assert inspect.signature(cls.__init__) == inspect.signature(cls.__init__.__wrapped__)
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


def test_direct_init_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (NoSlots, NotFrozen, Factory, KeywordOnly, int):
        with pytest.raises(TypeError):
            direct_init(cls)
