"""The dark theme of the desktop app: one palette and the style sheet built from it.

The layered surfaces and the accent are those of the original design (DESIGN.md §9):
``#1a1a2e`` (window), ``#16213e`` (panels), ``#0f3460`` (raised surfaces, sent bubbles) and the
accent ``#e94560``. Text colours are chosen for contrast on them: body text is ``#eaeaf4``
(about 14:1 on the window colour), secondary text ``#a9b0c8`` (about 8:1), both well above the
WCAG AA ratio of 4.5:1 (checked by the theme's unit test).

Widgets name themselves with ``setObjectName`` and the style sheet selects on those names, so
no colour is written anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from PySide6.QtGui import QColor, QPalette

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

__all__ = ["PALETTE", "Palette", "apply_theme", "contrast_ratio", "stylesheet"]


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of the theme, as ``#rrggbb`` strings."""

    window: str = "#1a1a2e"
    panel: str = "#16213e"
    raised: str = "#0f3460"
    accent: str = "#e94560"
    accent_hover: str = "#ff5c77"
    text: str = "#eaeaf4"
    muted: str = "#a9b0c8"
    received_bubble: str = "#24304f"
    sent_bubble: str = "#0f3460"
    border: str = "#2b3a5e"
    success: str = "#4cd07d"
    warning: str = "#f5b342"
    error: str = "#ff6b81"
    danger: str = "#c0392b"
    read_tick: str = "#5cc8ff"


