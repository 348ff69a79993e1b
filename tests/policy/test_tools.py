"""Tests for tool invocation parsing, argument validation and argv rendering in policy/tools.py."""

from __future__ import annotations

import posixpath
import random

import pytest

from policy.autonomy import Risk
from policy.reasons import Reason
from policy.tools import (
    MAX_INVOCATION_CHARS,
    ArgError,
    ArgSpec,
    ArgType,
    ParseError,
    ToolRequest,
    ToolSpec,
    check_template,
    parse_invocation,
    render_argv,
    usage,
    validate_args,
)


def tool(argv: tuple[str, ...], *args: ArgSpec, kind: str = "command", code: str = "") -> ToolSpec:
    """A command tool with the given argv template and arguments."""
    return ToolSpec(
        name="t",
        kind=kind,  # type: ignore[arg-type]
        argv=argv,
        code=code,
        args={a.name: a for a in args},
        risk=Risk.LOW,
        timeout=10.0,
    )


LOGS = tool(
    ("journalctl", "-u", "{service}", "--lines={lines}", "--no-pager"),
    ArgSpec(name="service", type=ArgType.CHOICE, choices=("api", "db")),
    ArgSpec(name="lines", type=ArgType.INT, min=1, max=1000, default=100),
)


# -- parse_invocation ----------------------------------------------------------------------

PARSE_OK = [
    ("disk_usage", "disk_usage", {}),
    ("logs service=api lines=100", "logs", {"service": "api", "lines": "100"}),
    ('grep pattern="a b"', "grep", {"pattern": "a b"}),
    ("grep pattern='x=y; rm -rf /'", "grep", {"pattern": "x=y; rm -rf /"}),
    ("grep pattern=", "grep", {"pattern": ""}),
    ("  logs   service=api  ", "logs", {"service": "api"}),
    ("grep pattern=$(id)`id`|cat", "grep", {"pattern": "$(id)`id`|cat"}),
    ("grep pattern=#notacomment", "grep", {"pattern": "#notacomment"}),
]


@pytest.mark.parametrize(
    ("text", "tool_name", "raw"),
    PARSE_OK,
    ids=[
        "bare",
        "two-args",
        "double-quoted",
        "single-quoted-with-shell-chars",
        "empty-value",
        "extra-spaces",
        "shell-syntax-is-just-text",
        "hash-is-not-a-comment",
    ],
)
def test_parse_ok(text: str, tool_name: str, raw: dict[str, str]) -> None:
    """Valid invocations split into a tool name and name=value pairs, with no shell meaning."""
    assert parse_invocation(text) == ToolRequest(tool=tool_name, raw_args=raw)


PARSE_BAD = [
    ("", Reason.EMPTY_MESSAGE, "name a tool"),
    ("   \t", Reason.EMPTY_MESSAGE, "name a tool"),
    ('""', Reason.BAD_ARGUMENTS, "not a tool name"),
    ("logs service=api service=db", Reason.BAD_ARGUMENTS, "'service' is given twice"),
    ("logs api", Reason.BAD_ARGUMENTS, "argument 1 is not of the form name=value"),
    ("logs service=api hunter2", Reason.BAD_ARGUMENTS, "argument 2 is not"),
    ("logs =api", Reason.BAD_ARGUMENTS, "argument 1 is not"),
    ("logs 1x=api", Reason.BAD_ARGUMENTS, "argument 1 is not"),
    ('logs pattern="unclosed', Reason.BAD_ARGUMENTS, "unbalanced quotes"),
    ("../bin/sh", Reason.BAD_ARGUMENTS, "not a tool name"),
    ("logs\x00 a=b", Reason.BAD_ARGUMENTS, "NUL"),
    ("x" * (MAX_INVOCATION_CHARS + 1), Reason.INPUT_TOO_LARGE, "too long"),
]


@pytest.mark.parametrize(
    ("text", "reason", "fragment"),
    PARSE_BAD,
    ids=[
        "empty",
        "whitespace",
        "empty-tool-name",
        "duplicate",
        "bare-word",
        "bare-word-later",
        "empty-name",
        "name-starts-with-digit",
        "unclosed-quote",
        "path-as-tool",
        "nul",
        "too-long",
    ],
)
def test_parse_errors(text: str, reason: Reason, fragment: str) -> None:
    """Malformed invocations are refused with a reason and a message that does not echo values."""
    got = parse_invocation(text)
    assert isinstance(got, ParseError)
    assert got.reason is reason
    assert fragment in got.message
    assert "hunter2" not in got.message


