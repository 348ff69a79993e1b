"""Table-driven tests for source hosting and package registry tokens."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor

R = Redactor(RedactionConfig(pii=frozenset()))

FOUND = [
    (
        "github pat",
        "git push https://ghp_wnhfq1g8i01xyjcei3hxqqstls4hwgb21n6x@github.com",
        "ghp_wnhfq1g8i01",
        "github_token",
    ),
    ("github app token", "ghs_shfjboxosylq4rdxi34kpp82ucrpqq0306y0", "ghs_shfj", "github_token"),
    (
        "github fine grained pat",
        "github_pat_11ABCDEFG0" + "aB3dE5gH7j" * 8,
        "aB3dE5gH7j",
        "github_token",
    ),
    ("gitlab pat", "token glpat-2yfb9xdexfhsjsb6pmoz here", "glpat-2yfb", "gitlab_token"),
    ("gitlab runner token", "glrt-ejwvd21wqliugp422rjq", "glrt-ejwv", "gitlab_token"),
    ("gitlab runner registration", "GR13489412x2hytdi2lkt2sub9f8r", "GR1348941", "gitlab_token"),
    ("npm token", "npm_" + "a1B2c3D4e5" * 3 + "f6G7h8", "npm_a1B2", "npm_token"),
    (
        "npmrc auth token",
        "//registry.npmjs.org/:_authToken=346a14f2-a672-4668-a892-956a462ab56e",
        "346a14f2",
        "npm_token",
    ),
    ("pypi token", "pypi-AgEIcHlwaS5vcmc" + "Q2xZ9pLm3K" * 7, "pypi-AgEI", "pypi_token"),
]

KEPT = [
    ("masked github token", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("masked gitlab token", "glpat-XXXXXXXXXXX-XXXXXXXX"),
    ("too short gitlab token", "glpat-hellOWorld380 testin"),
    ("digits only registration token", "GR134894112312312312312312312"),
    ("npm token from env", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"),
]


@pytest.mark.parametrize(
    ("text", "secret", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_vcs_tokens_are_redacted(text: str, secret: str, kind: str) -> None:
    """Every source-hosting token format is replaced and typed."""
    result = R.redact(text)
    assert secret not in result.text
    assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_vcs_look_alikes_are_kept(text: str) -> None:
    """Masks, short strings and references stay as they are."""
    assert R.redact_text(text) == text
