"""Tool specs, parsing a tool invocation, validating its arguments, rendering its argv.

No shell anywhere. A request like `logs service=api lines=100` is split with POSIX
quoting rules (`grep pattern="a b"`), each argument is checked against its typed spec,
and only then substituted into the tool's argv template, one element at a time:

    parse_invocation(text) -> ToolRequest | ParseError
    validate_args(spec, request.raw_args) -> dict[str, str | int] | ArgError
    render_argv(spec, args) -> tuple[str, ...]

Template elements hold `{name}` placeholders, whole (`{path}`) or in part (`--lines={n}`);
a value is substituted as it is and never re-split, so a space or a `{x}` inside a value
stays inside one argv element. `{{` and `}}` are literal braces. `check_template(spec)`
lists every problem with a spec (unknown placeholders, a placeholder in the program
name, invalid defaults, ...) so config validation can refuse it at load time; after that
`render_argv` cannot fail for validated arguments.

Argument rules, all types: at most `max_len` characters, no NUL, no control or invisible
format characters, and `pattern` (if set) must match the whole value.
- INT: ASCII digits with an optional sign, inside [min, max]; without `min` the floor is 0,
  so a negative number (which a program could read as an option) needs an explicit min.
- CHOICE: exactly one of `choices`.
- PATH: relative to the workspace: no leading `/`, `-` or `~`, no `..` or empty
  components, no backslash, only `A-Z a-z 0-9 . _ - + @ ,` and `/`.
- STR: no leading `-` unless `pattern` is set and matches it.
Messages name the argument and the rule, never the offending value.
"""

from __future__ import annotations

import math
import re
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from policy.autonomy import Risk
from policy.reasons import Reason

__all__ = [
    "MAX_INVOCATION_CHARS",
    "ArgError",
    "ArgSpec",
    "ArgType",
    "ParseError",
    "ToolRequest",
    "ToolSpec",
    "check_template",
    "parse_invocation",
    "render_argv",
    "usage",
    "validate_args",
]

MAX_INVOCATION_CHARS = 4096
_TOOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_PATH_CHARS = re.compile(r"[A-Za-z0-9._+@,/-]+")
_ALLOWED_FORMAT = frozenset({"\u200d"})  # zero-width joiner, used inside emoji
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class ArgType(StrEnum):
    """The type of one tool argument."""

    STR = "str"
    INT = "int"
    CHOICE = "choice"
    PATH = "path"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgSpec:
    """One typed argument. It is required exactly when it has no default."""

    name: str
    type: ArgType
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    default: str | int | None = None
    max_len: int = 256

    @property
    def required(self) -> bool:
        """True when the argument has no default."""
        return self.default is None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """A tool from config: an argv template (kind command) or Python code (kind python)."""

    name: str
    kind: Literal["command", "python"]
    argv: tuple[str, ...] = ()
    code: str = ""
    args: Mapping[str, ArgSpec] = field(default_factory=dict)
    risk: Risk
    timeout: float
    secrets: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolRequest:
    """A parsed invocation: tool name and raw `name=value` arguments, not yet validated."""

    tool: str
    raw_args: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseError:
    """Why an invocation could not be parsed; `message` is safe to show and log."""

    reason: Reason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgError:
    """Why arguments were refused; names the argument, never echoes its value."""

    reason: Reason = Reason.BAD_ARGUMENTS
    arg: str | None
    message: str


# -- parsing ---------------------------------------------------------------------------


# chat clients "improve" quotes and spaces: read them as the plain characters
_CHAT_TYPOGRAPHY = str.maketrans({"\u201c": '"', "\u201d": '"', "\u00a0": " "})


def _parse_error(message: str, reason: Reason = Reason.BAD_ARGUMENTS) -> ParseError:
    return ParseError(reason=reason, message=message)


def parse_invocation(text: str) -> ToolRequest | ParseError:
    """Split `tool name=value ...` with POSIX quoting (no shell) into a ToolRequest.

    Curly double quotes and no-break spaces, which chat clients substitute for straight
    quotes and spaces, count as `"` and a space.
    """
    if len(text) > MAX_INVOCATION_CHARS:
        limit = f"at most {MAX_INVOCATION_CHARS} characters"
        return _parse_error(f"the request is too long ({limit})", Reason.INPUT_TOO_LARGE)
    if "\x00" in text:
        return _parse_error("the request contains a NUL")
    try:
        tokens = shlex.split(text.translate(_CHAT_TYPOGRAPHY), comments=False, posix=True)
    except ValueError:
        return _parse_error("unbalanced quotes or a stray \\")
    if not tokens:
        return _parse_error("name a tool to run", Reason.EMPTY_MESSAGE)
    tool, rest = tokens[0], tokens[1:]
    if not _TOOL_NAME.fullmatch(tool):
        return _parse_error("that is not a tool name")
    raw: dict[str, str] = {}
    for position, token in enumerate(rest, start=1):
        name, sep, value = token.partition("=")
        if not sep or not _ARG_NAME.fullmatch(name):
            return _parse_error(f"argument {position} is not of the form name=value")
        if name in raw:
            return _parse_error(f"argument '{name}' is given twice")
        raw[name] = value
    return ToolRequest(tool=tool, raw_args=raw)


