"""The `frontdoor` command line.

    frontdoor run [--config F] [--accept-audit-problem CODE]
                                                     the bot (console chat when no platform token is set)
    frontdoor check [--config F] [--strict]          validate the config and lint it for risky settings
    frontdoor sandbox run [--timeout S] [--memory MB] [--json] -- CMD ARGS...
    frontdoor sandbox selftest                       every isolation check, non-zero if one fails
    frontdoor redact [--jsonl]                       stdin -> stdout, secrets and PII replaced
    frontdoor scan                                   injection verdicts for JSON lines {"text": ...}
    frontdoor policy explain --user ID --tool T [--channel C] [--arg NAME=VALUE ...]
    frontdoor audit verify [--head FILE] | export [--jsonl] | tail [-n N]
    frontdoor forget USER                            erase a user; their audit rows keep a pseudonym
    frontdoor backup DEST [--overwrite]              a consistent online copy of the database, verified
    frontdoor keys rotate [--new-key-file F]         a new data key; parked requests re-encrypted

Every subcommand takes `--config F` (default `./config.yaml`). Exit status 2
means the config is invalid or the command cannot start; the message says why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.config import Config, load_config, parse_config
from bot.errors import BotError, ConfigError
from storage import Database, FieldCipher, load_or_create_key

__all__ = ["lint", "main"]

log = logging.getLogger("frontdoor")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="frontdoor", description="A security front door for chat-driven automation."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default="config.yaml", help="the config file (default: ./config.yaml)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="run the bot")
    run.add_argument(
        "--accept-audit-problem",
        default="",
        metavar="CODE",
        help="start although the audit chain does not match its signed head log, when the"
        " problem found is exactly CODE (as `audit verify` names it); the start is audited",
    )
    chk = sub.add_parser("check", parents=[common], help="validate and lint the config")
    chk.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    sb = sub.add_parser("sandbox", help="the sandbox").add_subparsers(
        dest="sandbox_command", required=True
    )
    sbr = sb.add_parser("run", parents=[common], help="run a command exactly as the bot would")
    sbr.add_argument("--timeout", type=float, default=None, help="wall-time limit in seconds")
    sbr.add_argument("--memory", type=int, default=None, help="address-space limit in MiB")
    sbr.add_argument("--json", action="store_true", help="print the result as JSON")
    sbr.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    sb.add_parser("selftest", parents=[common], help="run the isolation self-test")
    red = sub.add_parser("redact", parents=[common], help="redact stdin to stdout")
    red.add_argument(
        "--jsonl", action="store_true", help='input lines are {"text": ...}; output has findings'
    )
    sub.add_parser("scan", parents=[common], help='injection verdicts for JSON lines {"text": ...}')
    pol = sub.add_parser("policy", help="the permission policy").add_subparsers(
        dest="policy_command", required=True
    )
    exp = pol.add_parser(
        "explain", parents=[common], help="which rule allows or denies a user a tool"
    )
    exp.add_argument("--user", required=True)
    exp.add_argument("--tool", required=True)
    exp.add_argument("--channel", default=None)
    exp.add_argument(
        "--arg", action="append", metavar="NAME=VALUE", help="an argument of the request (repeat)"
    )
    aud = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    ver = aud.add_parser(
        "verify", parents=[common], help="check the hash chain and its signed head log"
    )
    ver.add_argument(
        "--head",
        action="append",
        default=[],
        metavar="FILE",
        help="also check against the signed heads in FILE (a copy kept elsewhere: shipped"
        " logs, a backup's .head file); may be repeated",
    )
    ex = aud.add_parser("export", parents=[common], help="every row")
    ex.add_argument("--jsonl", action="store_true", help="JSON lines (the only format)")
    tail = aud.add_parser("tail", parents=[common], help="the last rows")
    tail.add_argument("-n", type=int, default=20)
    fg = sub.add_parser("forget", parents=[common], help="erase a user (the bot may keep running)")
    fg.add_argument("user", help="platform:tenant:user")
    bk = sub.add_parser("backup", parents=[common], help="a consistent copy of the database")
    bk.add_argument("dest")
    bk.add_argument("--overwrite", action="store_true")
    keys = sub.add_parser("keys", help="the data key").add_subparsers(
        dest="keys_command", required=True
    )
    rot = keys.add_parser(
        "rotate", parents=[common], help="rotate the data key (stop the bot first)"
    )
    rot.add_argument(
        "--new-key-file",
        default=None,
        help="where to write the new key when it comes from the environment",
    )
    return p


def _config(path: str, *, required: bool) -> Config:
    """Load the config; the tools that work without one (redact, scan) fall back to the defaults."""
    if not required and path == "config.yaml" and not Path(path).exists():
        return parse_config({})
    return load_config(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `frontdoor` console script."""
    args = _parser().parse_args(argv)
    env = dict(os.environ)
    try:
        if args.command == "run":
            config = _config(args.config, required=True)
            return asyncio.run(_run(config, env, accept=args.accept_audit_problem))
        if args.command == "check":
            return _check(args.config, strict=args.strict, env=env)
        if args.command == "sandbox":
            return asyncio.run(_sandbox(args, _config(args.config, required=False)))
        if args.command == "redact":
            return _redact(_config(args.config, required=False), jsonl=args.jsonl)
        if args.command == "scan":
            return _scan(_config(args.config, required=False))
        if args.command == "policy":
            return _explain(args, _config(args.config, required=True), env)
        if args.command == "audit":
            return asyncio.run(_audit(args, _config(args.config, required=True), env))
        if args.command in ("forget", "backup", "keys"):
            return asyncio.run(_ops(args, _config(args.config, required=True), env))
    except ConfigError as e:
        print(f"frontdoor: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except BotError as e:
        print(f"frontdoor: {e}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_CONFIG


# --- run -------------------------------------------------------------------------------------


async def _run(
    config: Config,
    env: Mapping[str, str],
    *,
    stdio: tuple[TextIO, TextIO] | None = None,
    accept: str = "",
) -> int:
    from bot import logs
    from bot.app import App
    from bot.wiring import build_redactor

    logs.configure_logging(
        build_redactor(config), level=config.logging.level, json=config.logging.json_format
    )
    from sandbox.reap import use_pidfd_child_watcher

    use_pidfd_child_watcher()  # no thread per sandbox child (Python 3.11)
    head_copy = None
    if config.audit.head_log_syslog:
        from bot.wiring import syslog_head_copy

        head_copy = syslog_head_copy()
    app = App(
        config,
        env=env,
        console_io=stdio,
        accept_audit_problem=accept,
        operator=f"cli:{getpass.getuser()}",
        head_copy=head_copy,
    )
    await app.start()
    if app.redactor is not None:
        logs.update_redactor(app.redactor)  # now it also knows every secret value the bot holds
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    waiter = asyncio.ensure_future(app.wait())
    stopper = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    await app.stop()
    if app.failed:
        print(
            f"frontdoor: stopped because the {', '.join(app.failed)} adapter failed (see the log)",
            file=sys.stderr,
        )
        return 1
    return 0


# --- check -----------------------------------------------------------------------------------


def lint(config: Config, env: Mapping[str, str]) -> list[str]:
    """Risky settings that are valid but probably not meant."""
    warnings: list[str] = []
    p = config.permissions
    if "*" in p.global_.tools:
        warnings.append('permissions.global.tools: "*" gives every paired user every tool')
    risky = [t.name for t in config.tools if t.risk in ("high", "critical")]
    critical = [t.name for t in config.tools if t.risk == "critical"]
    levels = [
        config.autonomy.default,
        *config.autonomy.users.values(),
        *config.autonomy.channels.values(),
    ]
    if critical and "autonomous" in levels:
        warnings.append(
            f"autonomy: 'autonomous' is set while critical tools exist ({', '.join(critical)}); "
            "they still need an admin's approval, but check that this is meant"
        )
    if risky and not (config.roles.approvers or config.roles.admins):
        warnings.append(
            f"roles: no approvers or admins, so {', '.join(risky)} can never be approved"
        )
    if not config.roles.admins:
        warnings.append("roles.admins: nobody can approve pairings or run admin commands")
    if config.sandbox.allow_weak_isolation:
        warnings.append(
            "sandbox.allow_weak_isolation: runs may execute without filesystem, network or pid isolation"
        )
    if config.approvals.allow_self_approval:
        warnings.append(
            "approvals.allow_self_approval: requesters may approve their own (non-critical) requests"
        )
    for group, g in p.groups.items():
        if "*" in g.tools and len(g.members) > 5:
            warnings.append(f"permissions.groups.{group}: every tool for {len(g.members)} members")
    for tool in config.tools:
        for name in tool.secrets:
            if not env.get(name):
                warnings.append(
                    f"tools ({tool.name}): secret {name} is not set in the environment; the tool will refuse to run"
                )
    db = config.db_path
    for path in (db, db.with_suffix(".key")):
        if path.exists() and path.stat().st_mode & 0o077:
            warnings.append(f"{path}: readable by group or others; chmod 600 it")
    return warnings


def _check(path: str, *, strict: bool, env: Mapping[str, str]) -> int:
    config = load_config(path)
    warnings = lint(config, env) + _file_modes(Path(path)) + asyncio.run(_live_checks(config, env))
    print(f"{path}: valid ({len(config.tools)} tools)")
    for w in warnings:
        print(f"warning: {w}")
    if not warnings:
        print("no warnings")
    return 1 if strict and warnings else 0


def _file_modes(config_path: Path) -> list[str]:
    """The config file may be read by others (it holds no secrets) but must not be writable by them."""
    try:
        mode = config_path.stat().st_mode
    except OSError:
        return []
    return [f"{config_path}: writable by group or others; chmod go-w it"] if mode & 0o022 else []


async def _live_checks(config: Config, env: Mapping[str, str]) -> list[str]:
    """What only the running system can tell: the isolation self-test and the grants made at run time."""
    from bot.wiring import build_sandbox

    out: list[str] = []
    sandbox = build_sandbox(config, protected=(str(config.db_path.parent), config.base_dir))
    report = await sandbox.selftest()
    if not report.ok:
        out.append(
            f"sandbox: isolation self-test fails ({report.reason}); the bot would refuse to run tools"
        )
    db_path, key_path = config.db_path, config.db_path.with_suffix(".key")
    key = env.get(config.storage.data_key_env, "").encode() or (
        key_path.read_bytes().strip() if key_path.exists() else b""
    )
    if not db_path.exists() or not key:
        return out
    db = await Database.open(db_path, cipher=FieldCipher(key))
    try:
        for grant in await db.grants.active(datetime.now(UTC)):
            if grant.effect == "allow" and (grant.tool == "*" or grant.scope == "global"):
                out.append(
                    f"runtime grant #{grant.id}: {grant.tool} to {grant.scope} {grant.subject} (by {grant.created_by})"
                )
        extra_admins = [u for u, r in await db.roles.list() if r == "admin"]
        if extra_admins:
            out.append(f"runtime admins beyond config.yaml: {', '.join(extra_admins)}")
        if (
            (lock := await db.settings.get("lockdown"))
            and isinstance(lock, dict)
            and lock.get("active")
        ):
            out.append("the bot is in lockdown (an admin ran /lockdown; /unlock ends it)")
    finally:
        await db.close()
    return out


# --- sandbox ---------------------------------------------------------------------------------


async def _sandbox(args: argparse.Namespace, config: Config) -> int:
    from bot.wiring import build_sandbox
    from sandbox.cli import run_command, selftest_command

    sb = build_sandbox(config, protected=(str(config.db_path.parent), config.base_dir))
    if args.sandbox_command == "selftest":
        return await selftest_command(sb, out=sys.stdout)
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    return await run_command(
        sb, cmd, timeout=args.timeout, memory_mb=args.memory, as_json=args.json, out=sys.stdout
    )


# --- redact and scan -------------------------------------------------------------------------


def _jsonl(answer: Callable[[str], Mapping[str, object]]) -> int:
    """For each `{"text": ...}` line on stdin, one JSON line of `answer(text)` on stdout."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            print(json.dumps({"error": 'each line must be a JSON object with a string "text"'}))
            continue
        print(json.dumps(answer(text)))
    return 0


def _redact(config: Config, *, jsonl: bool) -> int:
    from bot.wiring import build_redactor

    redactor = build_redactor(config)
    if not jsonl:
        sys.stdout.write(redactor.redact_text(sys.stdin.read()))
        return 0

    def answer(text: str) -> Mapping[str, object]:
        result = redactor.redact(text)
        findings = [{"kind": f.kind, "start": f.start, "end": f.end} for f in result.findings]
        return {"text": text, "redacted": result.text, "findings": findings}

    return _jsonl(answer)


def _scan(config: Config) -> int:
    from bot.wiring import build_scanner

    scanner = build_scanner(config)
    actions = config.injection.actions

    def answer(text: str) -> Mapping[str, object]:
        v = scanner.scan(text)
        action = actions.get(v.level.name.lower(), "block")  # type: ignore[call-overload]
        return {"level": v.level.name, "checks": list(v.checks), "action": action}

    return _jsonl(answer)


# --- policy explain --------------------------------------------------------------------------


def _explain(args: argparse.Namespace, config: Config, env: Mapping[str, str]) -> int:
    """The decision the bot makes now: every check, from the database when there is one."""
    from bot.explain import exit_code, explain_offline
    from bot.wiring import known_secrets
    from policy.redaction import RedactionConfig, Redactor

    raw: dict[str, str] = {}
    for pair in args.arg or ():
        name, eq, value = pair.partition("=")
        if not eq:
            print(f"frontdoor: --arg wants name=value, not {name!r}", file=sys.stderr)
            return EXIT_CONFIG
        raw[name] = value

    async def run() -> int:
        db = await _open_db(config, env) if config.db_path.exists() else None
        if db is None and config.db_path.exists():
            return EXIT_CONFIG
        try:
            key = b""
            if db is not None:  # _open_db found the key
                key_path = config.db_path.with_suffix(".key")
                key, _ = load_or_create_key(env, config.storage.data_key_env, key_path)
            exact = Redactor(
                RedactionConfig(pii=frozenset(), secrets=False),
                known_secrets=known_secrets(config, env, key),
            )
            lines, verdict = await explain_offline(
                db,
                config,
                now=datetime.now(UTC),
                user=args.user,
                tool=args.tool,
                channel=args.channel,
                raw=raw,
                holds_secret=lambda v: bool(exact.spans(v)),
            )
        finally:
            if db is not None:
                await db.close()
        print("\n".join(lines))
        return exit_code(verdict)

    return asyncio.run(run())


# --- audit -----------------------------------------------------------------------------------


async def _open_db(config: Config, env: Mapping[str, str]) -> Database | None:
    """The bot's database with its data key; None (after saying why) when either is missing."""
    path = config.db_path
    key_path = path.with_suffix(".key")
    if not path.exists():
        print(f"frontdoor: {path}: no database yet (run the bot first)", file=sys.stderr)
        return None
    if not env.get(config.storage.data_key_env) and not key_path.exists():
        print(
            f"frontdoor: no data key: set {config.storage.data_key_env} or restore {key_path} "
            "(the audit log's signatures are checked with it)",
            file=sys.stderr,
        )
        return None
    from bot.wiring import head_log_path

    key, _ = load_or_create_key(env, config.storage.data_key_env, key_path)
    return await Database.open(path, cipher=FieldCipher(key), head_log=head_log_path(config))


_PROBLEMS = {
    "seq_gap": "a row is missing from the middle of the chain (deleted)",
    "chain_break": "a row does not link to the one before it (inserted, removed or moved)",
    "hash_mismatch": "a row was edited after it was written",
    "truncated": "rows were cut from the end of the chain",
    "anchor_mismatch": "the chain was rewritten before its signed anchor",
    "anchor_missing": "the signed anchor was removed from the database",
}


async def _audit(args: argparse.Namespace, config: Config, env: Mapping[str, str]) -> int:
    db = await _open_db(config, env)
    if db is None:
        return EXIT_CONFIG
    try:
        if args.audit_command == "verify":
            result = await db.audit.verify(heads=[Path(h) for h in args.head])
            if result.ok:
                head = await db.audit.check_head([Path(h) for h in args.head])
                against = (
                    f", matches its signed head (seq {head.signed_seq})"
                    if head.signed_seq is not None
                    else f" ({head.note})"
                )
                print(f"audit log OK: {result.rows_checked} rows, chain intact{against}")
                return 0
            where = f" at row {result.first_bad_seq}" if result.first_bad_seq is not None else ""
            print(f"audit log BROKEN{where}: {result.problem}")
            print(f"  {result.message or _PROBLEMS.get(result.problem, '')}".rstrip())
            return 1
        if args.audit_command == "export":
            await db.audit.export_jsonl(sys.stdout)
            return 0
        for row in await db.audit.tail(args.n):
            print(row.to_json())
        return 0
    finally:
        await db.close()


async def _ops(args: argparse.Namespace, config: Config, env: Mapping[str, str]) -> int:
    from bot.ops import backup, forget_user, rotate_keys
    from storage.crypto import new_key_material, replace_key_file

    db = await _open_db(config, env)
    if db is None:
        return EXIT_CONFIG
    try:
        if args.command == "forget":
            if not re.fullmatch(r"(console|slack|telegram):[^:\s]+:[^:\s]+", args.user):
                print("frontdoor: USER is platform:tenant:user", file=sys.stderr)
                return EXIT_CONFIG
            by = f"cli:{getpass.getuser()}"
            report = await forget_user(db, args.user, by=by, now=datetime.now(UTC))
            print(
                f"forgot {report.pseudonym}: deleted {dict(report.deleted)}, {report.audit_rows} audit rows "
                f"pseudonymised, {len(report.cancelled)} requests withdrawn; chain ok: {report.audit_ok} "
                "(a running bot notices within seconds)"
            )
            return 0 if report.audit_ok else 1
        if args.command == "backup":
            copy = await backup(
                db,
                Path(args.dest),
                overwrite=args.overwrite,
                by=f"cli:{getpass.getuser()}",
                now=datetime.now(UTC),
            )
            print(
                f"backup {copy.path}: {copy.size_bytes} bytes, audit chain ok: {copy.audit.ok};"
                f" it holds the audit head seq {copy.head_seq} (signed in {copy.head_file})"
            )
            return 0 if copy.ok else 1
        key_path = config.db_path.with_suffix(".key")
        env_name = config.storage.data_key_env
        from_env = bool(env.get(env_name))
        if from_env and not args.new_key_file:
            print(
                f"frontdoor: the key comes from {env_name}; give --new-key-file F", file=sys.stderr
            )
            return EXIT_CONFIG
        current, _ = load_or_create_key(env, env_name, key_path)
        material = new_key_material(current)
        target = Path(args.new_key_file) if from_env else key_path
        # the file first: whatever happens next, it opens every payload (new and old keys)
        replace_key_file(target, material)
        cipher = FieldCipher(material)
        db.use_cipher(cipher)
        rotated = await rotate_keys(db, cipher)
        done_text = f"{rotated.rotated} payloads re-encrypted, {rotated.undecryptable} unreadable"
        print(f"rotated: {done_text}; new key in {target}")
        if from_env:
            print(f"set {env_name} to the content of {target} before starting the bot")
        return 0 if rotated.ok else 1
    finally:
        await db.close()