# -- validate_args -------------------------------------------------------------------------


def test_validate_fills_defaults_and_converts_ints() -> None:
    """A valid request yields typed values, with defaults for what was left out."""
    assert validate_args(LOGS, {"service": "db"}) == {"service": "db", "lines": 100}
    assert validate_args(LOGS, {"service": "api", "lines": "7"}) == {"service": "api", "lines": 7}


def test_unknown_and_missing_arguments() -> None:
    """Unknown names are refused with the list of real ones; required ones must be given."""
    unknown = validate_args(LOGS, {"service": "api", "bogus": "1"})
    assert unknown == ArgError(
        arg="bogus", message="unknown argument 'bogus'; t takes: service, lines"
    )
    missing = validate_args(LOGS, {})
    assert missing == ArgError(arg="service", message="missing required argument 'service'")
    weird = validate_args(LOGS, {"service": "api", "a b;c": "1"})
    assert isinstance(weird, ArgError)
    assert weird.arg is None
    assert "a b;c" not in weird.message


INT_SPEC = ArgSpec(name="n", type=ArgType.INT, min=1, max=1000)
NEG_SPEC = ArgSpec(name="n", type=ArgType.INT, min=-10, max=10)
OPEN_SPEC = ArgSpec(name="n", type=ArgType.INT)
CHOICE_SPEC = ArgSpec(name="c", type=ArgType.CHOICE, choices=("api", "db"))
PATH_SPEC = ArgSpec(name="p", type=ArgType.PATH, max_len=64)
STR_SPEC = ArgSpec(name="s", type=ArgType.STR, max_len=16)
PATTERN_SPEC = ArgSpec(name="s", type=ArgType.STR, pattern=r"-?[a-z]+")
NEG_OK = ArgSpec(name="s", type=ArgType.STR, pattern=r"-?[0-9]+")