# -- validation ------------------------------------------------------------------------


def _bad_char(text: str) -> bool:
    return any(
        unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT for ch in text
    )


def _path_problem(text: str) -> str | None:
    if not text:
        return "must not be empty"
    if text.startswith("/"):
        return "must be relative to the workspace"
    if "\\" in text:
        return "must not contain backslashes"
    if text.startswith("-"):
        return "must not start with '-'"
    if not _PATH_CHARS.fullmatch(text):
        return "may contain only letters, digits, '/' and . _ - + @ ,"
    parts = text.split("/")
    if text.endswith("/"):
        parts = parts[:-1]
    if "" in parts:
        return "must not contain empty components ('//')"
    if ".." in parts:
        return "must not contain '..'"
    return None


def _int_range(spec: ArgSpec) -> str:
    low = spec.min if spec.min is not None else 0
    if spec.max is None:
        return f"an integer of at least {low}"
    return f"an integer from {low} to {spec.max}"


def _check(spec: ArgSpec, text: object) -> str | int | ArgError:
    """Validate one raw value against its spec."""

    def error(rule: str) -> ArgError:
        return ArgError(arg=spec.name, message=f"argument '{spec.name}' {rule}")

    if not isinstance(text, str):
        return error("must be text")
    if len(text) > spec.max_len:
        return error(f"is too long (at most {spec.max_len} characters)")
    if "\x00" in text or _bad_char(text):
        return error("contains control or invisible characters")
    if spec.pattern is not None:
        try:
            matched = re.fullmatch(spec.pattern, text) is not None
        except re.error:
            return ArgError(arg=spec.name, message=f"argument '{spec.name}' is misconfigured")
        if not matched:
            return error("does not have the expected format")
    if spec.type is ArgType.INT:
        if not _INT.fullmatch(text):
            return error(f"must be {_int_range(spec)}")
        number = int(text)
        low = spec.min if spec.min is not None else 0
        if number < low or (spec.max is not None and number > spec.max):
            return error(f"must be {_int_range(spec)}")
        return number
    if spec.type is ArgType.CHOICE:
        if text not in spec.choices:
            return error("must be one of: " + ", ".join(spec.choices))
        return text
    if spec.type is ArgType.PATH:
        problem = _path_problem(text)
        return error(problem) if problem else text
    if spec.type is ArgType.STR:
        if text.startswith("-") and spec.pattern is None:
            return error("must not start with '-'")
        return text
    return error("has an unknown type")  # fail closed on a type we do not know


def validate_args(spec: ToolSpec, raw: Mapping[str, str]) -> dict[str, str | int] | ArgError:
    """Check raw arguments against the tool's specs; fill defaults; first problem wins."""
    unknown = sorted(set(raw) - set(spec.args))
    if unknown:
        name = unknown[0]
        safe = _ARG_NAME.fullmatch(name) is not None
        shown = f"unknown argument '{name}'" if safe else "an unknown argument"
        takes = ", ".join(spec.args) if spec.args else "no arguments"
        return ArgError(arg=name if safe else None, message=f"{shown}; {spec.name} takes: {takes}")
    out: dict[str, str | int] = {}
    for name, arg in spec.args.items():
        value: object = raw.get(name)
        if value is None:
            if arg.default is None:
                return ArgError(arg=name, message=f"missing required argument '{name}'")
            value = str(arg.default)
        checked = _check(arg, value)
        if isinstance(checked, ArgError):
            return checked
        out[name] = checked
    return out


# -- templates -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str


def _parse_template(element: str) -> list[str | _Slot]:
    """Split one argv element into literals and placeholders; ValueError on bad braces."""
    pieces: list[str | _Slot] = []
    literal: list[str] = []
    i = 0
    while i < len(element):
        ch = element[i]
        if ch in "{}" and element[i + 1 : i + 2] == ch:
            literal.append(ch)
            i += 2
        elif ch == "{":
            end = element.find("}", i + 1)
            if end == -1:
                raise ValueError("unclosed '{'")
            name = element[i + 1 : end]
            if not _ARG_NAME.fullmatch(name):
                raise ValueError("a placeholder must be {name} with a plain argument name")
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(_Slot(name))
            i = end + 1
        elif ch == "}":
            raise ValueError("single '}' (write '}}' for a literal brace)")
        else:
            literal.append(ch)
            i += 1
    if literal:
        pieces.append("".join(literal))
    return pieces


