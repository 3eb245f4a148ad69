"""QR codes drawn in memory with segno: never a file, never an image on disk."""

from __future__ import annotations

from typing import Final

import segno
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap

__all__ = ["QR_BORDER_MODULES", "qr_image", "qr_pixmap"]

QR_BORDER_MODULES: Final = 4
"""The quiet zone around the code, in modules (the standard asks for 4)."""


def qr_image(text: str, scale: int = 6) -> QImage:
    """A black-on-white QR code of ``text`` (a regular QR code, never a Micro QR).

    Args:
        text: what the code encodes (an invite code or a QuickoKey).
        scale: pixels per module.

    Returns:
        A square image of ``(modules + 8) * scale`` pixels.
    """
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    code = segno.make(text, error="m", micro=False)
    rows = list(code.matrix_iter(scale=1, border=QR_BORDER_MODULES))
    size = len(rows)
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    black = QColor("black").rgb()
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                image.setPixel(x, y, black)
    return image.scaled(
        size * scale,
        size * scale,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )


def qr_pixmap(text: str, scale: int = 6) -> QPixmap:
    """:func:`qr_image` as a pixmap for a ``QLabel``."""
    return QPixmap.fromImage(qr_image(text, scale))
