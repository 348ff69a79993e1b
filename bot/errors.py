"""Errors of the bot process.

    BotError            base of everything raised by bot/
    ├── ConfigError     the config file is missing, unreadable or invalid (carries every problem)
    └── StartupError    the bot cannot start (storage, keys, adapters)

Messages never carry a secret or a user's raw text.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BotError", "ConfigError", "StartupError"]


class BotError(Exception):
    """Base of the bot's errors."""


class ConfigError(BotError):
    """The configuration is invalid; `problems` lists each one, naming the key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class StartupError(BotError):
    """The bot cannot start; the message says what to do."""
