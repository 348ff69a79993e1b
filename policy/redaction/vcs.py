"""Source hosting and package registry tokens: GitHub, GitLab, Bitbucket, npm, PyPI, RubyGems, Clojars."""

from __future__ import annotations

from .base import RuleSet, rule
from .entropy import is_masked

__all__ = ["VCS"]

_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"


def _body_real(value: str) -> bool:
    """The part after the first `_` or `-` is not a mask."""
    for sep in ("_", "-"):
        if sep in value:
            return not is_masked(value.split(sep, 1)[1])
    return not is_masked(value)


VCS = RuleSet(
    [
        rule(
            "github_token",
            _B + r"gh[pousr]_[A-Za-z0-9]{36,255}" + _E,
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            check=_body_real,
            anchored=True,
        ),
        rule(
            "github_token",
            _B + r"github_pat_[A-Za-z0-9_]{60,255}" + _E,
            "github_pat_",
            check=lambda v: not is_masked(v[11:]),
        ),
        rule(
            "gitlab_token",
            _B
            + r"(?:(?:glpat|gldt|glft|glrt|glcbt|glffct|glsoat)-[\w-]{20,50}"
            + r"|glpat-[\w-]{27,300}\.[\w]{2}[\w-]{7}"
            + r"|glrt-[\w-]{27,300}\.[\w]{2}[\w-]{7}"
            + r"|glptt-[\w-]{40}|gloas-[\w-]{64}|glagent-[\w-]{50,1024}|glimt-[\w-]{25}"
            + r"|GR1348941[\w-]{20,50})(?![\w.-])",
            *[
                "glpat-",
                "gldt-",
                "glft-",
                "glrt-",
                "glcbt-",
                "glffct-",
                "glsoat-",
                "glptt-",
                "gloas-",
                "glagent-",
                "glimt-",
            ],
            "GR1348941",
            anchored=True,
            check=lambda v: _body_real(v) and not (v.startswith("GR") and v[9:].isdigit()),
        ),
        rule(
            "gitlab_session_cookie",
            r"_gitlab_session=(?P<v>[0-9a-z]{32})" + _E,
            "_gitlab_session=",
            group="v",
        ),
        rule("npm_token", _B + r"npm_[A-Za-z0-9]{36}" + _E, "npm_", check=_body_real),
        rule(
            "npm_token",
            r"_authToken\s*=\s*(?P<v>[A-Za-z0-9_.-]{8,200})",
            "_authToken",
            group="v",
        ),
        rule(
            "pypi_token",
            _B + r"pypi-Ag[EI][A-Za-z0-9_-]{50,400}(?![\w-])",
            "pypi-Ag",
        ),
        rule("rubygems_token", _B + r"rubygems_[a-f0-9]{48}" + _E, "rubygems_"),
        rule(
            "clojars_token",
            r"(?i)CLOJARS_[a-z0-9]{60}" + _E,
            "clojars_",
            nocase=True,
            anchored=True,
        ),
        rule(
            "bitbucket_app_password",
            _B + r"ATBB[A-Za-z0-9_=.-]{28,40}" + _E,
            "ATBB",
            check=_body_real,
        ),
        rule(
            "atlassian_token",
            _B + r"ATATT3[A-Za-z0-9_=-]{180,200}(?![\w=-])",
            "ATATT3",
        ),
        rule(
            "sourcegraph_token",
            _B + r"sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}" + _E,
            "sgp_",
        ),
        rule("droneci_token", _B + r"drone_[A-Za-z0-9]{32}" + _E, "drone_"),
    ]
)
