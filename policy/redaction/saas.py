"""Payment, AI and SaaS API keys recognisable by a vendor prefix (Stripe, Twilio, OpenAI, ...).

Each entry is `(kind, regex, trigger)`; the regex starts at a token boundary and the body is
checked for masks (`sk_live_xxxxxxxx`) before a span is reported.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import RuleSet, rule
from .entropy import is_masked

__all__ = ["SAAS"]

_B = r"(?<![A-Za-z0-9_.])"
_E = r"(?![A-Za-z0-9_])"
_EH = r"(?![\w-])"


_ANCHORED = frozenset({"NRAK- NRII- NRJS- NRRA-", "live_ test_", "pat. sat.", "hvs. hvb."})
_GUARDS = {"pat": r"[A-Za-z0-9]{14}\.", "s.": r"[A-Za-z0-9]{24}"}
"""What must follow triggers that are common in ordinary text (`path`, `orders.py`)."""
_OFFSETS = {"k_": 1, ".atlasv1.": 14, "msh": 10, "-us": 32}


def _masked_after(prefix_len: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return prefix_len < 0 or not is_masked(value[prefix_len:])

    return check


_TABLE: tuple[tuple[str, str, str, int], ...] = (
    ("stripe_key", r"(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,99}" + _E, "k_", 8),
    ("stripe_webhook_secret", r"whsec_[A-Za-z0-9]{24,64}" + _E, "whsec_", 6),
    ("twilio_api_key", r"SK[0-9a-fA-F]{32}" + _E, "SK", 2),
    ("sendgrid_api_key", r"SG\.[\w-]{20,24}\.[\w-]{39,50}" + _EH, "SG.", 3),
    (
        "openai_api_key",
        r"sk-(?:(?:proj|svcacct|admin)-)?[\w-]{16,200}T3BlbkFJ[\w-]{16,200}" + _EH,
        "T3BlbkFJ",
        3,
    ),
    ("openai_api_key", r"sk-(?:proj|svcacct|admin)-[\w-]{58,200}" + _EH, "sk-", 8),
    ("anthropic_api_key", r"sk-ant-(?:api03|admin01)-[\w-]{93}AA" + _EH, "sk-ant-", 14),
    ("mailchimp_api_key", r"[0-9a-f]{32}-us\d{1,2}" + _E, "-us", 0),
    ("mailgun_api_key", r"key-[0-9a-f]{32}" + _E, "key-", 4),
    ("huggingface_token", r"(?:hf_|api_org_)[A-Za-z]{34}" + _E, "hf_ api_org_", 3),
    ("shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _E, "shp", 6),
    ("doppler_token", r"dp\.(?:pt|st|sa|scim|audit|ct)\.[A-Za-z0-9]{40,44}" + _E, "dp.", 6),
    ("dynatrace_token", r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}" + _E, "dt0c01.", 7),
    (
        "age_secret_key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}" + _E,
        "AGE-SECRET-KEY-",
        -1,
    ),
    (
        "onepassword_secret_key",
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})"
        r"-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}" + _E,
        "A3-",
        3,
    ),
    ("onepassword_token", r"ops_eyJ[A-Za-z0-9+/]{250,4000}={0,3}", "ops_eyJ", 7),
    ("planetscale_token", r"pscale_(?:tkn|oauth|pw)_[\w.=-]{32,64}" + _EH, "pscale_", 10),
    ("postman_api_key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _E, "PMAK-", 5),
    ("pulumi_token", r"pul-[a-f0-9]{40}" + _E, "pul-", 4),
    ("prefect_token", r"pnu_[A-Za-z0-9]{36}" + _E, "pnu_", 4),
    ("readme_token", r"rdme_[a-z0-9]{70}" + _E, "rdme_", 5),
    (
        "sentry_token",
        r"sntrys_eyJpYXQiO[A-Za-z0-9+/=]{50,2000}_[A-Za-z0-9+/]{43}(?![\w+/])",
        "sntrys_",
        7,
    ),
    ("sentry_token", r"sntryu_[a-f0-9]{64}" + _E, "sntryu_", 7),
    (
        "grafana_token",
        r"(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
        "glc_ glsa_",
        4,
    ),
    ("grafana_token", r"eyJrIjoi[A-Za-z0-9]{70,400}={0,2}", "eyJrIjoi", 8),
    ("settlemint_token", r"sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}" + _E, "sm_", 7),
    ("linear_api_key", r"lin_api_[A-Za-z0-9]{40}" + _E, "lin_api_", 8),
    ("notion_token", r"ntn_[0-9]{11}[A-Za-z0-9]{32}[A-Za-z0-9]{3}" + _E, "ntn_", 4),
    ("perplexity_api_key", r"pplx-[A-Za-z0-9]{48}" + _E, "pplx-", 5),
    (
        "flyio_token",
        r"(?:fo1_[\w-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,2000}={0,3}|fm2_[A-Za-z0-9+/]{100,2000}={0,3})",
        "fo1_ fm1 fm2_",
        4,
    ),
    ("frameio_token", r"fio-u-[\w=-]{64}" + _EH, "fio-u-", 6),
    ("duffel_token", r"duffel_(?:test|live)_[\w=-]{43}" + _EH, "duffel_", 12),
    ("easypost_token", r"EZ[AT]K[A-Za-z0-9]{54}" + _E, "EZ", 4),
    ("infracost_token", r"ico-[A-Za-z0-9]{32}" + _E, "ico-", 4),
    (
        "harness_token",
        r"(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}" + _E,
        "pat. sat.",
        4,
    ),
    ("terraform_token", r"[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,70}" + _EH, ".atlasv1.", 0),
    (
        "vault_token",
        r"s\.(?=[A-Za-z0-9]{24}(?![A-Za-z0-9_]))(?=[a-z0-9]{0,23}[A-Z])(?=[A-Z0-9]{0,23}[a-z])"
        r"(?=[A-Za-z]{0,23}[0-9])[A-Za-z0-9]{24}" + _E,
        "s.",
        2,
    ),
    ("vault_token", r"(?:hvs|hvb)\.[\w-]{90,300}" + _EH, "hvs. hvb.", 4),
    ("openshift_token", r"sha256~[\w-]{43}" + _EH, "sha256~", 7),
    ("octopus_api_key", r"API-[A-Z0-9]{26}" + _E, "API-", 4),
    ("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?" + _E, "dapi", 4),
    ("square_token", r"(?:EAAA|sq0atp-)[\w-]{22,60}" + _EH, "EAAA sq0atp-", 4),
    ("square_secret", r"sq0csp-[\w-]{43}" + _EH, "sq0csp-", 7),
    ("facebook_token", r"EAA[MC][A-Za-z0-9]{100,2000}" + _E, "EAA", 4),
    ("facebook_token", r"\d{15,16}(?:\||%7C)[\w-]{27}" + _EH, "| %7C", 0),
    ("newrelic_key", r"NR(?:AK|II|JS|RA)-[A-Za-z0-9-]{27,32}" + _EH, "NRAK- NRII- NRJS- NRRA-", 5),
    ("lob_api_key", r"(?:live|test)_(?:pub_)?[a-f0-9]{31,35}" + _E, "live_ test_", 5),
    ("shippo_token", r"shippo_(?:live|test)_[a-fA-F0-9]{40}" + _E, "shippo_", 12),
    ("scalingo_token", r"tk-us-[\w-]{48}" + _EH, "tk-us-", 6),
    ("typeform_token", r"tfp_[a-z0-9_.=-]{59}" + _EH, "tfp_", 4),
    ("sendinblue_key", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}" + _E, "xkeysib-", 8),
    ("snyk_token", r"snyk_[a-z]{3}_[\w-]{30,120}" + _EH, "snyk_", 9),
    ("flutterwave_key", r"FLW(?:PUBK|SECK)_TEST-[a-hA-H0-9]{12,32}(?:-X)?" + _E, "FLW", 13),
    ("gocardless_token", r"live_[\w=-]{40}" + _EH, "live_", 5),
    ("rapidapi_key", r"[a-z0-9]{10}msh[a-z0-9]{15}p[a-z0-9]{6}jsn[a-z0-9]{12}" + _E, "msh", 0),
    ("pypi_token", r"pypi-AgEIcHlwaS5vcmc[\w-]{50,2000}", "pypi-", 5),
    ("artifactory_key", r"(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59})" + _E, "AKCp cmVmd", 4),
    ("privateai_key", r"pai-[A-Za-z0-9]{32,48}" + _E, "pai-", 4),
    ("cohere_key", r"co-[A-Za-z0-9]{40}" + _E, "co-", 3),
    ("mapbox_token", r"[ps]k\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}" + _EH, "k.eyJ", 3),
    (
        "authress_key",
        r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}"
        r"\.[a-z0-9+/_=-]{30,120}",
        ".acc",
        0,
    ),
    ("beamer_token", r"b_[a-z0-9=_-]{44}" + _EH, "b_", 2),
    ("clickhouse_key", r"4b1d[A-Za-z0-9]{38}" + _E, "4b1d", 4),
    ("adobe_secret", r"p8e-[a-zA-Z0-9]{32}" + _E, "p8e-", 4),
    ("mapbox_token", r"pk\.[a-z0-9]{60}\.[a-z0-9]{22}" + _E, "pk.", 3),
    ("intra42_secret", r"s-s4t2(?:ud|af)-[a-f0-9]{64}" + _E, "s-s4t2", 9),
    (
        "sourcegraph_token",
        r"sgp_(?=[a-fA-F0-9]{40}(?![\w!]))(?![a-fA-F0-9]{0,39}(\w)\1\1\1)[a-fA-F0-9]{40}",
        "sgp_",
        4,
    ),
    ("airtable_token", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}" + _E, "pat", 3),
)

SAAS = RuleSet(
    [
        *(
            rule(
                kind,
                _B + regex,
                *trigger.split(),
                check=_masked_after(skip),
                offset=_OFFSETS.get(trigger, 0),
                anchored=True if trigger in _OFFSETS or trigger in _ANCHORED else None,
                guard=_GUARDS.get(trigger),
            )
            for kind, regex, trigger, skip in _TABLE
        ),
        rule(
            "okta_token",
            r"(?i)okta[\w.-]{0,30}[\"']?[\s:=]{1,6}[\"']?(?P<v>00[\w-]{40})(?![\w-])",
            "okta",
            group="v",
            check=lambda v: not is_masked(v[2:]),
            nocase=True,
        ),
        rule(
            "sidekiq_secret",
            r"BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[\w]{0,10}[\"']?\s*[:=]+\s*[\"'`]?"
            r"(?P<v>[a-f0-9]{8}:[a-f0-9]{8})",
            "__CONTRIBSYS__",
            group="v",
        ),
    ]
)
