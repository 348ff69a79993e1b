"""Python snippets: the interpreter wrapper, sys.argv, exit codes and the module allowlist."""

from __future__ import annotations

import pytest

from sandbox import RunSpec, Sandbox


async def _snippet(sb: Sandbox, code: str, allowed: tuple[str, ...] | None) -> str:
    """Run a snippet and return stdout plus stderr."""
    result = await sb.run(RunSpec(run_id="snip", python=code, allowed_modules=allowed))
    return result.stdout + result.stderr


GUARD_CASES = [
    ("allowed-module", "import json\nprint(json.dumps([1]))", ("json",), "[1]"),
    ("allowed-submodule", "import json.decoder\nprint('ok')", ("json",), "ok"),
    ("denied-module", "import os", ("json",), "import of 'os' is not allowed"),
    ("denied-from-import", "from socket import socket", ("json",), "import of 'socket' is not allowed"),
    ("denied-dunder-import", "__import__('subprocess')", ("json",), "import of 'subprocess' is not allowed"),
    ("denied-via-exec", "exec('import ctypes')", ("json",), "import of 'ctypes' is not allowed"),
    ("denied-importlib", "import importlib", ("json",), "import of 'importlib' is not allowed"),
    ("allowed-module-own-deps", "import decimal\nprint(decimal.Decimal('1.5') * 2)", ("decimal",), "3.0"),
    ("no-allowlist", "import os, socket\nprint('free')", None, "free"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "allowed", "expected"),
    [case[1:] for case in GUARD_CASES],
    ids=[case[0] for case in GUARD_CASES],
)
async def test_module_allowlist(
    sb: Sandbox, code: str, allowed: tuple[str, ...] | None, expected: str
) -> None:
    """The import guard allows listed modules (and their own imports) and refuses the rest."""
    assert expected in await _snippet(sb, code, allowed)


async def test_snippet_exit_code_and_traceback(sb: Sandbox) -> None:
    """SystemExit sets the exit code; an uncaught exception gives 1 and a traceback."""
    exited = await sb.run(RunSpec(run_id="e", python="raise SystemExit(7)"))
    assert exited.exit_code == 7
    failed = await sb.run(RunSpec(run_id="f", python="1/0"))
    assert failed.exit_code == 1
    assert "ZeroDivisionError" in failed.stderr


async def test_snippet_reads_stdin_and_sees_name_main(sb: Sandbox) -> None:
    """A snippet runs as __main__ and reads the run's stdin."""
    code = "import sys\nprint(__name__, sys.stdin.read().upper())"
    result = await sb.run(RunSpec(run_id="s", python=code, stdin=b"abc"))
    assert result.stdout == "__main__ ABC\n"


async def test_large_snippet_is_passed_by_file(sb: Sandbox) -> None:
    """A snippet larger than one argv string (128 KiB) still runs."""
    code = "x = '" + "a" * 200_000 + "'\nprint(len(x))"
    result = await sb.run(RunSpec(run_id="big", python=code))
    assert result.stdout == "200000\n"
