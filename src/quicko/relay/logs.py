"""Structured logs of the relay: one JSON object per line, on standard error, never to a file.

Every line has an ``"event"`` field first, then the event's own fields, then ``"level"`` and
``"ts"`` (milliseconds since the epoch)::

    {"event": "listening", "host": "127.0.0.1", "port": 9900, "node_id": "3f9a", "tls": false,
     "level": "info", "ts": 1718000000000}

What never goes into a log line (DESIGN.md §7): message content, keys, signatures, invite codes
or nameplates, and full identity addresses — :func:`short_id` gives the 4-hex-digit prefix that
is the most a line may carry. The per-frame path of the relay logs nothing at all.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Final, TextIO

__all__ = [
    "LEVELS",
    "LOGGER_NAME",
    "JsonLineFormatter",
    "configure_logging",
    "log_event",
    "short_id",
]

LOGGER_NAME: Final = "quicko.relay"
"""Name of the logger the relay writes its events to."""

LEVELS: Final[Mapping[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
"""The values ``--log-level`` accepts, and the :mod:`logging` level of each."""

_LOGGER: Final = logging.getLogger(LOGGER_NAME)
_FIELDS_ATTR: Final = "quicko_fields"
_PICOWS_LOGGER: Final = "picows"
_SHORT_ID_BYTES: Final = 2


class JsonLineFormatter(logging.Formatter):
    """Format a record as one line of JSON with ``event``, its fields, ``level`` and ``ts``.

    Records logged through :func:`log_event` carry their fields; any other record (from a
    library) becomes ``{"event": "<logger name>", "message": ...}`` with its exception type,
    never its traceback text, which could quote data.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line for ``record`` (without the trailing newline)."""
        fields = getattr(record, _FIELDS_ATTR, None)
        line: dict[str, object]
        if isinstance(fields, dict):
            line = {"event": record.getMessage(), **fields}
        else:
            line = {"event": record.name, "message": record.getMessage()}
            if record.exc_info and record.exc_info[0] is not None:
                line["exception"] = record.exc_info[0].__name__
        line["level"] = record.levelname.lower()
        line["ts"] = int(record.created * 1000)
        return json.dumps(line, separators=(", ", ": "), default=str)


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send the relay's events, as JSON lines, to ``stream`` (standard error by default).

    Idempotent: calling it again replaces the handler. The ``picows`` library's own logger is
    routed through the same formatter, and kept quiet except at ``debug`` level, where its
    messages about malformed WebSocket traffic help diagnose clients.

    Raises:
        ValueError: ``level`` is not one of :data:`LEVELS`.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    for name, threshold in (
        (LOGGER_NAME, LEVELS[level]),
        # picows logs every protocol violation of a client at ERROR; at the default level
        # that would let any client write lines at will, so only debug shows them.
        (_PICOWS_LOGGER, logging.WARNING if level == "debug" else logging.CRITICAL),
    ):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(threshold)
        logger.propagate = False


def log_event(
    event: str, level: int = logging.INFO, /, *, always: bool = False, **fields: object
) -> None:
    """Log ``event`` with ``fields`` (JSON-serialisable; ``str()`` is used otherwise).

    ``always`` writes the line whatever the configured level (for the ``listening`` line that
    scripts wait for). Callers must not pass content, keys, nameplates or full addresses (see
    :func:`short_id`).
    """
    if always or _LOGGER.isEnabledFor(level):
        record = _LOGGER.makeRecord(
            _LOGGER.name, level, "", 0, event, (), None, extra={_FIELDS_ATTR: fields}
        )
        _LOGGER.handle(record)  # Logger.handle does not check the level again


def short_id(address: bytes) -> str:
    """The at most 4-hex-digit prefix of an address, the only part of one a log may show."""
    return address[:_SHORT_ID_BYTES].hex()
