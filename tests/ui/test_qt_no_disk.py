"""The desktop app writes nothing to disk: no settings, no caches, no logs (DESIGN.md §1).

A child process runs the window offscreen through every view (session with an invite code and
its QR code, a chat with messages, the identity panel with the seed phrase shown, clipboard
copies, screenshots grabbed in memory), with ``HOME``, the XDG directories and the working
directory pointing at empty folders; afterwards they must still be empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

pytestmark = pytest.mark.ui

SCRIPT = r"""
import asyncio
import os
from PySide6.QtWidgets import QApplication
from quicko.client import models as m
from quicko.identity import Identity
from quicko.messaging import ChatMessage, DeliveryStatus
from quicko.ui.qt.app import ensure_application
from quicko.ui.qt.bridge import ClientBridge
from quicko.ui.qt.main_window import MainWindow

known = Identity.from_root(bytes([*range(15), 0xAE]))  # a root with its checksum (§6.2)

class Client:
    relay_url = "ws://127.0.0.1:9"
    identity_info = m.QuickoKeyInfo(known.public.quickokey, known.public.display_name,
                                    tuple(known.seed_phrase), "00", "00")
    async def next_event(self): await asyncio.Event().wait()
    async def disconnect(self): pass

app = ensure_application()
window = MainWindow(ClientBridge(Client()))
window.show()
peer = m.PeerInfo("ab" * 16, "Swift Falcon #7A3F", True, "12345", False)
chat = window.open_chat(m.SessionInfo("5e" * 16, "KBQW-E3TV", "creator", (peer,)))
assert chat is not None
window.session_panel.show_invite("KBQW-E3TV")
window.session_panel.copy_invite_code()
for number, outgoing in enumerate((True, False)):
    window.show_message(chat.chat_id, ChatMessage(
        number.to_bytes(16, "big"), b"\x01" * 16, b"\x02" * 16, "Swift Falcon #7A3F",
        "secret text", 1_700_000_000_000, outgoing, DeliveryStatus.DELIVERED))
for view in (window.session_panel, window.views[chat.chat_id], window.identity_panel):
    window.stack.setCurrentWidget(view)
    app.processEvents()
    assert not window.grab().isNull()
window.identity_panel.show_seed_button.click()
window.identity_panel.copy_quickokey()
app.processEvents()
window.close()
app.processEvents()
print("ok")
"""


def test_the_app_writes_nothing_to_disk(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "QUICKO_")) and key != "HOME"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        QT_QPA_PLATFORM="offscreen",
        PYTHONDONTWRITEBYTECODE="1",
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*"))
    assert written == ["cwd", "home", "runtime"]