VALUES = [
    (INT_SPEC, "1", 1),
    (INT_SPEC, "1000", 1000),
    (INT_SPEC, "+5", 5),
    (INT_SPEC, "0", "an integer from 1 to 1000"),
    (INT_SPEC, "1001", "an integer from 1 to 1000"),
    (INT_SPEC, "1_000", "an integer"),
    (INT_SPEC, " 5", "an integer"),
    (INT_SPEC, "٥", "an integer"),
    (INT_SPEC, "5.0", "an integer"),
    (INT_SPEC, "9" * 40, "an integer"),
    (INT_SPEC, "", "an integer"),
    (NEG_SPEC, "-10", -10),
    (NEG_SPEC, "-11", "from -10 to 10"),
    (OPEN_SPEC, "-1", "an integer of at least 0"),
    (OPEN_SPEC, "123456789", 123456789),
    (CHOICE_SPEC, "api", "api"),
    (CHOICE_SPEC, "API", "must be one of: api, db"),
    (CHOICE_SPEC, "api ", "must be one of"),
    (PATH_SPEC, "logs/app.log", "logs/app.log"),
    (PATH_SPEC, "a/b/", "a/b/"),
    (PATH_SPEC, ".", "."),
    (PATH_SPEC, "./x", "./x"),
    (PATH_SPEC, "a/-rf", "a/-rf"),
    (PATH_SPEC, "/etc/passwd", "relative to the workspace"),
    (PATH_SPEC, "../secret", "'..'"),
    (PATH_SPEC, "a/../../b", "'..'"),
    (PATH_SPEC, "a/..", "'..'"),
    (PATH_SPEC, "a\\b", "backslashes"),
    (PATH_SPEC, "-rf", "must not start with '-'"),
    (PATH_SPEC, "~/x", "may contain only"),
    (PATH_SPEC, "a b", "may contain only"),
    (PATH_SPEC, "a//b", "empty components"),
    (PATH_SPEC, "a\x00b", "control"),
    (PATH_SPEC, "é.txt", "may contain only"),
    (PATH_SPEC, "$HOME", "may contain only"),
    (PATH_SPEC, "", "must not be empty"),
    (PATH_SPEC, "a" * 65, "too long"),
    (STR_SPEC, "hello world", "hello world"),
    (STR_SPEC, "", ""),
    (STR_SPEC, "naïve 🙂", "naïve 🙂"),
    (STR_SPEC, "👩\u200d💻", "👩\u200d💻"),
    (STR_SPEC, "-rf", "must not start with '-'"),
    (STR_SPEC, "a\nb", "control"),
    (STR_SPEC, "a\x1b[31m", "control"),
    (STR_SPEC, "abc\u202edcba", "control"),
    (STR_SPEC, "a\u2028b", "control"),
    (STR_SPEC, "zero\u200bwidth", "control"),
    (STR_SPEC, "x" * 17, "too long (at most 16 characters)"),
    (PATTERN_SPEC, "-abc", "-abc"),
    (PATTERN_SPEC, "abc", "abc"),
    (PATTERN_SPEC, "abc1", "expected format"),
    (PATTERN_SPEC, "abc\n", "control"),
    (NEG_OK, "-5", "-5"),
]


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    VALUES,
    ids=[
        "int-min",
        "int-max",
        "int-plus-sign",
        "int-below",
        "int-above",
        "int-underscore",
        "int-space",
        "int-arabic-digit",
        "int-float",
        "int-huge",
        "int-empty",
        "int-negative-allowed",
        "int-negative-below",
        "int-negative-needs-min",
        "int-open-max",
        "choice",
        "choice-case",
        "choice-trailing-space",
        "path",
        "path-trailing-slash",
        "path-dot",
        "path-dot-slash",
        "path-dash-inside",
        "path-absolute",
        "path-dotdot",
        "path-dotdot-nested",
        "path-dotdot-last",
        "path-backslash",
        "path-leading-dash",
        "path-tilde",
        "path-space",
        "path-double-slash",
        "path-nul",
        "path-non-ascii",
        "path-dollar",
        "path-empty",
        "path-too-long",
        "str",
        "str-empty",
        "str-unicode",
        "str-zwj-emoji",
        "str-leading-dash",
        "str-newline",
        "str-ansi-escape",
        "str-bidi-override",
        "str-line-separator",
        "str-zero-width-space",
        "str-too-long",
        "pattern-allows-dash",
        "pattern",
        "pattern-mismatch",
        "pattern-no-newline-sneak",
        "pattern-negative-number",
    ],
)
def test_validate_value(spec: ArgSpec, value: str, expected: str | int) -> None:
    """Each row is one value against one typed spec: accepted as `expected`, or refused."""
    got = validate_args(tool(("prog", f"{{{spec.name}}}"), spec), {spec.name: value})
    if isinstance(got, ArgError):
        assert isinstance(expected, str)
        assert expected in got.message, got.message
        assert got.arg == spec.name
        assert got.reason is Reason.BAD_ARGUMENTS
        if len(value) > 3:
            assert value not in got.message
    else:
        assert got == {spec.name: expected}


def test_bad_pattern_fails_closed() -> None:
    """A pattern that does not compile refuses the value rather than skipping the check."""
    spec = ArgSpec(name="s", type=ArgType.STR, pattern="([")
    got = validate_args(tool(("prog", "{s}"), spec), {"s": "anything"})
    assert isinstance(got, ArgError)
    assert "misconfigured" in got.message


def test_non_text_value_refused() -> None:
    """A value that is not a string (e.g. from a decoded payload) is refused."""
    got = validate_args(LOGS, {"service": 5})  # type: ignore[dict-item]
    assert isinstance(got, ArgError)


# -- render_argv ---------------------------------------------------------------------------


RENDER = [
    (("journalctl", "-u", "{s}"), {"s": "api"}, ("journalctl", "-u", "api")),
    (("head", "--lines={n}", "--"), {"n": 5}, ("head", "--lines=5", "--")),
    (("grep", "-e", "{s}"), {"s": "a b; rm -rf /"}, ("grep", "-e", "a b; rm -rf /")),
    (("echo", "{s}"), {"s": "{n}"}, ("echo", "{n}")),
    (("echo", "{{s}}", "{{{s}}}"), {"s": "x"}, ("echo", "{s}", "{x}")),
    (("echo", "{s}{n}", "pre-{s}-post"), {"s": "a", "n": 1}, ("echo", "a1", "pre-a-post")),
    (("echo", "{s}"), {"s": ""}, ("echo", "")),
    (("json", '{{"k": "{s}"}}'), {"s": "v"}, ("json", '{"k": "v"}')),
]


