"""The audit head log through the command line, with real processes: truncation after SIGKILL,
a restored backup, start-up refusal and the audited override, and `forget` re-chaining old
rows while the bot appends (two processes on one database)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from storage import FieldCipher
from tests.bot.test_cli import ROOT, frontdoor
from tests.storage.audit_helpers import old_database


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    return tmp_path


def _db(workdir: Path) -> Path:
    return workdir / "data" / "frontdoor.db"


def _bot(workdir: Path, *extra: str) -> subprocess.Popen[str]:
    """The bot as a process on the console; its log goes to a file (a full pipe would stall it)."""
    with (workdir / "bot.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *extra],
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )


def _read_until(proc: subprocess.Popen[str], needle: str) -> Iterator[str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        yield line
        if needle in line:
            return
    raise AssertionError(f"the bot ended before saying {needle!r}")


def _rows(workdir: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(_db(workdir))
    try:
        return conn.execute("SELECT seq, stage, reason FROM audit_log ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_truncation_after_sigkill_is_found_and_refuses_the_start(workdir: Path) -> None:
    """Kill -9 the bot, delete its newest rows: verify names it, the bot will not start on it,
    and only an operator naming the exact problem starts it (and that is audited)."""
    with _bot(workdir) as bot:
        assert bot.stdin is not None
        bot.stdin.write("bob: hello\n")
        bot.stdin.flush()
        list(_read_until(bot, "pairing code is"))
        bot.stdin.write("admin: /pair list\n")
        bot.stdin.flush()
        list(_read_until(bot, "-> admin"))
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=30)
    assert frontdoor("audit", "verify", cwd=workdir).returncode == 0  # a kill alone is no alarm
    last = _rows(workdir)[-1][0]
    conn = sqlite3.connect(_db(workdir))
    conn.execute("DROP TRIGGER IF EXISTS audit_log_link")
    conn.execute("DELETE FROM audit_log WHERE seq > ?", (last - 2,))
    conn.commit()
    conn.close()
    verify = frontdoor("audit", "verify", cwd=workdir)
    assert verify.returncode == 1
    assert "truncated" in verify.stdout and f"rows {last - 1}..{last} are missing" in verify.stdout
    refused = frontdoor("run", cwd=workdir, stdin="bob: hi\n")
    assert refused.returncode == 2
    assert "truncated" in refused.stderr and "--accept-audit-problem truncated" in refused.stderr
    wrong = frontdoor("run", "--accept-audit-problem", "rolled_back", cwd=workdir, stdin="")
    assert wrong.returncode == 2
    started = frontdoor(
        "run", "--accept-audit-problem", "truncated", cwd=workdir, stdin="bob: hi\n"
    )
    assert started.returncode == 0, started.stderr
    assert any(reason == "audit_problem_accepted" for _, _, reason in _rows(workdir))
    assert frontdoor("audit", "verify", cwd=workdir).returncode == 0
    assert frontdoor("run", cwd=workdir, stdin="").returncode == 0  # a clean restart


def test_a_restored_backup_is_a_rollback_until_accepted(workdir: Path) -> None:
    """A backup put back over the database is refused at start-up; its .head file matches it."""
    assert frontdoor("run", cwd=workdir, stdin="bob: hello\n").returncode == 0
    backup = frontdoor("backup", str(workdir / "copy.db"), cwd=workdir)
    assert backup.returncode == 0, backup.stderr
    assert (workdir / "copy.db.head").stat().st_mode & 0o077 == 0
    assert frontdoor("run", cwd=workdir, stdin="carol: hello\n").returncode == 0
    shutil.copy(workdir / "copy.db", _db(workdir))
    for suffix in ("-wal", "-shm"):
        Path(str(_db(workdir)) + suffix).unlink(missing_ok=True)
    verify = frontdoor("audit", "verify", cwd=workdir)
    assert verify.returncode == 1 and "rolled_back" in verify.stdout, verify.stdout
    refused = frontdoor("run", cwd=workdir, stdin="")
    assert refused.returncode == 2 and "rolled_back" in refused.stderr
    ok = frontdoor("audit", "verify", "--head", str(workdir / "copy.db.head"), cwd=workdir)
    assert ok.returncode == 1  # the live head log still says newer; the backup's own head matches
    accepted = frontdoor("run", "--accept-audit-problem", "rolled_back", cwd=workdir, stdin="")
    assert accepted.returncode == 0, accepted.stderr
    assert frontdoor("audit", "verify", cwd=workdir).returncode == 0


def test_a_deleted_head_log_refuses_the_start(workdir: Path) -> None:
    """Removing the head log is reported by verify and at start-up."""
    assert frontdoor("run", cwd=workdir, stdin="bob: hello\n").returncode == 0
    (workdir / "data-frontdoor.audit-head").unlink()
    verify = frontdoor("audit", "verify", cwd=workdir)
    assert verify.returncode == 1 and "head_log_missing" in verify.stdout
    refused = frontdoor("run", cwd=workdir, stdin="")
    assert refused.returncode == 2 and "head_log_missing" in refused.stderr


def test_forget_rechains_while_the_bot_appends(workdir: Path) -> None:
    """`frontdoor forget` re-chains old-format rows in one process while the bot appends in
    another: the chain does not fork, and it still matches its signed head."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["rate_limits"] = {"per_user": {"rate": 1000, "burst": 1000}}  # every message answered
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    key = FieldCipher.generate_key()
    keyfile = workdir / "data" / "frontdoor.key"
    asyncio.run(old_database(_db(workdir), FieldCipher(key), datetime.now(UTC), n=1000))
    keyfile.write_bytes(key + b"\n")
    keyfile.chmod(0o600)
    with _bot(workdir) as bot:
        assert bot.stdin is not None
        bot.stdin.write("admin: /help\n")
        bot.stdin.flush()
        list(_read_until(bot, "-> admin"))  # the bot is up and appending
        forgot = asyncio.run(_feed_and_forget(bot, workdir))
        assert forgot.returncode == 0, forgot.stdout + forgot.stderr
        assert bot.wait(timeout=120) == 0
    rows = _rows(workdir)
    upgraded = [seq for seq, _, reason in rows if reason == "format_upgraded"]
    assert upgraded, "forget re-chained the old rows"
    assert any(seq > upgraded[0] and stage != "admin" for seq, stage, _ in rows)
    verify = frontdoor("audit", "verify", cwd=workdir)
    assert verify.returncode == 0, verify.stdout
    assert "matches its signed head" in verify.stdout


