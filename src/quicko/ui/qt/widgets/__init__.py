"""The widgets of the desktop app, each usable and testable on its own.

Widgets take plain values (strings, numbers, :class:`~quicko.messaging.ChatMessage`) and report
what the user asked for with Qt signals; they never talk to the client. The main window
(:mod:`quicko.ui.qt.main_window`) wires them to the shared model and the client bridge.
"""

from __future__ import annotations

__all__: list[str] = []
