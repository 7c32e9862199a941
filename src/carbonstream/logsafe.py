"""Log lines never carry raw control characters from input.

A value a client sent (a path with a NUL, a name with ESC sequences or a CR)
could otherwise forge log lines or corrupt a terminal. :func:`install` makes
every log record's message escape them (``\\x00``, ``\\x1b``, ``\\r``); a line
feed and a tab stay, as our own multi-line messages (config errors) need them.
The record factory is process-wide, so records of every library are covered.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _SafeRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 - the logging API's name
        return escape(super().getMessage())

    # A traceback quotes exception messages, which may quote input: escaped as well.
    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self._exc_text = None if value is None else escape(value)


def install() -> None:
    """Idempotent; keeps any factory installed before (it must return a LogRecord)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_carbonstream_safe", False):
        return
    if current is logging.LogRecord:

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _SafeRecord(*args, **kwargs)
    else:

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            record.msg = escape(record.getMessage())
            record.args = None
            return record

    factory._carbonstream_safe = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
