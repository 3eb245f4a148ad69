"""Issue 8's attacks on the client, run for real against a relay on loopback; each must fail.

- A call engineered to take over an existing chat (finding 1): the v2 offer that named the
  session id is refused, a v3 call gets its own derived id, and a call whose id would collide
  with a live session is refused. The chat keeps working throughout.
- A relay that forges ``PeerLeft(LEFT)`` (finding 6): the peer is only away, never forgotten.
- A relay that replays one member's MEMBER_INIT to another (finding 6): refused, and the real
  one still sets the pair up.
- A stranger with the nameplate (finding 3): it cannot answer a joiner in the creator's place,
  nor make an honest joiner fail; its wrong guesses do not burn the code.
- A relay whose clock is far off (finding 4): the client refuses its Challenge.

The tampering relays are the real :class:`~quicko.relay.router.Router` with a hook on the
actions it returns, injected through the ``start_relay(router=...)`` fixture.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable

import msgpack
import pytest
from client_helpers import expect_event
from client_support import Watcher, closing
from relay_support import RelayClient, StartRelay, relay_url

from quicko.client import (
    AsyncQuickoClient,
    ClientError,
    IncomingCall,
    MessageReceived,
    PeerLeft,
    SessionReady,
)
from quicko.client.connection import Connection, ConnectionSettings
from quicko.client.events import AttemptFailed, DisconnectReason
from quicko.identity import Identity
from quicko.protocol import (
    CallPeer,
    ErrorCode,
    KeyExchange,
    LeaveReason,
    Lobby,
    LobbyMessage,
    Message,
    decode_frame,
    encode_frame,
)
from quicko.protocol import Error as ErrorFrame
from quicko.protocol import Join as JoinFrame
from quicko.protocol import (
    PeerLeft as RelayPeerLeft,
)
from quicko.relay.actions import Action, Send
from quicko.relay.config import RelayConfig
from quicko.relay.router import Router
from quicko.session import HandshakeKeys, call_context, make_bundle
from quicko.session import calls as session_calls
from quicko.session.pake import PakeFail, encode_lobby_body

pytestmark = pytest.mark.integration

Hook = Callable[[list[Action]], list[Action]]


def untouched(actions: list[Action]) -> list[Action]:
    return actions


class TamperingRouter(Router):
    """The real router, whose outgoing actions a test rewrites (a malicious relay).

    ``hook`` may be switched at any time; ``skew_ms`` shifts the clock of its Challenges.
    """

    def __init__(self, config: RelayConfig, *, skew_ms: int = 0) -> None:
        super().__init__(config, node_id="test", rng=secrets.token_bytes)
        self.hook: Hook = untouched
        self.skew_ms = skew_ms

    def open(self, conn: int, now_ms: int, source: str = "") -> list[Action]:
        return self.hook(super().open(conn, now_ms + self.skew_ms, source))

    def receive(self, conn: int, data: bytes, now_ms: int) -> list[Action]:
        return self.hook(super().receive(conn, data, now_ms))

    def receive_fast(self, conn: int, data: bytes, now_ms: int) -> list[Action] | tuple[int, bytes]:
        return self.receive(conn, data, now_ms)  # every frame through the hook


async def tampering_relay(
    start_relay: StartRelay, *, skew_ms: int = 0
) -> tuple[str, TamperingRouter]:
    router = TamperingRouter(RelayConfig(host="127.0.0.1", port=0, node_id="test"),
                             skew_ms=skew_ms)  # fmt: skip
    server = await start_relay(router=router)
    return relay_url(server), router


def sends(actions: list[Action]) -> list[tuple[Send, object]]:
    """Each Send among ``actions`` with its decoded payload."""
    return [(a, decode_frame(a.data)) for a in actions if isinstance(a, Send)]


async def chat(url: str, bob: Identity | None = None) -> tuple[Watcher, Watcher, str]:
    """Alice creates a chat, Bob joins it: both authenticated."""
    alice, joiner = AsyncQuickoClient(url), AsyncQuickoClient(url, identity=bob)
    await alice.connect()
    await joiner.connect()
    created = await alice.create_session()
    assert created.invite_code is not None
    await joiner.join_session(created.invite_code)
    a, b = Watcher(alice, "alice"), Watcher(joiner, "bob")
    await a.wait(SessionReady)
    await b.wait(SessionReady)
    return a, b, created.session_id


def address_of(client: AsyncQuickoClient) -> bytes:
    return bytes.fromhex(client.identity_info.quickokey.removeprefix("QK-").replace("-", ""))


async def still_chatting(a: Watcher, b: Watcher, sid: str, text: str) -> None:
    """Both directions of the chat ``sid`` still work, under its id."""
    sent = await a.client.send_message(sid, text)
    got = await b.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
    assert got.session_id == sid and got.message.text == text
    back = await b.client.send_message(sid, text + " (reply)")
    got = await a.wait(MessageReceived, lambda e: e.message.message_id == back.message_id)
    assert got.session_id == sid


# ------------------------------------------------------------------ calls (finding 1)


async def test_a_call_cannot_take_over_an_existing_chat(
    start_relay: StartRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = relay_url(await start_relay())
    victim = Identity.generate(secrets.token_bytes)
    attacker = Identity.generate(secrets.token_bytes)
    a, b, sid = await chat(url, bob=victim)
    mallory = AsyncQuickoClient(url, identity=attacker)
    async with closing(a.client, b.client, mallory):
        await b.client.register_key()
        await mallory.connect()
        # 1. The v2 offer, [the chat's session id, a valid bundle]: refused outright.
        call_id = secrets.token_bytes(16)
        context = call_context(call_id, attacker.address, victim.address,
                               recipient=victim.address)  # fmt: skip
        bundle = make_bundle(attacker, HandshakeKeys.generate(secrets.token_bytes), context)
        offer = msgpack.packb([bytes.fromhex(sid), bundle.encode()], use_bin_type=True)
        await mallory.send_raw(
            encode_frame(CallPeer(call_id, attacker.address, victim.address, offer))
        )
        refused = await b.wait(ClientError, lambda e: "call" in e.message)
        assert "could not be authenticated" in refused.message
        assert not b.of(IncomingCall)
        # 2. A well-formed call, accepted: its session id is derived, never the chat's.
        dialling = asyncio.create_task(mallory.call(b.client.identity_info.quickokey))
        ring = await b.wait(IncomingCall)
        call = await b.client.answer_call(ring.call_id, accept=True)
        assert call is not None and call.session_id != sid
        await dialling
        assert {s.session_id for s in b.client.sessions()} == {sid, call.session_id}
        await still_chatting(a, b, sid, "still us")
        # 3. A call whose derived id is the chat's (a SHA-256 collision, simulated): refused;
        #    the chat is neither replaced nor disturbed.
        monkeypatch.setattr(session_calls, "call_session_id", lambda *_: bytes.fromhex(sid))
        rings = len(b.of(IncomingCall))
        colliding = asyncio.create_task(mallory.call(b.client.identity_info.quickokey, 3))
        reused = await b.wait(ClientError, lambda e: "reuse" in e.message)
        assert "session of ours" in reused.message and len(b.of(IncomingCall)) == rings
        colliding.cancel()
        await asyncio.gather(colliding, return_exceptions=True)
        await still_chatting(a, b, sid, "and still us")
        [kept] = [s for s in b.client.sessions() if s.session_id == sid]
        authenticated = [p.address for p in kept.peers if p.authenticated]
        assert authenticated == [address_of(a.client).hex()]


# ------------------------------------------------------------------ relay PeerLeft (finding 6)


async def test_a_forged_peer_left_does_not_remove_a_peer(start_relay: StartRelay) -> None:
    url, router = await tampering_relay(start_relay)
    a, b, sid = await chat(url)
    bob = address_of(b.client)
    forged: list[int] = []

    def forge_left(actions: list[Action]) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if isinstance(action, Send) and not forged:
                payload = decode_frame(action.data)
                if isinstance(payload, Message) and payload.sender == bob:
                    # Just before Bob's text reaches Alice: "Bob left" (he did not).
                    notice = RelayPeerLeft(payload.session_id, bob, int(LeaveReason.LEFT))
                    out.append(Send(action.conn, encode_frame(notice)))
                    forged.append(action.conn)
            out.append(action)
        return out

    async with closing(a.client, b.client):
        router.hook = forge_left
        sent = await b.client.send_message(sid, "I am still here")
        await a.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
        router.hook = untouched
        assert len(forged) == 1
        left = await a.wait(PeerLeft)
        assert left.reason == "away"  # not "left": only Bob's own LEAVE can say that
        [info] = a.client.sessions()
        assert [p.address for p in info.peers if p.authenticated] == [bob.hex()]
        assert a.client.safety_number(sid, bob.hex())  # keys and channel kept
        # What Alice writes waits for Bob to be shown again, then reaches him (no new keys).
        waiting = await a.client.send_message(sid, "are you there?")
        await b.client.disconnect()
        await b.client.connect()
        got = await b.wait(MessageReceived, lambda e: e.message.message_id == waiting.message_id)
        assert got.session_id == sid
        await still_chatting(a, b, sid, "nothing happened")


# ------------------------------------------------------------------ MEMBER_INIT (finding 6)


async def test_a_replayed_member_init_is_refused(start_relay: StartRelay) -> None:
    url, router = await tampering_relay(start_relay)
    carol_id = Identity.generate(secrets.token_bytes)
    captured: dict[str, bytes] = {}
    replayed: list[bytes] = []

    def replay(actions: list[Action]) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            payload = decode_frame(action.data) if isinstance(action, Send) else None
            if (
                isinstance(action, Send)
                and isinstance(payload, KeyExchange)
                and payload.sender == carol_id.address
            ):
                if "first" not in captured:
                    captured["first"] = payload.recipient
                    captured["frame"] = action.data
                elif payload.recipient != captured["first"] and not replayed:
                    # Carol's MEMBER_INIT for the first member, replayed to this one first.
                    old = decode_frame(captured["frame"])
                    assert isinstance(old, KeyExchange)
                    copy = dataclasses.replace(old, recipient=payload.recipient)
                    out.append(Send(action.conn, encode_frame(copy)))
                    replayed.append(payload.recipient)
            out.append(action)
        return out

    router.hook = replay
    a, b, sid = await chat(url)
    carol = Watcher(AsyncQuickoClient(url, identity=carol_id), "carol")
    dave = Watcher(AsyncQuickoClient(url), "dave")
    async with closing(a.client, b.client, carol.client, dave.client):
        await carol.client.connect()
        await dave.client.connect()
        [info] = a.client.sessions()
        code = info.invite_code
        assert code is not None
        await carol.client.join_session(code)
        await carol.until(lambda _: len(_authenticated(carol.client, sid)) == 2)
        await dave.client.join_session(code)
        await dave.until(lambda _: len(_authenticated(dave.client, sid)) == 3)
        # Dave refused the replay and set up his channel with Carol from her real MEMBER_INIT.
        sent = await carol.client.send_message(sid, "hello dave")
        got = await dave.wait(MessageReceived, lambda e: e.message.message_id == sent.message_id)
        assert got.message.text == "hello dave"
        assert replayed == [address_of(dave.client)]  # the replay did reach Dave, first
        back = await dave.client.send_message(sid, "hello carol")
        await carol.wait(MessageReceived, lambda e: e.message.message_id == back.message_id)


def _authenticated(client: AsyncQuickoClient, sid: str) -> list[str]:
    return [p.address for s in client.sessions() if s.session_id == sid
            for p in s.peers if p.authenticated]  # fmt: skip


# ------------------------------------------------------------------ the lobby (finding 3)


async def test_a_stranger_cannot_make_an_honest_joiner_fail(start_relay: StartRelay) -> None:
    url = relay_url(await start_relay())
    alice = Watcher(AsyncQuickoClient(url), "alice")
    bob = AsyncQuickoClient(url)
    async with closing(alice.client, bob):
        await alice.client.connect()
        await bob.connect()
        created = await alice.client.create_session()
        assert created.invite_code is not None
        nameplate, password = created.invite_code.split("-")
        wrong = nameplate + "-" + ("0000" if password != "0000" else "1111")
        # A stranger waits in the lobby too and tries to answer for the creator: it reaches
        # nobody but the owner, and the owner takes no PAKE_FAIL from a joiner.
        stranger = await RelayClient.connect(url)
        await stranger.send(JoinFrame(b"", nameplate))
        assert await stranger.expect(Lobby) == Lobby(nameplate)
        fail = encode_lobby_body(PakeFail(0))
        await stranger.send(LobbyMessage(nameplate, address_of(bob), fail))
        refused = await stranger.expect(ErrorFrame)
        assert refused.code == ErrorCode.NOT_PENDING
        await stranger.send(LobbyMessage(nameplate, b"", fail))  # to the owner: dropped
        # Three strangers guess wrong: the code survives (a short back-off, no retirement).
        for _ in range(3):
            guesser = AsyncQuickoClient(url)
            async with closing(guesser):
                await guesser.connect()
                with pytest.raises(Exception, match="wrong invite code"):
                    await guesser.join_session(wrong)
        joined = await bob.join_session(created.invite_code)
        assert joined.session_id == created.session_id
        assert [p.authenticated for p in joined.peers] == [True]
        await stranger.ws.close()


# ------------------------------------------------------------------ relay login (finding 4)


@pytest.mark.parametrize("skew_ms", [-300_000, 300_000])
async def test_a_challenge_from_a_skewed_clock_is_refused(
    start_relay: StartRelay, skew_ms: int
) -> None:
    url, _ = await tampering_relay(start_relay, skew_ms=skew_ms)
    settings = ConnectionSettings(max_reconnect_attempts=0, backoff_initial=0.01)
    async with Connection(url, Identity.generate(secrets.token_bytes), settings=settings) as conn:
        failed, _ = await expect_event(conn, AttemptFailed)
        assert failed.reason is DisconnectReason.CLOCK_SKEW
        side = "ahead of" if skew_ms > 0 else "behind"
        assert f"300 s {side} ours" in failed.detail


async def test_a_challenge_within_the_bound_is_accepted(start_relay: StartRelay) -> None:
    url, _ = await tampering_relay(start_relay, skew_ms=90_000)
    client = AsyncQuickoClient(url)
    async with closing(client):
        await client.connect()
        assert client.connection_state == "connected"