def render_argv(spec: ToolSpec, args: Mapping[str, str | int]) -> tuple[str, ...]:
    """Substitute validated arguments into the argv template, element by element.

    Raises ValueError for a template problem or a missing value: both are caught by
    `check_template` and `validate_args` first, so at run time this is a bug, not a denial.
    """
    rendered: list[str] = []
    for index, element in enumerate(spec.argv):
        try:
            pieces = _parse_template(element)
        except ValueError as exc:
            raise ValueError(f"tool {spec.name}: argv[{index}]: {exc}") from None
        parts: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            if piece.name not in args:
                raise ValueError(f"tool {spec.name}: no value for {{{piece.name}}}")
            value = args[piece.name]
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise TypeError(f"tool {spec.name}: value for {{{piece.name}}} has a bad type")
            parts.append(str(value))
        text = "".join(parts)
        if "\x00" in text:
            raise ValueError(f"tool {spec.name}: argv[{index}] would contain a NUL")
        rendered.append(text)
    return tuple(rendered)


def _arg_problems(key: str, arg: ArgSpec) -> list[str]:
    where = f"argument {key!r}"
    problems: list[str] = []
    if arg.name != key:
        problems.append(f"{where}: its name is {arg.name!r}")
    if not _ARG_NAME.fullmatch(key):
        problems.append(f"{where}: names are letters, digits and _, not starting with a digit")
    if arg.pattern is not None:
        try:
            re.compile(arg.pattern)
        except re.error as exc:
            problems.append(f"{where}: pattern does not compile: {exc}")
    if arg.type is ArgType.CHOICE and not arg.choices:
        problems.append(f"{where}: a choice needs choices")
    if arg.min is not None and arg.max is not None and arg.min > arg.max:
        problems.append(f"{where}: min is greater than max")
    if arg.max_len < 1:
        problems.append(f"{where}: max_len must be at least 1")
    if arg.default is not None:
        checked = _check(arg, str(arg.default))
        if isinstance(checked, ArgError):
            problems.append(f"{where}: the default is invalid: {checked.message}")
    return problems


def check_template(spec: ToolSpec) -> list[str]:
    """Every problem with a tool spec, as lines naming the tool; empty when it is sound."""
    problems: list[str] = []
    if not _TOOL_NAME.fullmatch(spec.name):
        problems.append("the name must be letters, digits, . _ - (at most 64)")
    if not (math.isfinite(spec.timeout) and spec.timeout > 0):
        problems.append("timeout must be a positive number of seconds")
    problems.extend(
        f"secret {s!r} is not an environment variable name"
        for s in spec.secrets
        if not _ENV_NAME.fullmatch(s)
    )
    if spec.kind == "command":
        if not spec.argv or not spec.argv[0]:
            problems.append("a command tool needs argv with the program first")
        if spec.code:
            problems.append("a command tool has no code")
    elif spec.kind == "python":
        if not spec.code.strip():
            problems.append("a python tool needs code")
    else:
        problems.append("kind must be command or python")
    used: set[str] = set()
    for index, element in enumerate(spec.argv):
        if "\x00" in element:
            problems.append(f"argv[{index}] contains a NUL")
        try:
            pieces = _parse_template(element)
        except ValueError as exc:
            problems.append(f"argv[{index}]: {exc}")
            continue
        for piece in pieces:
            if isinstance(piece, _Slot):
                used.add(piece.name)
                if index == 0:
                    problems.append("argv[0] (the program) must not contain a placeholder")
                if piece.name not in spec.args:
                    problems.append(f"argv[{index}]: unknown placeholder {{{piece.name}}}")
    for key, arg in spec.args.items():
        problems.extend(_arg_problems(key, arg))
        if spec.kind == "command" and key not in used:
            problems.append(f"argument {key!r} is declared but not used in argv")
    return [f"tool {spec.name!r}: {p}" for p in problems]


def usage(spec: ToolSpec) -> str:
    """One line for people: `logs service=<api|db> [lines=<int 1..1000, default 100>]`."""
    parts = [spec.name]
    for name, arg in spec.args.items():
        if arg.type is ArgType.CHOICE:
            kind = "|".join(arg.choices)
        elif arg.type is ArgType.INT:
            low = arg.min if arg.min is not None else 0
            kind = f"int {low}..{arg.max}" if arg.max is not None else f"int >= {low}"
        else:
            kind = str(arg.type)
        if arg.required:
            parts.append(f"{name}=<{kind}>")
        else:
            parts.append(f"[{name}=<{kind}, default {arg.default}>]")
    return " ".join(parts)
