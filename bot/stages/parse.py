"""Stage 4: what does the message ask for? A command, or a tool request with validated arguments.

Commands work with or without a leading slash (`/run x` and `run x`), because
Slack clients do not send text that starts with `/`. A tool request is parsed
with POSIX quoting (never a shell), each argument is validated against the
tool's spec, and the argv is rendered here, before anything else sees it. An
unknown tool gets the list of the tools this user may use.
"""

from __future__ import annotations

import dataclasses

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services, tool_spec
from bot.types import ChannelKind
from policy.reasons import Reason
from policy.tools import ArgError, ParseError, parse_invocation, render_argv, usage, validate_args

__all__ = ["ADMIN_COMMANDS", "USER_COMMANDS", "Parse", "split_command"]

USER_COMMANDS = ("help", "start", "whoami", "tools", "run", "status", "cancel", "link", "unlink")
ADMIN_COMMANDS = (
    "pair",
    "grant",
    "revoke",
    "autonomy",
    "pending",
    "audit",
    "role",
    "ban",
    "unban",
    "runs",
    "kill",
    "lockdown",
    "unlock",
    "whois",
    "stats",
    "limits",
    "unbench",
    "forget",
    "keys",
    "explain",
)
_ALL = frozenset(USER_COMMANDS) | frozenset(ADMIN_COMMANDS)


def split_command(text: str) -> tuple[str, str, bool] | None:
    """`(name, rest, slashed)` when the text is a command; None for plain text."""
    stripped = text.strip()
    slashed = stripped.startswith("/")
    body = stripped[1:] if slashed else stripped
    parts = body.split(None, 1)
    if not parts:
        return ("", "", slashed) if slashed else None
    word = parts[0].lower()
    rest = parts[1].strip() if len(parts) > 1 else ""
    if slashed or word in _ALL:
        return word, rest, slashed
    return None


class Parse(StageBase):
    """Turns text into a command or a rendered tool request."""

    name = "parse"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Continue with `command` (and for `run`, the tool, args and argv) set."""
        text = request.inbound.text
        if not text.strip():
            return Stop(
                reason=Reason.EMPTY_MESSAGE,
                outcomes=(reply(request, "Send /help to see what I can do."),),
            )
        found = split_command(text)
        if found is None:
            return await self._plain(request, text)
        name, rest, _ = found
        if name == "run":
            return await self._run(request, rest)
        if name in _ALL:
            parsed = dataclasses.replace(request, command=name, command_args=tuple(rest.split()))
            return Continue(request=parsed, reason=Reason.COMMAND, detail={"command": name})
        text = "I don't know that command. Send /help for the list."
        return Stop(reason=Reason.UNKNOWN_COMMAND, outcomes=(reply(request, text),))

    async def _plain(self, request: Request, text: str) -> Continue | Stop:
        default = self._s.config.default_tool
        if default is None:
            words = "I only understand commands. Send /help, or /run TOOL name=value ..."
            return Stop(reason=Reason.NO_DEFAULT_TOOL, outcomes=(reply(request, words),))
        tool = self._s.tool(default.name)
        if tool is None:
            return Stop(
                reason=Reason.UNKNOWN_TOOL,
                outcomes=(reply(request, "The default tool is missing."),),
            )
        return self._render(request, tool.name, {default.arg: text.strip()})

    async def _run(self, request: Request, rest: str) -> Continue | Stop:
        invocation = parse_invocation(rest)
        if isinstance(invocation, ParseError):
            text = (
                f"I could not read that request: {invocation.message}. Try /run TOOL name=value ..."
            )
            return Stop(reason=invocation.reason, outcomes=(reply(request, text),))
        if self._s.tool(invocation.tool) is None:
            return await self._unknown(request)
        return self._render(request, invocation.tool, invocation.raw_args)

    def _render(self, request: Request, name: str, raw: dict[str, str] | object) -> Continue | Stop:
        tool = self._s.tool(name)
        assert tool is not None
        spec = tool_spec(tool)
        args = validate_args(spec, raw)  # type: ignore[arg-type]
        if isinstance(args, ArgError):
            text = f"{args.message}. Usage: /run {usage(spec)}"
            return Stop(
                reason=args.reason,
                outcomes=(reply(request, text),),
                tool=name,
                detail={"arg": args.arg},
            )
        argv = render_argv(spec, args)
        parsed = dataclasses.replace(request, command="run", tool=name, args=args, argv=argv)
        return Continue(request=parsed, detail={"command": "run"})

    async def _unknown(self, request: Request) -> Stop:
        channel = request.inbound.channel
        mine = await self._s.tools_for(
            user=request.actor_key,
            channel=channel.key if channel.kind is ChannelKind.GROUP else None,
        )
        listing = ", ".join(mine) if mine else "none"
        text = f"There is no such tool. Tools you may use: {listing}."
        return Stop(reason=Reason.UNKNOWN_TOOL, outcomes=(reply(request, text),))
