"""Runtime grants: add, active at a time, revoke by id or target, expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from storage import Database


async def test_add_and_active(db: Database, now: datetime) -> None:
    """Live grants are active; ones past expiry are not, even before expire() ran."""
    forever = await db.grants.add(
        scope="user", subject="slack:T1:U1", tool="logs", effect="allow", by="adm", now=now
    )
    brief = await db.grants.add(
        scope="channel",
        subject="slack:T1:C1",
        tool="*",
        effect="deny",
        by="adm",
        now=now,
        expires_at=now + timedelta(hours=1),
        reason="incident",
    )
    assert (brief.reason, brief.expires_at, brief.ended) == (
        "incident",
        now + timedelta(hours=1),
        None,
    )
    assert await db.grants.active(now) == [forever, brief]
    assert await db.grants.active(now + timedelta(hours=1)) == [forever]


async def test_revoke_by_id_and_by_target(db: Database, now: datetime) -> None:
    """Revoking ends the matching live grants once and records who did it."""
    one = await db.grants.add(
        scope="global", subject="*", tool="a", effect="allow", by="x", now=now
    )
    await db.grants.add(scope="group", subject="ops", tool="b", effect="allow", by="x", now=now)
    await db.grants.add(scope="group", subject="ops", tool="b", effect="allow", by="x", now=now)
    later = now + timedelta(minutes=1)
    assert await db.grants.revoke(one.id, by="y", now=later) == 1
    assert await db.grants.revoke(one.id, by="y", now=later) == 0
    assert await db.grants.revoke(("group", "ops", "b"), by="y", now=later) == 2
    assert await db.grants.active(later) == []
    ended = (await db.grants.history())[-1]
    assert (ended.id, ended.ended, ended.ended_by, ended.ended_at) == (
        one.id,
        "revoked",
        "y",
        later,
    )


async def test_expire_marks_only_overdue(db: Database, now: datetime) -> None:
    """expire() ends grants whose time is up and leaves open-ended ones."""
    await db.grants.add(scope="user", subject="u", tool="t", effect="allow", by="x", now=now)
    await db.grants.add(
        scope="user",
        subject="u",
        tool="t",
        effect="allow",
        by="x",
        now=now,
        expires_at=now + timedelta(seconds=5),
    )
    assert await db.grants.expire(now + timedelta(seconds=5)) == 1
    assert await db.grants.expire(now + timedelta(seconds=5)) == 0
    assert [g.ended for g in await db.grants.history()] == ["expired", None]


BAD = [("scope", {"scope": "team"}), ("effect", {"effect": "maybe"})]


@pytest.mark.parametrize("override", [b[1] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_scope_or_effect_is_refused(
    db: Database, now: datetime, override: dict[str, str]
) -> None:
    """Unknown scopes and effects are refused before storage."""
    fields = {"scope": "user", "subject": "u", "tool": "t", "effect": "allow"} | override
    with pytest.raises(ValueError, match="grant"):
        await db.grants.add(
            scope=fields["scope"],
            subject=fields["subject"],
            tool=fields["tool"],
            effect=fields["effect"],
            by="x",
            now=now,
        )
