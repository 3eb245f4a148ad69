"""The terminal app's dark theme: the four Quicko colours and the app's stylesheet.

The palette is the desktop app's (DESIGN.md §9): background ``#1a1a2e``, panels ``#16213e``,
highlights ``#0f3460`` and the accent ``#e94560``. :data:`QUICKO_THEME` hands the colours to
Textual's built-in widgets (inputs, buttons, the footer); :data:`APP_CSS` lays out and colours
our own widgets. The stylesheet is a Python string, so no file is read or watched at run time.
"""

from __future__ import annotations

from typing import Final

from textual.theme import Theme

__all__ = [
    "ACCENT",
    "APP_CSS",
    "BACKGROUND",
    "ERROR",
    "HIGHLIGHT",
    "MUTED",
    "PANEL",
    "QUICKO_THEME",
    "SUCCESS",
    "TEXT",
    "WARNING",
]

BACKGROUND: Final = "#1a1a2e"
"""The window background."""
PANEL: Final = "#16213e"
"""Sidebar, header, status line and dialogs."""
HIGHLIGHT: Final = "#0f3460"
"""Selected chat, our own messages, input fields."""
ACCENT: Final = "#e94560"
"""Focus, unread badges, read ticks, key hints."""
TEXT: Final = "#eaeaea"
"""Body text."""
MUTED: Final = "#8b8fa3"
"""Secondary text: times, system lines, hints."""
SUCCESS: Final = "#4ecca3"
"""Connected, verified, end-to-end encrypted."""
WARNING: Final = "#f0a500"
"""Connecting, not yet encrypted."""
ERROR: Final = "#ff6b6b"
"""Disconnected, failed messages, input errors."""

QUICKO_THEME: Final = Theme(
    name="quicko-dark",
    primary=HIGHLIGHT,
    secondary=PANEL,
    accent=ACCENT,
    foreground=TEXT,
    background=BACKGROUND,
    surface=PANEL,
    panel=HIGHLIGHT,
    success=SUCCESS,
    warning=WARNING,
    error=ERROR,
    dark=True,
)
"""The Textual theme built from the Quicko palette."""

APP_CSS: Final = f"""
Screen {{ background: {BACKGROUND}; color: {TEXT}; }}

#title-bar {{ height: 1; background: {PANEL}; color: {TEXT}; padding: 0 1; }}
#body {{ height: 1fr; }}
#status-line {{ height: 1; background: {PANEL}; padding: 0 1; border-top: none; }}
Footer {{ background: {PANEL}; }}
Footer FooterKey .footer-key--key {{ color: {ACCENT}; background: {PANEL}; }}
Footer FooterKey .footer-key--description {{ color: {TEXT}; background: {PANEL}; }}

#sidebar {{ width: 32; background: {PANEL}; border-right: vkey {HIGHLIGHT}; }}
#sidebar-title {{ padding: 0 1; color: {MUTED}; text-style: bold; }}
ChatList {{ background: {PANEL}; height: 1fr; }}
ChatList > ChatListItem {{ background: {PANEL}; padding: 0 1; height: 2; }}
ChatList > ChatListItem.-highlight {{ background: {HIGHLIGHT}; }}
ChatList:focus > ChatListItem.-highlight {{ background: {HIGHLIGHT}; border-left: outer {ACCENT}; }}
ChatListItem .chat-name {{ color: {TEXT}; }}
ChatListItem .chat-detail {{ color: {MUTED}; }}

#main {{ width: 1fr; }}
#welcome {{ padding: 1 2; }}

ChatView {{ height: 1fr; }}
#chat-header {{ height: auto; background: {PANEL}; padding: 0 1; }}
#invite-banner {{ height: auto; background: {HIGHLIGHT}; padding: 0 1; margin: 0 0 1 0; }}
#invite-banner.-hidden {{ display: none; }}
MessageLog {{ height: 1fr; padding: 0 1; }}
MessageRow {{ height: auto; margin: 0 0 1 0; }}
MessageRow .bubble {{ width: auto; max-width: 80%; height: auto; padding: 0 1; }}
MessageRow.-outgoing {{ align-horizontal: right; }}
MessageRow.-outgoing .bubble {{ background: {HIGHLIGHT}; }}
MessageRow.-incoming .bubble {{ background: {PANEL}; }}
SystemRow {{ height: auto; color: {MUTED}; text-style: italic; content-align: center middle;
            width: 100%; margin: 0 0 1 0; }}
SystemRow.-warning {{ color: {WARNING}; text-style: bold; }}
#composer-box {{ dock: bottom; height: auto; width: 100%; padding: 0 1; }}
#composer {{ height: auto; min-height: 1; max-height: 8; border: tall {HIGHLIGHT};
            background: {BACKGROUND}; }}
#composer:focus {{ border: tall {ACCENT}; }}
#composer-hint {{ height: auto; color: {MUTED}; padding: 0 1; }}

ModalScreen {{ align: center middle; background: {BACKGROUND} 70%; }}
.dialog {{ width: 76; height: auto; max-height: 90%; background: {PANEL};
          border: thick {ACCENT}; padding: 1 2; }}
.dialog-title {{ color: {ACCENT}; text-style: bold; margin: 0 0 1 0; }}
.dialog Input {{ border: tall {HIGHLIGHT}; background: {BACKGROUND}; }}
.dialog Input:focus {{ border: tall {ACCENT}; }}
.dialog ListView {{ height: auto; max-height: 16; background: {PANEL}; }}
.dialog ListItem {{ padding: 0 1; margin: 1 0 0 0; }}
.hint {{ color: {MUTED}; }}
.error {{ color: {ERROR}; }}
.ok {{ color: {SUCCESS}; }}
.warning {{ color: {WARNING}; text-style: bold; }}
.big-code {{ color: {ACCENT}; text-style: bold; content-align: center middle; width: 100%;
            height: 3; border: round {ACCENT}; }}
.seed {{ background: {BACKGROUND}; padding: 0 1; margin: 1 0; }}
.buttons {{ height: auto; margin: 1 0 0 0; }}
.buttons Button {{ margin: 0 1 0 0; }}
"""
"""The stylesheet of the app and its screens (Textual CSS)."""
