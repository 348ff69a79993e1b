"""Tests for bot.logs: every path a secret could take into a log line is redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import RedactingFilter, configure_logging, log_event, update_redactor
from policy.redaction import Redactor

SECRET = "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD"
KNOWN = "plain-known-value-42"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A root logger writing JSON lines into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    configure_logging(Redactor(known_secrets={"SLACK_BOT_TOKEN": KNOWN}), stream=buf, level="DEBUG")
    yield buf
    logging.captureWarnings(False)
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    """The records of the test's own loggers (a library may log from a background thread meanwhile)."""
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    return [r for r in rows if not str(r.get("logger", "")).startswith(("aiosqlite", "asyncio"))]


def test_secret_in_message_is_redacted(stream: io.StringIO) -> None:
    """A token written straight into the message never reaches the stream."""
    logging.getLogger("t").warning(f"posting with {SECRET}")
    assert SECRET not in stream.getvalue()
    assert _lines(stream)[0]["msg"] == "posting with [REDACTED:slack_token]"


def test_secret_in_args_is_redacted(stream: io.StringIO) -> None:
    """Args are interpolated first, then redacted."""
    logging.getLogger("t").info("known %s and %s", KNOWN, SECRET)
    out = stream.getvalue()
    assert KNOWN not in out
    assert SECRET not in out
    assert "[REDACTED:known_secret]" in _lines(stream)[0]["msg"]  # type: ignore[operator]


def test_secret_in_exception_traceback_is_redacted(stream: io.StringIO) -> None:
    """The formatted traceback, including the exception message, is redacted."""
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError:
        logging.getLogger("t").exception("call failed")
    out = stream.getvalue()
    assert SECRET not in out
    line = _lines(stream)[0]
    assert "RuntimeError: auth failed for [REDACTED:slack_token]" in str(line["exc"])


def test_secret_in_extra_fields_is_redacted(stream: io.StringIO) -> None:
    """Extra fields are redacted by value, and secret-named fields are replaced whole."""
    logging.getLogger("t").info(
        "event",
        extra={"note": f"token {SECRET}", "password": "hunter2", "nested": {"api_key": "abc"}},
    )
    out = stream.getvalue()
    assert SECRET not in out
    assert "hunter2" not in out
    line = _lines(stream)[0]
    assert line["password"] == "[REDACTED:secret_field]"
    assert line["nested"] == {"api_key": "[REDACTED:secret_field]"}


def test_log_event_writes_structured_fields(stream: io.StringIO) -> None:
    """log_event puts the event name in msg and the fields beside it, redacted."""
    log_event(
        logging.getLogger("bot.run"), "run.finished", tool="disk_usage", exit_code=0, name=KNOWN
    )
    line = _lines(stream)[0]
    assert line["msg"] == "run.finished"
    assert line["event"] == "run.finished"
    assert line["tool"] == "disk_usage"
    assert line["exit_code"] == 0
    assert line["logger"] == "bot.run"
    assert line["level"] == "INFO"
    assert line["field_name"] == "[REDACTED:known_secret]"
    assert str(line["ts"]).endswith("+00:00")


def test_update_redactor_adds_secrets_later(stream: io.StringIO) -> None:
    """After update_redactor, newly known values are redacted too."""
    log = logging.getLogger("t")
    log.info("value later-known-secret-9")
    update_redactor(Redactor().with_secrets({"TOOL": "later-known-secret-9"}))
    log.info("value later-known-secret-9")
    lines = _lines(stream)
    assert lines[0]["msg"] == "value later-known-secret-9"
    assert lines[1]["msg"] == "value [REDACTED:known_secret]"


def test_plain_text_mode_is_redacted() -> None:
    """The plain text formatter redacts message, fields and traceback."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    try:
        configure_logging(Redactor(), json=False, stream=buf)
        try:
            raise ValueError(SECRET)
        except ValueError:
            logging.getLogger("p").exception("x %s", SECRET, extra={"k": SECRET})
    finally:
        logging.captureWarnings(False)
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    out = buf.getvalue()
    assert SECRET not in out
    assert "ERROR   p: x [REDACTED:slack_token] k=[REDACTED:slack_token]" in out
    assert "ValueError: [REDACTED:slack_token]" in out


def test_configure_replaces_existing_root_handlers(stream: io.StringIO) -> None:
    """A handler installed before configure_logging is removed, so it cannot write raw text."""
    root = logging.getLogger()
    raw = io.StringIO()
    early = logging.StreamHandler(raw)
    root.addHandler(early)
    configure_logging(Redactor(), stream=stream)
    assert early not in root.handlers
    logging.getLogger("t").info(SECRET)
    assert raw.getvalue() == ""
    assert SECRET not in stream.getvalue()


def test_other_handlers_on_the_record_see_redacted_text() -> None:
    """The filter rewrites the record itself, so later handlers get the redacted version."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "tok %s", (SECRET,), None)
    record.__dict__["extra_note"] = SECRET
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "tok [REDACTED:slack_token]"
    assert record.__dict__["extra_note"] == "[REDACTED:slack_token]"


def test_bad_format_string_does_not_leak_args(stream: io.StringIO) -> None:
    """A message whose args do not fit is replaced, not emitted raw."""
    logging.getLogger("t").info("%d items", SECRET)
    out = stream.getvalue()
    assert SECRET not in out
    assert "unformattable" in out
