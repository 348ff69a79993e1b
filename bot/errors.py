"""Errors of the bot process.

    BotError            base of everything raised by bot/
    ├── ConfigError     the config file is missing, unreadable or invalid (carries every problem)
    └── StartupError    the bot cannot start (storage, keys, adapters)

Messages never carry a secret or a user's raw text.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BotError", "ConfigError", "StartupError", "where"]


class BotError(Exception):
    """Base of the bot's errors."""


class ConfigError(BotError):
    """The configuration is invalid; `problems` lists each one, naming the key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class StartupError(BotError):
    """The bot cannot start; the message says what to do."""


def where(e: BaseException) -> str:
    """Where an exception was raised (`file.py:123 in func`), for a log line that must not carry its message.

    Exception messages may hold a user's text or a secret, so the bot logs the type
    and the place, never `str(e)` or a full traceback with locals.
    """
    tb = e.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {code.co_name}"
