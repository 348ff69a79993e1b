"""Table-driven tests for secrets assigned to secret-like names in many syntaxes."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor, is_secret_name

R = Redactor(RedactionConfig(pii=frozenset()))
V = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"

SYNTAXES = [
    ("env", f"API_TOKEN={V}"),
    ("env with spaces", f"api_token = {V}"),
    ("shell export", f'export DB_PASSWORD="{V}"'),
    ("yaml", f"client_secret: '{V}'"),
    ("json", f'{{"access_token": "{V}", "ok": true}}'),
    ("json escaped in json", f'{{"config.ini": "MY_TOKEN={V}\\nOTHER=1"}}'),
    ("xml element", f"<apiToken>\n    {V}\n</apiToken>"),
    ("go typed", f'var authToken string = "{V}"'),
    ("go walrus", f"secretKey := `{V}`"),
    ("php append", f'$apiKey .= "{V}"'),
    ("ruby hash", f'  "authToken" => "{V}"'),
    ("java property", f'System.setProperty("APP_TOKEN", "{V}")'),
    ("make conditional", f'API_TOKEN ?= "{V}"'),
    ("comparison", f'if (password == "{V}") {{'),
    ("reversed comparison", f'if ("{V}" === password) {{'),
    ("url query", f"GET /cb?code=1&access_token={V}&x=1"),
    ("password with punctuation", "password = 'P@ssw0rd!2024'"),
    ("session cookie", f"Cookie: theme=dark; sessionid={V}; lang=en"),
    ("session id field", f"session_id={V}"),
]

KEPT = [
    ("id named like a key", 'kms_key_id = "555ea4a3-d53a-4412-9c66-3a7cb667b0d6"'),
    ("reference to a variable", "password = var.db_password"),
    ("env reference", "password: ${DB_PASSWORD}"),
    ("template", "token: {{ .Values.token }}"),
    ("placeholder", 'api_key = "<your api key here>"'),
    ("empty", 'api_key = ""'),
    ("token count", "prompt_tokens=512 completion_tokens=128"),
    ("boolean", "use_token: true"),
    ("file path", "IceSSL.KeyFile=s_rsa1024_priv.pem"),
    ("public key", 'public_key = "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit"'),
    ("key length", "key_length = XSalsa20.key_length"),
    ("prose", "the token was rejected by the server"),
    ("version", 'notes = "Maven - io.jsonwebtoken:jjwt-jackson-0.11.2"'),
    ("already redacted", "API_TOKEN=[REDACTED:secret_assignment]"),
    ("short session value", "Set-Cookie: sessionid=abc; HttpOnly"),
    ("session counter", "session_count=12 session_timeout=300"),
]


@pytest.mark.parametrize("text", [c[1] for c in SYNTAXES], ids=[c[0] for c in SYNTAXES])
def test_assigned_secrets_are_redacted(text: str) -> None:
    """A secret assigned to a secret-like name is replaced in every syntax."""
    result = R.redact(text)
    secret = "P@ssw0rd!2024" if "P@ss" in text else V
    assert secret not in result.text
    assert result.findings


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_assignment_look_alikes_are_kept(text: str) -> None:
    """Ids, references, templates, counts and prose stay as they are."""
    assert R.redact_text(text) == text


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("dbPassword", True),
        ("SLACK_BOT_TOKEN", True),
        ("api_key", True),
        ("client_secret", True),
        ("user_id", False),
        ("token_count", False),
        ("public_key", False),
        ("username", False),
        ("session_id", False),
    ],
    ids=lambda v: str(v),
)
def test_secret_names(name: str, secret: bool) -> None:
    """is_secret_name recognises secret-holding field names."""
    assert is_secret_name(name) is secret