async def _feed_and_forget(
    bot: subprocess.Popen[str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """Keep the bot busy from a thread while `forget` runs; then end the bot's input."""
    assert bot.stdin is not None
    stdin = bot.stdin

    done = threading.Event()

    def feed() -> None:
        after = 0
        for i in range(5_000):  # bounded; one message at a time, each answered before the next
            stdin.write(f"admin: /whois console:local:x{i}\n")
            stdin.flush()
            list(_read_until(bot, "-> admin"))
            after += done.is_set()
            if after >= 3:  # a few more rows once forget is done
                return

    def forget() -> subprocess.CompletedProcess[str]:
        try:
            return frontdoor("forget", "slack:T1:U1", cwd=workdir)
        finally:
            done.set()

    _, forgot = await asyncio.gather(asyncio.to_thread(feed), asyncio.to_thread(forget))
    stdin.close()
    return forgot


def test_verify_names_the_signed_head(workdir: Path) -> None:
    """A clean session verifies against its head log (and says so)."""
    assert frontdoor("run", cwd=workdir, stdin="bob: hello\n").returncode == 0
    out = frontdoor("audit", "verify", cwd=workdir)
    assert out.returncode == 0 and "matches its signed head" in out.stdout
    assert os.stat(workdir / "data-frontdoor.audit-head").st_mode & 0o077 == 0