@pytest.mark.parametrize(
    ("argv", "args", "expected"),
    RENDER,
    ids=[
        "whole-element",
        "part-of-element",
        "spaces-never-split",
        "value-not-re-expanded",
        "escaped-braces",
        "several-in-one",
        "empty-value-keeps-element",
        "literal-json",
    ],
)
def test_render_argv(
    argv: tuple[str, ...], args: dict[str, str | int], expected: tuple[str, ...]
) -> None:
    """Substitution is per element, literal, and never re-splits or re-expands a value."""
    spec = tool(
        argv, ArgSpec(name="s", type=ArgType.STR), ArgSpec(name="n", type=ArgType.INT, default=1)
    )
    assert render_argv(spec, args) == expected


def test_end_to_end_parse_validate_render() -> None:
    """A chat request becomes exactly the argv the operator templated."""
    request = parse_invocation("logs service=db lines=25")
    assert isinstance(request, ToolRequest)
    args = validate_args(LOGS, request.raw_args)
    assert not isinstance(args, ArgError)
    assert render_argv(LOGS, args) == ("journalctl", "-u", "db", "--lines=25", "--no-pager")


@pytest.mark.parametrize(
    ("argv", "args", "error", "fragment"),
    [
        (("echo", "{missing}"), {}, ValueError, "no value for {missing}"),
        (("echo", "{s"), {"s": "x"}, ValueError, "unclosed"),
        (("echo", "s}"), {"s": "x"}, ValueError, "single '}'"),
        (("echo", "{s}"), {"s": True}, TypeError, "bad type"),
        (("echo", "{s}"), {"s": 1.5}, TypeError, "bad type"),
        (("echo", "{s}"), {"s": "a\x00"}, ValueError, "NUL"),
    ],
    ids=["missing-value", "unclosed", "stray-close", "bool", "float", "nul"],
)
def test_render_argv_refuses(
    argv: tuple[str, ...], args: dict[str, object], error: type[Exception], fragment: str
) -> None:
    """Template and value bugs raise instead of rendering something unintended."""
    spec = tool(argv, ArgSpec(name="s", type=ArgType.STR))
    with pytest.raises(error, match=fragment):
        render_argv(spec, args)  # type: ignore[arg-type]


# -- check_template ------------------------------------------------------------------------


def test_sound_spec_has_no_problems() -> None:
    """A well-formed spec passes config validation."""
    assert check_template(LOGS) == []
    python_tool = tool(
        (), ArgSpec(name="n", type=ArgType.INT, default=1), kind="python", code="print(1)"
    )
    assert check_template(python_tool) == []


SPEC_PROBLEMS = [
    (tool(("echo", "{nope}")), "unknown placeholder {nope}"),
    (tool(("{s}",), ArgSpec(name="s", type=ArgType.STR)), "argv[0] (the program)"),
    (tool(()), "needs argv"),
    (tool(("echo", "{a b}")), "plain argument name"),
    (tool(("echo", "}")), "single '}'"),
    (tool(("echo",), ArgSpec(name="s", type=ArgType.STR)), "'s' is declared but not used"),
    (tool(("echo",), kind="python"), "needs code"),
    (tool(("echo",), code="x"), "has no code"),
    (tool(("echo",), kind="shell"), "kind must be"),
    (tool(("e", "{c}"), ArgSpec(name="c", type=ArgType.CHOICE)), "needs choices"),
    (tool(("e", "{n}"), ArgSpec(name="n", type=ArgType.INT, min=5, max=1)), "min is greater"),
    (
        tool(("e", "{n}"), ArgSpec(name="n", type=ArgType.INT, max=9, default=10)),
        "default is invalid",
    ),
    (tool(("e", "{s}"), ArgSpec(name="s", type=ArgType.STR, pattern="(")), "does not compile"),
    (tool(("e", "{s}"), ArgSpec(name="s", type=ArgType.STR, max_len=0)), "max_len"),
    (
        tool(("e", "{p}"), ArgSpec(name="p", type=ArgType.PATH, default="/etc")),
        "default is invalid",
    ),
]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    SPEC_PROBLEMS,
    ids=[
        "unknown-placeholder",
        "placeholder-in-program",
        "no-argv",
        "bad-placeholder-name",
        "stray-brace",
        "unused-arg",
        "python-without-code",
        "command-with-code",
        "unknown-kind",
        "choice-without-choices",
        "min-over-max",
        "bad-int-default",
        "bad-pattern",
        "zero-max-len",
        "absolute-path-default",
    ],
)
def test_check_template_finds(spec: ToolSpec, fragment: str) -> None:
    """Each broken spec is reported, with the tool named."""
    problems = check_template(spec)
    assert any(fragment in p for p in problems), problems
    assert all(p.startswith("tool 't': ") for p in problems)


