"""Logging for the whole process: structured lines, and nothing leaves without redaction.

`configure_logging(redactor)` replaces the root logger's handlers with one handler whose
filter rewrites every record before any formatter sees it: the final message (args
interpolated), the exception and stack text, and every extra field pass through the redactor;
extra fields whose name is secret-like (`password`, `api_key`) are replaced whole. The
formatter then writes one JSON object per line (`ts`, `level`, `logger`, `msg`, extra fields,
`exc`) or a plain text line. If redaction itself fails, the text is dropped, never emitted raw.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from policy.redaction import Redactor, is_secret_name

__all__ = ["RedactingFilter", "configure_logging", "log_event", "update_redactor"]

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_CORE = frozenset({"ts", "level", "logger", "msg", "exc", "stack"})
_FAILED = "[REDACTION FAILED]"
_MAX_DEPTH = 6


class _State:
    """The redactor in use; swapped atomically by `update_redactor`."""

    redactor: Redactor = Redactor()


def update_redactor(redactor: Redactor) -> None:
    """Use `redactor` for every record from now on (e.g. after more secrets became known)."""
    _State.redactor = redactor


def _clean_text(text: str) -> str:
    try:
        return _State.redactor.redact_text(text)
    except Exception:  # noqa: BLE001 - a redaction bug must not leak the raw text
        return _FAILED


def _clean_value(key: str, value: Any, depth: int = 0) -> Any:
    if is_secret_name(key) and value not in (None, "", True, False):
        return "[REDACTED:secret_field]"
    if isinstance(value, str):
        return _clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {str(k): _clean_value(str(k), v, depth + 1) for k, v in value.items()}
    if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
        return [_clean_value(key, v, depth + 1) for v in value]
    return _clean_text(repr(value))


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so that only redacted text remains on it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact message, exception, stack and extra fields; always lets the record through."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not drop or leak the record
            message = f"[unformattable log message from {record.name}]"
        record.msg = _clean_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _clean_text(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = _clean_text(record.stack_info)
        for key in list(record.__dict__):
            if key not in _RESERVED and not key.startswith("_"):
                record.__dict__[key] = _clean_value(key, record.__dict__[key])
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        (f"{k}_" if k in _CORE else k): v
        for k, v in record.__dict__.items()
        if k not in _RESERVED and not k.startswith("_")
    }


class _JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return jsonlib.dumps(line, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    """`ts LEVEL logger: msg key=value ...` plus the exception text."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        out = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            out += f" {fields}"
        if record.exc_text:
            out += "\n" + record.exc_text
        if record.stack_info:
            out += "\n" + record.stack_info
        return _clean_text(out)


def configure_logging(
    redactor: Redactor,
    *,
    level: str = "INFO",
    json: bool = True,
    stream: IO[str] | None = None,
) -> None:
    """Make the root logger write redacted lines to `stream` (stderr by default).

    Replaces any handlers already on the root logger, so nothing else writes unredacted.
    """
    update_redactor(redactor)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(_JsonFormatter() if json else _TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log a structured event: `msg` is the event name, the fields become extra keys."""
    extra = {("field_" + k if k in _RESERVED else k): v for k, v in fields.items()}
    extra["event"] = event
    logger.log(level, event, extra=extra)
