"""``quicko session`` as subprocesses, talking through a ``quicko relay`` subprocess.

Every read of a subprocess's output is bounded by a timeout; the processes are killed if a test
fails half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from client_helpers import stop_relay
from client_support import Watcher
from relay_support import RelayProcess, spawn_relay

from quicko.client import AsyncQuickoClient
from quicko.errors import SessionError
from quicko.identity import Identity

pytestmark = pytest.mark.integration

LINE_TIMEOUT_S = 15.0
Record = dict[str, Any]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without QUICKO_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKO_")}
    env.update(extra)
    return env


@dataclass
class SessionProcess:
    """A running ``quicko session`` with its standard streams."""

    process: asyncio.subprocess.Process
    records: list[Record]

    async def record(self, where: Callable[[Record], bool]) -> Record:
        """The first JSON line (so far or to come) for which ``where`` holds."""
        assert self.process.stdout is not None
        async with asyncio.timeout(LINE_TIMEOUT_S):
            while True:
                found = next((r for r in self.records if where(r)), None)
                if found is not None:
                    return found
                line = await self.process.stdout.readline()
                assert line, f"the process ended; stderr: {await self.stderr()}"
                self.records.append(json.loads(line))

    async def say(self, text: str) -> None:
        """Write one line to its standard input."""
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self) -> int:
        """Close its standard input (EOF) and wait for it to exit; read the rest of its output."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        rest = await asyncio.wait_for(self.process.stdout.read(), LINE_TIMEOUT_S)
        self.records += [json.loads(line) for line in rest.decode().splitlines() if line]
        return await asyncio.wait_for(self.process.wait(), LINE_TIMEOUT_S)

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await asyncio.wait_for(self.process.stderr.read(), LINE_TIMEOUT_S)).decode()


@contextlib.asynccontextmanager
async def session_process(
    *args: str, env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
) -> AsyncIterator[SessionProcess]:
    """Run ``python -m quicko session ARGS --json``; kill it if the block fails."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quicko", "session", *args, "--json",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env or clean_env(), pass_fds=pass_fds,
    )  # fmt: skip
    try:
        yield SessionProcess(process, [])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def relay_process() -> AsyncIterator[RelayProcess]:
    relay = await spawn_relay()
    try:
        yield relay
    finally:
        await stop_relay(relay)


def is_event(name: str, **fields: object) -> Callable[[Record], bool]:
    return lambda r: r["event"] == name and all(r.get(k) == v for k, v in fields.items())


async def test_two_session_processes_chat_through_a_relay_process() -> None:
    async with relay_process() as relay:
        url = f"ws://127.0.0.1:{relay.port}"
        async with session_process("create", "--relay", url) as creator:
            invite = await creator.record(is_event("invite"))
            async with session_process("join", invite["code"], "--relay", url) as joiner:
                await joiner.say("hello from the joiner")
                got = await creator.record(is_event("message", text="hello from the joiner"))
                sent = await joiner.record(is_event("sent", text="hello from the joiner"))
                assert got["message_id"] == sent["message_id"]
                await joiner.record(
                    is_event("status", message_id=sent["message_id"], status="read")
                )
                await creator.say("hi back, ünïcödé")
                back = await joiner.record(is_event("message", text="hi back, ünïcödé"))
                numbers = {r["safety_number"] for p in (creator, joiner) for r in p.records
                           if r["event"] == "safety_number"}  # fmt: skip
                assert len(numbers) == 1
                assert await joiner.finish() == 0
                assert back["session_id"] == invite["session_id"]
            await creator.record(is_event("peer_left", reason="left"))
            assert await creator.finish() == 0


async def test_listen_declines_in_json_and_accepts_all() -> None:
    identity = Identity.generate(os.urandom)
    phrase = " ".join(identity.seed_phrase)
    async with relay_process() as relay:
        url = f"ws://127.0.0.1:{relay.port}"
        caller = AsyncQuickoClient(url)
        await caller.connect()
        try:
            env = clean_env(QUICKO_SEED_PHRASE=phrase)
            async with session_process("listen", "--relay", url, env=env) as listener:
                await listener.record(is_event("listening", quickokey=identity.quickokey))
                with pytest.raises(SessionError, match="declined"):
                    await caller.call(identity.quickokey, timeout=10)
                ring = await listener.record(is_event("incoming_call"))
                assert ring["accepted"] is False
                assert await listener.finish() == 0
            read_end, write_end = os.pipe()
            os.write(write_end, phrase.encode())
            os.close(write_end)
            args = ("listen", "--accept-all", "--seed-fd", str(read_end), "--relay", url)
            async with session_process(*args, pass_fds=(read_end,)) as listener:
                os.close(read_end)
                await listener.record(is_event("listening"))
                info = await caller.call(identity.quickokey, timeout=10)
                await listener.record(is_event("incoming_call", accepted=True))
                await Watcher(caller).until(lambda ev: caller.sessions()[0].state == "chatting")
                await caller.send_message(info.session_id, "ring ring")
                await listener.record(is_event("message", text="ring ring"))
                assert await listener.finish() == 0
        finally:
            await caller.disconnect()


async def test_errors_go_to_stderr_with_a_status() -> None:
    async with session_process(
        "join", "KBQW-E3T7", "--relay", "ws://127.0.0.1:9", "--connect-timeout", "0.5"
    ) as proc:
        assert await proc.finish() == 1
        assert "(connection refused)" in await proc.stderr()  # at once, not after the timeout
    async with session_process("join", "not-a-code", "--relay", "ws://127.0.0.1:9") as proc:
        assert await proc.finish() == 2
        assert "invite code" in await proc.stderr()
    env = clean_env(QUICKO_SEED_PHRASE="abandon ability nonsenseword")
    async with session_process("listen", env=env) as proc:
        assert await proc.finish() == 2
        assert "16 words" in await proc.stderr()
