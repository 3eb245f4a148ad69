"""The words both apps show (quicko.client.wording)."""

from __future__ import annotations

from quicko.client.wording import plain_reason, replace_question


def test_plain_reasons() -> None:
    assert plain_reason("cannot connect: ConnectionRefusedError") == "connection refused"
    assert plain_reason("cannot connect: gaierror") == "host name not found"
    assert plain_reason("cannot connect: SSLCertVerificationError") == (
        "TLS certificate not trusted"
    )
    assert plain_reason("cannot connect: SSLError") == "TLS failed"
    assert plain_reason("cannot connect: InvalidMessage") == "cannot connect (InvalidMessage)"
    assert plain_reason("relay error SHUTTING_DOWN: shutting down") == "shutting down"
    assert plain_reason("handshake_timeout") == "handshake timeout"


def test_nothing_is_asked_when_nothing_is_lost() -> None:
    assert replace_question(open_chats=0, long_term=False, words_written=False) is None
    assert replace_question(open_chats=0, long_term=True, words_written=True) is None


def test_the_question_says_what_is_lost() -> None:
    assert replace_question(open_chats=0, long_term=True, words_written=False) == (
        "Replace your QuickoKey?",
        "This key is gone unless you wrote down its 16 words.",
    )
    assert replace_question(open_chats=2, long_term=False, words_written=False) == (
        "Replace your identity?",
        "Your 2 open chats will close and this temporary identity is gone for good.",
    )
