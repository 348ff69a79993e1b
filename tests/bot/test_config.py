"""Config loading: the example loads, mistakes are reported all at once by key, secrets stay out of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config, parse_config, parse_duration
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _problems(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    return list(e.value.problems)


def test_example_config_loads() -> None:
    """config.example.yaml documents every key and must itself be valid."""
    config = load_config(ROOT / "config.example.yaml")
    assert {t.name for t in config.tools} >= {"hello", "restart_service"}
    assert config.approvals.timeout == 900


def test_empty_config_is_valid_and_closed() -> None:
    """With nothing configured there are no tools and no grants (fail closed)."""
    config = parse_config({})
    assert config.tools == () and config.permissions.global_.tools == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"storag": {}}, "storag: unknown key"),
        ({"storage": {"path": 3}}, "storage.path"),
        ({"tools": [{"name": "x", "argv": ["echo"], "risk": "extreme"}]}, "tools[0].risk"),
        ({"tools": [{"name": "x", "argv": ["echo", "{n}"]}]}, "unknown placeholder {n}"),
        (
            {"tools": [{"name": "x", "argv": ["echo"], "args": {"n": {"type": "int"}}}]},
            "declared but not used",
        ),
        ({"permissions": {"global": {"tools": ["ghost"]}}}, "unknown tool 'ghost'"),
        ({"roles": {"admins": ["alice"]}}, "roles.admins: 'alice' is not a user id"),
        ({"approvals": {"timeout": "soon"}}, "approvals.timeout"),
        ({"autonomy": {"default": "yolo"}}, "autonomy.default"),
        (
            {"platforms": {"slack": {"enabled": True, "mode": "http"}}},
            "signing_secret: required in http mode",
        ),
    ],
    ids=[
        "misspelt-key",
        "wrong-type",
        "bad-choice",
        "bad-placeholder",
        "unused-arg",
        "unknown-tool",
        "bad-user-id",
        "bad-duration",
        "bad-level",
        "contradiction",
    ],
)
def test_problems_name_the_key(data: dict[str, object], expected: str) -> None:
    """Each mistake is reported with the key it is about."""
    assert any(expected in p for p in _problems(data)), _problems(data)


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes give several lines in one error."""
    problems = _problems({"storag": {}, "loggin": {}, "audit": {"retention_days": 0}})
    assert len(problems) == 3


@pytest.mark.parametrize(
    "literal",
    [
        "xoxb-123456789012-abcdefghijkl",
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ],
    ids=["slack", "telegram", "github"],
)
def test_literal_credentials_are_refused_and_not_echoed(literal: str) -> None:
    """A token written into the file is refused, and the error does not repeat it."""
    problems = _problems(
        {
            "platforms": {"telegram": {"token": literal}},
            "tools": [{"name": "x", "argv": ["echo", literal]}],
        }
    )
    assert any("literal credential" in p for p in problems)
    assert all(literal not in p for p in problems)


def test_secret_reference_resolves_from_the_given_environment() -> None:
    """`${NAME}` is looked up in the environment passed in, never in the file."""
    config = parse_config({"platforms": {"telegram": {"token": "${TG}"}}})
    assert config.secret(config.platforms.telegram.token, {"TG": "value"}) == "value"
    assert config.secret(config.platforms.telegram.token, {}) is None


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("15m", 900), ("1h", 3600), (30, 30), ("500ms", 0.5)]
)
def test_durations(text: object, seconds: float) -> None:
    """Durations accept plain seconds and unit suffixes."""
    assert parse_duration(text) == seconds


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    """A missing config file points at the example."""
    with pytest.raises(ConfigError, match=r"config\.example\.yaml"):
        load_config(tmp_path / "nope.yaml")
