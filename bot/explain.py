"""The decision in words: `frontdoor policy explain` and `/explain` say every check and its reason.

They run the pipeline's own decision (`bot/decision.py`, `policy/decision.py`) with the
state as storage holds it now, so an explanation cannot disagree with what the bot does:

    lines, verdict = await explain_now(services, user=..., tool=..., channel=None, raw={})
    print("\n".join(lines)); sys.exit(exit_code(verdict))   # 0 runs now, 1 denied, 3 needs approval
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.commands import Answer
from bot.config import Config
from bot.decision import read_snapshot, standing_for, standing_now
from policy.decision import Ask, Standing, Verdict, decide
from policy.permissions import explain
from policy.reasons import Reason
from policy.tools import ArgError, render_argv, validate_args

if TYPE_CHECKING:
    from bot.pipeline import Request
    from bot.services import Services
    from storage import Database

__all__ = [
    "exit_code",
    "explain_ask",
    "explain_command",
    "explain_lines",
    "explain_now",
    "explain_offline",
]


_HEADLINE = {
    "run": "RUN: runs now, without approval",
    "ask": "NEEDS APPROVAL",
    "deny": "DENY",
}


def explain_lines(verdict: Verdict, ask: Ask, standing: Standing) -> list[str]:
    """Every check with its verdict and why, the allowlist walk per identity, and the decision."""
    person = verdict.person
    where = ask.channel or "(direct message)"
    lines = [f"user={ask.requester} tool={ask.tool} channel={where}"]
    if person.others:
        lines.append(f"person: {', '.join(sorted(person.members))} (linked: checked together)")
    for c in verdict.checks:
        mark = "ok  " if c.ok else "FAIL"
        lines.append(f"{c.name:<10} {mark} {c.why} ({c.reason})")
        if c.name == "allowlist":
            for key in sorted(person.members, key=lambda k: (k != ask.requester, k)):
                walk = explain(
                    standing.rules,
                    user=key,
                    tool=ask.tool,
                    channel=ask.channel,
                    grants=standing.grants,
                )
                label = "" if key == ask.requester else f" (linked {key})"
                lines.extend(f"             {line}{label}" for line in walk[1:-1])
    failed = [c for c in verdict.checks if not c.ok]
    because = "; ".join(c.why for c in failed)
    head = _HEADLINE[verdict.action]
    lines.append(f"decision: {head} ({verdict.reason})" + (f": {because}" if because else ""))
    return lines


def exit_code(verdict: Verdict) -> int:
    """0 runs now, 1 denied, 3 needs an approver (for scripts calling `policy explain`)."""
    return {"run": 0, "deny": 1, "ask": 3}[verdict.action]


def explain_ask(
    config: Config,
    *,
    user: str,
    tool: str,
    channel: str | None,
    raw: Mapping[str, str],
    holds_secret: Callable[[str], bool],
) -> Ask:
    """The request `policy explain` / `/explain` asks about (arguments only when some are given)."""
    found = config.tool(tool)
    spec = found.spec() if found is not None else None
    args: Mapping[str, str | int] | None = None
    argv: tuple[str, ...] | None = None
    if raw and spec is not None:
        checked = validate_args(spec, raw)
        if isinstance(checked, ArgError):
            args = dict(raw)  # the decision's argument check says what is wrong
        else:
            args, argv = checked, render_argv(spec, checked)
    return Ask(
        requester=user,
        tool=tool,
        spec=spec,
        channel=channel,
        place=channel or "",
        args=args,
        argv=argv,
        secret_args=frozenset(k for k, v in raw.items() if holds_secret(v)),
    )


async def explain_now(
    s: Services, *, user: str, tool: str, channel: str | None, raw: Mapping[str, str]
) -> tuple[list[str], Verdict]:
    """`/explain`: the decision the pipeline would make now, with every reason."""
    ask = explain_ask(
        s.config,
        user=user,
        tool=tool,
        channel=channel,
        raw=raw,
        holds_secret=lambda v: bool(s.known_secrets.spans(v)),
    )
    standing = await standing_now(s, user)
    verdict = decide(standing, ask)
    return explain_lines(verdict, ask, standing), verdict


async def explain_offline(
    db: Database | None,
    config: Config,
    *,
    now: datetime,
    user: str,
    tool: str,
    channel: str | None,
    raw: Mapping[str, str],
    holds_secret: Callable[[str], bool],
) -> tuple[list[str], Verdict]:
    """`frontdoor policy explain`: the same decision from the database, while the bot runs or not."""
    from bot.services import rules_from_config

    ask = explain_ask(
        config, user=user, tool=tool, channel=channel, raw=raw, holds_secret=holds_secret
    )
    snapshot = await read_snapshot(db, now)
    standing = await standing_for(
        snapshot, db=db, config=config, rules=rules_from_config(config), requester=user
    )
    verdict = decide(standing, ask)
    lines = explain_lines(verdict, ask, standing)
    if db is None:
        lines.insert(
            1, "note: no database yet, so nobody is paired and there are no runtime grants"
        )
    if verdict.action == "ask":
        lines.append("(whether an approver can be reached is known only while the bot runs)")
    return lines, verdict


async def explain_command(s: Services, r: Request) -> Answer:
    """`/explain USER TOOL [channel:ID] [name=value ...]`: every check, as the pipeline decides it now."""
    args = list(r.command_args)
    usage = "/explain platform:tenant:user TOOL [channel:platform:tenant:channel] [name=value ...]"
    if len(args) < 2:
        return Answer(text=f"Usage: {usage}", reason=Reason.BAD_ARGUMENTS, decision="deny")
    user, tool, rest = args[0], args[1], args[2:]
    channel = None
    if rest and rest[0].startswith("channel:"):
        channel, rest = rest[0][8:], rest[1:]
    raw = dict(word.partition("=")[::2] for word in rest)
    if any("=" not in word for word in rest):
        return Answer(text=f"Usage: {usage}", reason=Reason.BAD_ARGUMENTS, decision="deny")
    lines, verdict = await explain_now(s, user=user, tool=tool, channel=channel, raw=raw)
    return Answer(
        text="\n".join(lines), detail={"user": user, "tool": tool, "decision": verdict.action}
    )
