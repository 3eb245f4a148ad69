"""The terminal app, headless, against a real relay: identities and calls by QuickoKey.

Generate a QuickoKey (its words hidden until asked, with the only-backup warning), register
it and accept a call from a second real client; call that client's QuickoKey; recover an
identity from its words, with word-level errors on the way.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from textual.widgets import Input, Static
from tui_support import SIZE, expect_event, fast_client, relay_on, screenshot, url_of, wait_for

from quicko.client import IncomingCall, MessageReceived, SessionReady
from quicko.errors import SessionError
from quicko.identity import Identity
from quicko.tui.app import QuickoApp
from quicko.tui.screens import ConfirmScreen, FormScreen, IdentityScreen, IncomingCallScreen
from quicko.tui.screens.identity import BACKUP_WARNING

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def ringing(app: QuickoApp) -> bool:
    return isinstance(app.screen, IncomingCallScreen)


def written(app: QuickoApp) -> bool:
    return app.words_written


def connected(app: QuickoApp) -> bool:
    return app.presenter.connection.state == "connected"


async def test_generate_register_and_accept_a_call() -> None:
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        caller = fast_client(url_of(relay))
        await caller.connect()
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: connected(app), "connected")
                ephemeral = app.client.identity_info.quickokey
                await pilot.press("ctrl+y")
                dialog = app.screen
                assert isinstance(dialog, IdentityScreen)
                assert "ephemeral" in str(dialog.query_one("#identity-summary", Static).content)

                await pilot.press("g")
                await wait_for(pilot, lambda: app.client.identity_info.seed_phrase, "a QuickoKey")
                await wait_for(pilot, lambda: not dialog.busy, "generate done")
                info = app.client.identity_info
                assert info.quickokey != ephemeral
                assert "hidden" in dialog.seed_text
                assert not any(word in dialog.seed_text.split() for word in info.seed_phrase)
                await screenshot(pilot, "identity")  # the words stay hidden in screenshots
                await pilot.press("s")
                assert all(word in dialog.seed_text for word in info.seed_phrase)
                assert BACKUP_WARNING in str(dialog.query_one("#identity-warning", Static).content)
                await pilot.press("s")
                assert "hidden" in dialog.seed_text

                await wait_for(pilot, lambda: connected(app), "reconnected as the QuickoKey")
                await pilot.press("e")
                await wait_for(pilot, lambda: app.registered, "registered", timeout=10)
                await pilot.press("escape")

                declined = asyncio.create_task(caller.call(info.quickokey, timeout=20))
                await wait_for(pilot, lambda: ringing(app), "the first call")
                await pilot.press("d")
                with pytest.raises(SessionError):
                    await asyncio.wait_for(declined, 20)
                await wait_for(pilot, lambda: app.screen is app.main_screen, "declined")
                assert len(app.book) == 0

                call = asyncio.create_task(caller.call(info.quickokey, timeout=20))
                await wait_for(pilot, lambda: ringing(app), "the second call")
                incoming = app.screen
                assert isinstance(incoming, IncomingCallScreen)
                assert incoming.call.display_name == caller.identity_info.display_name
                await screenshot(pilot, "incoming-call")
                await pilot.press("a")
                session = await asyncio.wait_for(call, 20)
                await wait_for(pilot, lambda: app.book.active_chat is not None, "the call chat")
                chat = app.book.active_chat
                assert chat is not None and chat.session_id == session.session_id
                assert chat.role == "callee"
                await wait_for(pilot, lambda: chat.encrypted, "an encrypted call")
                assert "end-to-end encrypted" in app.main_screen.status_line.plain
        finally:
            await caller.disconnect()


async def test_call_a_quickokey_that_accepts() -> None:
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        callee = fast_client(url_of(relay), Identity.generate(secrets.token_bytes))
        await callee.connect()
        await callee.register_key()
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: connected(app), "connected")
                await pilot.press("ctrl+t")
                form = app.screen
                assert isinstance(form, FormScreen)
                field = form.query_one("#field", Input)
                field.value = "QK-12"
                await pilot.pause()
                assert "expected 32 hexadecimal digits" in form.problem
                field.value = callee.identity_info.quickokey.lower()
                await pilot.pause()
                assert form.problem == ""
                await pilot.press("enter")
                incoming = await expect_event(callee, IncomingCall)
                assert incoming.display_name == app.client.identity_info.display_name
                await callee.answer_call(incoming.call_id, accept=True)
                await wait_for(pilot, lambda: app.screen is app.main_screen, "the dialog closed")
                chat = app.book.active_chat
                assert chat is not None and chat.role == "caller"
                await wait_for(pilot, lambda: chat.encrypted, "an encrypted call")
                await expect_event(callee, SessionReady)

                await pilot.press(*"hey")
                await pilot.press("enter")
                received = await expect_event(callee, MessageReceived)
                assert received.message.text == "hey"
                assert received.message.sender_name == app.client.identity_info.display_name
        finally:
            await callee.disconnect()


async def test_recover_an_identity_from_words() -> None:
    # A fixed root (§6.2) whose every swap of two words fails the checksum (a random root's
    # swap of words 1 and 2 passes it once in about 128 roots: equal bytes, or a lucky byte).
    known = Identity.from_root(bytes([*range(15), 0xAE]))
    words = known.seed_phrase
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: connected(app), "connected")
            await pilot.press("ctrl+y")
            await pilot.press("r")
            form = app.screen
            assert isinstance(form, FormScreen)
            field = form.query_one("#field", Input)

            await pilot.press(*words[0], "space")
            assert form.problem == "1 of 16 words"
            await pilot.press(*"qqqq", "space")
            assert "word 2 'qqqq' is not in the word list" in form.problem

            typo = [*words[:6], "zzzzzz", *words[7:]]
            field.value = " ".join(typo)
            await pilot.pause()
            assert "word 7 'zzzzzz' is not in the word list" in form.problem
            assert f" 1. {words[0]}" in form.detail and "zzzzzz    ✗" in form.detail
            field.value = " ".join([*words[:6], "zzzzzz", "abandn", *words[8:]])
            await pilot.pause()
            assert "word 8: did you mean abandon, brand?" in form.detail
            field.value = " ".join(typo)
            await pilot.pause()
            await pilot.press("enter")
            assert form.is_current  # not submitted
            await screenshot(pilot, "recover-error")

            # Issue 12, item 6: two swapped words are refused (the checksum, §6.2) and the
            # phrase stays, so one word is fixed without retyping the others.
            field.value = " ".join([words[1], words[0], *words[2:]])
            await pilot.pause()
            assert "not a valid QuickoKey phrase" in form.problem
            await pilot.press("enter")
            assert form.is_current
            await screenshot(pilot, "recover-checksum")

            field.value = " ".join(word[:4] for word in words)  # four letters are enough
            await pilot.pause()
            assert form.problem == ""
            await pilot.press("enter")
            await wait_for(pilot, lambda: not form.is_current, "the recover dialog closed")
            info = app.client.identity_info
            assert info.quickokey == known.quickokey
            assert info.seed_phrase == tuple(words)
            identity = app.screen
            assert isinstance(identity, IdentityScreen)
            assert known.quickokey in str(identity.query_one("#identity-summary", Static).content)
            assert "hidden" in identity.seed_text
            await pilot.press("escape")
            title = str(app.main_screen.query_one("#title-bar", Static).content)
            assert known.quickokey in title and known.display_name in title
            await wait_for(pilot, lambda: connected(app), "reconnected as the recovered identity")


async def test_replacing_the_identity_asks_first_when_it_would_lose_something() -> None:
    # Issue 12, item 2: `g` closed every chat at once, and a second `g` silently replaced a
    # QuickoKey whose words were not written down.
    async with relay_on() as relay:
        app = QuickoApp(fast_client(url_of(relay)))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: connected(app), "connected")
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: len(app.book) == 1, "a chat")
            ephemeral = app.client.identity_info.quickokey
            await pilot.press("ctrl+y")
            identity = app.screen
            assert isinstance(identity, IdentityScreen)

            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "a question")
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            assert question.title_text == "Replace your identity?"
            assert question.text == (
                "Your 1 open chat will close and this temporary identity is gone for good."
            )
            await screenshot(pilot, "confirm-replace")
            await pilot.press("enter")  # Cancel has the focus: Enter never replaces
            await wait_for(pilot, lambda: app.screen is identity, "back, nothing replaced")
            assert app.client.identity_info.quickokey == ephemeral and len(app.book) == 1

            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
            await pilot.press("y")
            await wait_for(pilot, lambda: app.client.identity_info.seed_phrase, "a QuickoKey")
            await wait_for(pilot, lambda: not identity.busy, "generated")
            assert len(app.book) == 0
            first = app.client.identity_info.quickokey

            await pilot.press("g")  # a second g: the new key's words are not written down
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked")
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            assert question.title_text == "Replace your QuickoKey?"
            assert question.text == "This key is gone unless you wrote down its 16 words."
            await pilot.press("n")
            await wait_for(pilot, lambda: app.screen is identity, "kept")
            assert app.client.identity_info.quickokey == first

            await pilot.press("w")  # not while the words are hidden
            assert not app.words_written and "Press s" in identity.problem
            await pilot.press("s", "w")
            assert written(app)
            assert "written down ✓" in str(identity.query_one("#identity-summary", Static).content)
            await pilot.press("g")  # nothing would be lost now: no question
            await wait_for(pilot, lambda: app.client.identity_info.quickokey != first, "replaced")
            assert app.screen is identity and not written(app)