PALETTE: Final = Palette()
"""The one palette of the app."""


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def stylesheet(palette: Palette = PALETTE) -> str:
    """The Qt style sheet of the whole app for ``palette``."""
    p = palette
    return f"""
QWidget {{ background-color: {p.window}; color: {p.text}; font-size: 14px; }}
QMainWindow, QDialog {{ background-color: {p.window}; }}
QToolTip {{ background-color: {p.raised}; color: {p.text}; border: 1px solid {p.border}; }}
QLabel {{ background: transparent; }}
QLabel#muted, QLabel#time, QLabel#hint {{ color: {p.muted}; }}
QLabel#time {{ font-size: 11px; }}
QLabel#error {{ color: {p.error}; }}
QLabel#ok {{ color: {p.success}; }}
QLabel#warning {{ color: {p.warning}; font-weight: bold; }}
QLabel#brand {{ color: {p.accent}; font-size: 44px; font-weight: bold; }}
QLabel#title {{ font-size: 20px; font-weight: bold; }}
QLabel#section {{ color: {p.muted}; font-size: 12px; font-weight: bold; }}
QLabel#inviteCode {{ color: {p.text}; font-size: 40px; font-weight: bold;
    font-family: "DejaVu Sans Mono", monospace; letter-spacing: 4px; }}
QLabel#quickokey, QLabel#safetyNumber {{ font-family: "DejaVu Sans Mono", monospace; }}
QLabel#safetyNumber {{ font-size: 20px; }}
QLabel#seedPhrase {{ font-family: "DejaVu Sans Mono", monospace; background-color: {p.panel};
    border: 1px solid {p.warning}; border-radius: 8px; padding: 10px; }}
QLabel#sender {{ color: {p.accent}; font-size: 12px; font-weight: bold; }}
QFrame#calling {{ background: transparent; }}
QLabel#callingText {{ color: {p.warning}; font-weight: bold; }}
QLabel#systemLine {{ color: {p.muted}; font-size: 12px; font-style: italic; }}
QLabel#unreadBadge {{ background-color: {p.accent}; color: #ffffff; border-radius: 9px;
    padding: 1px 6px; font-size: 11px; font-weight: bold; }}
QLabel#ticks {{ color: {p.muted}; font-size: 11px; }}
QLabel#ticks[status="read"] {{ color: {p.read_tick}; }}
QLabel#ticks[status="failed"] {{ color: {p.error}; }}
QFrame#sidebar, QWidget#sidebar {{ background-color: {p.panel}; }}
QFrame#chatHeader {{ background-color: {p.panel}; border-bottom: 1px solid {p.border}; }}
QFrame#card {{ background-color: {p.panel}; border: 1px solid {p.border}; border-radius: 12px; }}
QFrame#bubble[outgoing="true"] {{ background-color: {p.sent_bubble};
    border-top-left-radius: 16px; border-top-right-radius: 16px;
    border-bottom-left-radius: 16px; border-bottom-right-radius: 4px; }}
QFrame#bubble[outgoing="false"] {{ background-color: {p.received_bubble};
    border-top-left-radius: 16px; border-top-right-radius: 16px;
    border-bottom-left-radius: 4px; border-bottom-right-radius: 16px; }}
QLineEdit, QPlainTextEdit {{ background-color: {p.raised}; color: {p.text};
    border: 1px solid {p.border}; border-radius: 8px; padding: 6px;
    selection-background-color: {p.accent}; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border: 1px solid {p.accent}; }}
QLineEdit[valid="false"] {{ border: 1px solid {p.error}; }}
QLineEdit#seedWord {{ font-family: "DejaVu Sans Mono", monospace; }}
QLineEdit#seedWord[valid="true"] {{ border: 1px solid {p.success}; }}
QPushButton {{ background-color: {p.raised}; color: {p.text}; border: 1px solid {p.border};
    border-radius: 8px; padding: 7px 14px; }}
QPushButton:hover {{ border: 1px solid {p.accent}; }}
QPushButton:disabled {{ color: {p.muted}; background-color: {p.panel}; }}
QPushButton#primary {{ background-color: {p.accent}; color: #ffffff; border: none;
    font-weight: bold; }}
QPushButton#primary:hover {{ background-color: {p.accent_hover}; }}
QPushButton#primary:disabled {{ background-color: {p.raised}; color: {p.muted}; }}
QPushButton#danger {{ color: {p.error}; }}
QPushButton#retry {{ background: transparent; color: {p.accent}; border: 1px solid {p.accent};
    border-radius: 6px; padding: 1px 8px; font-size: 11px; }}
QPushButton#dangerFilled {{ background-color: {p.danger}; color: #ffffff; border: none;
    font-weight: bold; }}
QPushButton#dangerFilled:hover {{ background-color: {p.accent_hover}; }}
QListWidget {{ background-color: {p.panel}; border: none; outline: none; }}
QListWidget::item {{ border-bottom: 1px solid {p.border}; }}
QListWidget::item:selected {{ background-color: {p.raised}; }}
QScrollArea {{ border: none; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; border: none; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; border: none; }}
QScrollBar::handle:vertical {{ background: {p.raised}; border-radius: 5px; min-height: 24px; }}
QScrollBar::handle:horizontal {{ background: {p.raised}; border-radius: 5px; min-width: 24px; }}
QScrollBar::handle:hover {{ background: {p.border}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; border: none; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QStatusBar {{ background-color: {p.panel}; color: {p.muted};
    border-top: 1px solid {p.border}; }}
QStatusBar QLabel {{ padding: 2px 10px; }}
QStatusBar::item {{ border: none; }}
QLabel#connection[state="connected"] {{ color: {p.success}; }}
QLabel#connection[state="connecting"] {{ color: {p.warning}; }}
QLabel#connection[state="disconnected"] {{ color: {p.error}; }}
QLabel#encryption {{ color: {p.success}; }}
"""


def apply_theme(app: QApplication, palette: Palette = PALETTE) -> None:
    """Give ``app`` the dark theme: the Fusion style, the style sheet, dim placeholders.

    Emoji need no font setting: Qt asks fontconfig for a font that has a glyph the body font
    lacks, and scripts/system-deps.sh installs one (fonts-noto-color-emoji) where the platform
    has none (the test suite checks that an emoji is drawn in colour).
    """
    app.setStyle("Fusion")
    qt_palette = app.palette()
    qt_palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(palette.muted))
    app.setPalette(qt_palette)
    app.setStyleSheet(stylesheet(palette))
