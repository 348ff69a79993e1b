"""Audit before effect, by construction: writes wait for the audit rows that led to them.

A caller that holds audit rows not yet written (the pipeline, for the stages before the
one running) sets a hook for the current task with `audit_first(flush)`. Every write
through storage (`Sql.execute`, `Sql.transaction`, and any statement that is not a
plain SELECT) and every message the outbox sends first awaits `before_effect()`, which
calls the hook: the pending rows are flushed before the first write or send. When the
flush fails, the hook raises, so the write or send never happens and the caller denies.
Writes of the audit log itself do not call the hook.

    with audit_first(journal.flush):
        await stage(request)          # its first db write flushes the earlier rows first

Tasks started inside the block inherit the hook (contextvars), so a stage's helper
tasks are held to the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar

__all__ = ["Hook", "audit_first", "before_effect", "is_read"]

Hook = Callable[[], Awaitable[None]]

_HOOK: ContextVar[Hook | None] = ContextVar("frontdoor_audit_first", default=None)


@contextlib.contextmanager
def audit_first(hook: Hook | None) -> Iterator[None]:
    """Within the block (and tasks started in it), effects await `hook` first; None: no hook."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)


async def before_effect() -> None:
    """Flush the current task's pending audit rows (if any); raises when that fails."""
    hook = _HOOK.get()
    if hook is not None:
        await hook()


def is_read(sql: str) -> bool:
    """Whether a statement only reads (a SELECT); anything else counts as a write."""
    return sql.lstrip()[:6].upper() == "SELECT"
