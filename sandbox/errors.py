"""Errors of the sandbox package.

Exception tree::

    SandboxError                 base of everything raised here
    ├── SandboxUnavailable       isolation unavailable (self-test failed or not run): fail closed
    └── InvalidRunSpec           a RunSpec or Limits value is malformed (also a ValueError)

Messages never carry a secret value, an argv or a snippet: only names and reasons.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base class for errors raised by the sandbox."""


class SandboxUnavailable(SandboxError):
    """Code execution is disabled because isolation is unavailable; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"code execution disabled: isolation unavailable: {reason}")
        self.reason = reason


class InvalidRunSpec(SandboxError, ValueError):
    """A run request or a limit is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
