"""The import rules of DESIGN.md: policy and sandbox import nothing of ours; storage only policy; adapters only bot.types and policy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"bot", "adapters", "policy", "storage", "sandbox"}
ALLOWED: dict[str, set[str]] = {
    "policy": {"policy"},
    "sandbox": {"sandbox"},
    "storage": {"storage", "policy"},
    "adapters": {"adapters", "policy", "bot.types"},
}
PLATFORM_LIBS = {"telegram", "slack_bolt", "slack_sdk", "aiosqlite", "asyncio"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    """No module of the package imports a package of ours it may not depend on."""
    bad = []
    for path in _files(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and not any(
                name == a or name.startswith(a + ".") or top == a for a in ALLOWED[package]
            ):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, bad


def test_policy_is_pure() -> None:
    """policy/ never imports asyncio, aiosqlite or a platform library."""
    bad = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in _files("policy")
        for n in _imports(p)
        if n.split(".")[0] in PLATFORM_LIBS
    ]
    assert not bad, bad


def test_only_sandbox_spawns_processes() -> None:
    """subprocess and asyncio's process functions appear only in sandbox/."""
    bad = []
    for package in OURS - {"sandbox"}:
        for path in _files(package):
            text = path.read_text()
            if "import subprocess" in text or "create_subprocess" in text or "os.system(" in text:
                bad.append(str(path.relative_to(ROOT)))
    assert not bad, bad
