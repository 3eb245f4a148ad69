from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import quicko.messaging as messaging
from quicko.client.compiled import is_compiled
from quicko.messaging.message import ChatMessage, new_message_id, short_id
from quicko.messaging.status import DeliveryStatus

MID = bytes.fromhex("00112233445566778899aabbccddeeff")
SID = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
SENDER = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")


def make(text: str = "attack at dawn", **changes: object) -> ChatMessage:
    message = ChatMessage(
        message_id=MID,
        session_id=SID,
        sender=SENDER,
        sender_name="Swift Falcon #7A3F",
        text=text,
        timestamp_ms=1_700_000_000_000,
        outgoing=True,
        status=DeliveryStatus.PENDING,
    )
    return dataclasses.replace(message, **changes)  # type: ignore[arg-type]  # test helper


def test_fields_and_immutability() -> None:
    message = make()
    assert message.message_id == MID
    assert message.text == "attack at dawn"
    assert message.status is DeliveryStatus.PENDING
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "other"  # type: ignore[misc]  # frozen on purpose


def test_with_status_returns_a_new_message() -> None:
    message = make()
    sent = message.with_status(DeliveryStatus.SENT)
    assert sent.status is DeliveryStatus.SENT
    assert message.status is DeliveryStatus.PENDING
    assert dataclasses.replace(sent, status=DeliveryStatus.PENDING) == message


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_message_id_must_be_16_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        make(message_id=bytes(size))


def test_repr_shows_lengths_and_short_ids_only() -> None:
    text = "attack at dawn"
    shown = repr(make(text))
    assert shown == (
        "ChatMessage(id=00112233…, session=a0a1a2a3…, sender=f0f1f2f3…, outgoing, "
        "status=PENDING, timestamp_ms=1700000000000, text=<14 chars>)"
    )
    assert str(make(text)) == shown
    assert MID.hex() not in shown
    assert "Falcon" not in shown
    assert "incoming" in repr(make(outgoing=False))


@given(st.text(min_size=1).filter(lambda t: t.strip() != ""))
def test_repr_never_contains_the_text(text: str) -> None:
    shown = repr(make(text))
    assert f"<{len(text)} chars>" in shown
    # The only variable part of the repr is the length: any text leaves the rest identical.
    assert shown == repr(make("x" * len(text)))


def test_new_message_id_takes_16_bytes_from_the_rng() -> None:
    calls: list[int] = []

    def rng(n: int) -> bytes:
        calls.append(n)
        return bytes(range(n))

    assert new_message_id(rng) == bytes(range(16))
    assert calls == [16]


def test_new_message_id_refuses_a_short_rng() -> None:
    with pytest.raises(ValueError, match="returned 8 bytes"):
        new_message_id(lambda n: bytes(8))


@pytest.mark.skipif(
    is_compiled("quicko.messaging.message"),
    reason="compiled (mypyc), the random source's declared result (bytes) is checked: a "
    "bytearray raises TypeError",
)
def test_new_message_id_copies_a_bytearray() -> None:
    result = new_message_id(bytearray)  # type: ignore[arg-type]  # a mutable buffer on purpose
    assert type(result) is bytes


def test_short_id() -> None:
    assert short_id(MID) == "00112233…"
    assert short_id(b"\x01\x02") == "0102"
    assert short_id(b"") == ""


def test_package_exports() -> None:
    for name in messaging.__all__:
        assert getattr(messaging, name) is not None
    assert messaging.ChatMessage is ChatMessage