def test_check_template_other_fields() -> None:
    """Tool name, timeout, secret names and mismatched arg keys are checked too."""
    spec = ToolSpec(
        name="bad name",
        kind="command",
        argv=("echo", "{x}"),
        args={"x": ArgSpec(name="y", type=ArgType.STR)},
        risk=Risk.HIGH,
        timeout=0,
        secrets=("lower-case",),
    )
    text = "\n".join(check_template(spec))
    for fragment in [
        "the name must be",
        "timeout",
        "'lower-case' is not an environment",
        "its name is 'y'",
    ]:
        assert fragment in text


def test_usage_line() -> None:
    """usage() shows required and optional arguments with their types."""
    assert usage(LOGS) == "t service=<api|db> [lines=<int 1..1000, default 100>]"


def test_required_follows_default() -> None:
    """An argument is required exactly when it has no default."""
    assert ArgSpec(name="a", type=ArgType.STR).required
    assert not ArgSpec(name="a", type=ArgType.STR, default="").required


# -- property-ish: seeded random inputs ----------------------------------------------------

_PATH_ATOMS = [
    "a",
    "b.txt",
    ".",
    "..",
    "/",
    "//",
    "-",
    "~",
    "\\",
    " ",
    "\x00",
    "é",
    "x-y",
    "_",
    "@",
]


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
def test_accepted_paths_stay_inside_the_workspace(seed: int) -> None:
    """Whatever random path is accepted resolves inside the workspace and is not an option."""
    rng = random.Random(seed)
    accepted = 0
    for _ in range(2000):
        value = "".join(rng.choice(_PATH_ATOMS) for _ in range(rng.randint(1, 6)))
        got = validate_args(tool(("prog", "{p}"), PATH_SPEC), {"p": value})
        if isinstance(got, ArgError):
            continue
        accepted += 1
        resolved = posixpath.normpath(posixpath.join("/ws", value))
        assert resolved == "/ws" or resolved.startswith("/ws/"), value
        assert not value.startswith(("-", "/", "~"))
        assert ".." not in value.split("/")
    assert accepted > 50  # the generator does produce valid paths, so the check above ran


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
def test_rendered_values_are_never_split_or_expanded(seed: int) -> None:
    """Random accepted strings land verbatim in exactly their own argv element."""
    rng = random.Random(seed)
    atoms = [" ", "'", '"', "{", "}", "{s}", "$(x)", ";", "|", "*", "a", "é", "\t", "-"]
    spec = tool(("prog", "--x={s}", "{s}", "{{s}}"), ArgSpec(name="s", type=ArgType.STR))
    for _ in range(1000):
        value = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 8)))
        args = validate_args(spec, {"s": value})
        if isinstance(args, ArgError):
            assert value.startswith("-") or "\t" in value
            continue
        assert render_argv(spec, args) == ("prog", f"--x={value}", value, "{s}")


def test_chat_typography_reads_as_plain() -> None:
    """Curly double quotes and no-break spaces from chat clients act as their plain forms."""
    assert parse_invocation("grep pattern=\u201ca b\u201d") == ToolRequest(
        tool="grep", raw_args={"pattern": "a b"}
    )
    assert parse_invocation("logs\u00a0service=api") == ToolRequest(
        tool="logs", raw_args={"service": "api"}
    )
