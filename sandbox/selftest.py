"""The start-up self-test: run the production configuration with a probe and check every property.

The probe is a Python snippet run exactly like any other run. It reports raw facts from the
inside (seccomp mode, no_new_privs, capabilities, network interfaces, whether AF_INET sockets,
nested user namespaces and ptrace work, visible pids, environment keys, whether a canary value
planted in the bot's environment appears in any /proc/*/environ, whether canary files planted in
the protected paths can be read, which writes succeed, the rlimits in force) and leaves a
double-forked daemon behind; ``evaluate`` turns the facts into named checks. The host side then
verifies that nothing of the run is left. Weak mode checks only what weak mode promises.
"""

from __future__ import annotations

import json
import re
import resource
from collections.abc import Mapping

from sandbox.env import ALLOWED_ENV_KEYS
from sandbox.limits import Limits
from sandbox.models import Check

PROBE = r"""
import ctypes, json, os, resource, socket, sys, time
cfg = json.loads(sys.argv[1])
out = {}
status = {}
for line in open("/proc/self/status").read().splitlines():
    key, _, value = line.partition(":")
    status[key] = value.strip()
out["seccomp"] = status.get("Seccomp")
out["nnp"] = status.get("NoNewPrivs")
out["capeff"] = status.get("CapEff")
out["uid"] = os.getuid()
try:
    lines = open("/proc/net/dev").read().splitlines()[2:]
    out["ifaces"] = sorted(l.split(":")[0].strip() for l in lines)
except OSError as e:
    out["ifaces"] = ["error:%d" % e.errno]
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    out["inet"] = "allowed"
except OSError as e:
    out["inet"] = "blocked:%d" % e.errno
pids = [p for p in os.listdir("/proc") if p.isdigit()]
out["pids"] = len(pids)
out["env_keys"] = sorted(os.environ)
needle = cfg["canary"].encode()
seen = []
for p in pids:
    try:
        with open("/proc/%s/environ" % p, "rb") as fh:
            if needle in fh.read():
                seen.append(p)
    except OSError:
        pass
out["env_canary_seen"] = seen
readable = []
for path in cfg["files"]:
    for candidate in (path, "/proc/1/root" + path):
        try:
            with open(candidate, "rb") as fh:
                fh.read()
            readable.append(candidate)
        except OSError:
            pass
out["file_canary_seen"] = readable
writes = {}
for path in [os.path.join(os.getcwd(), "probe-write"), *cfg["writes"]]:
    try:
        with open(path, "w") as fh:
            fh.write("x")
        writes[path] = "ok"
    except OSError as e:
        writes[path] = "refused:%d" % e.errno
out["cwd"] = os.getcwd()
out["writes"] = writes
libc = ctypes.CDLL(None, use_errno=True)
out["unshare_user"] = libc.unshare(0x10000000)
out["ptrace"] = libc.ptrace(16, 1, 0, 0)
names = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")
out["rlimits"] = {}
for n in names:
    out["rlimits"][str(getattr(resource, n))] = list(resource.getrlimit(getattr(resource, n)))
if os.fork() == 0:
    if cfg["escape_session"]:
        os.setsid()
    if os.fork() == 0:
        os.closerange(0, 1024)
        time.sleep(60)
    os._exit(0)
os.wait()
print(json.dumps(out))
"""

_STRICT_ONLY = (
    "seccomp", "no_new_privs", "capabilities", "network", "inet_socket", "pid_namespace",
    "nested_userns", "ptrace", "read_only_root",
)  # fmt: skip
_SANDBOX_TMP = "/tmp/probe-write"  # noqa: S108 - the sandbox's own tmpfs, never the host's


def probe_args(*, canary: str, files: list[str], weak: bool) -> tuple[str, ...]:
    """The probe's single JSON argument (it also writes to its cwd, the workspace)."""
    writes: list[str] = []
    if not weak:
        writes += [
            _SANDBOX_TMP,
            "/usr/probe-write",
            "/etc/probe-write",
            "/probe-write",
            "/dev/probe-write",
        ]
    cfg = {"canary": canary, "files": files, "writes": writes, "escape_session": not weak}
    return (json.dumps(cfg),)


def _check(name: str, passed: bool, detail: object) -> Check:
    """Build one check with a short detail string."""
    return Check(name=name, passed=passed, detail=str(detail)[:200])


def evaluate(
    facts: Mapping[str, object], *, limits: Limits, weak: bool, root_bot: bool
) -> list[Check]:
    """Turn the probe's facts into checks; in weak mode skip what weak mode does not promise."""
    rl = facts.get("rlimits")
    expected = {str(k): list(v) for k, v in limits.rlimits().items()}
    writes = facts.get("writes")
    writes = writes if isinstance(writes, dict) else {}
    workspace = str(facts.get("cwd"))
    others = {
        p: r for p, r in writes.items() if p not in (f"{workspace}/probe-write", _SANDBOX_TMP)
    }
    env_keys = facts.get("env_keys")
    env_keys = env_keys if isinstance(env_keys, list) else ["?"]
    ifaces = facts.get("ifaces")
    pids = facts.get("pids")
    checks = [
        _check("seccomp", facts.get("seccomp") == "2", f"Seccomp: {facts.get('seccomp')}"),
        _check("no_new_privs", facts.get("nnp") == "1", f"NoNewPrivs: {facts.get('nnp')}"),
        _check("capabilities", facts.get("capeff") == "0" * 16, f"CapEff: {facts.get('capeff')}"),
        _check("network", ifaces == ["lo"], f"interfaces: {ifaces}"),
        _check("inet_socket", str(facts.get("inet")).startswith("blocked"), facts.get("inet")),
        _check("pid_namespace", isinstance(pids, int) and pids <= 3, f"{pids} pids visible"),
        _check("nested_userns", facts.get("unshare_user") == -1,
               f"unshare: {facts.get('unshare_user')}"),
        _check("ptrace", facts.get("ptrace") == -1, f"ptrace attach: {facts.get('ptrace')}"),
        _check("read_only_root", bool(others) and all(r != "ok" for r in others.values()),
               f"outside writes: {sorted(others.values())}"),
        _check("clean_env", set(env_keys) <= ALLOWED_ENV_KEYS, f"keys: {sorted(env_keys)}"),
        _check("env_canary", facts.get("env_canary_seen") == [],
               f"seen in pids {facts.get('env_canary_seen')}"),
        _check("file_canary", facts.get("file_canary_seen") == [],
               f"readable: {facts.get('file_canary_seen')}"),
        _check("workspace_writable", writes.get(f"{workspace}/probe-write") == "ok"
               and writes.get(_SANDBOX_TMP, "ok") == "ok", "workspace and /tmp"),
        _check("rlimits", rl == expected, "in force" if rl == expected else f"got {rl}"),
        _check("unprivileged", facts.get("uid") != 0 if root_bot else True,
               f"uid inside: {facts.get('uid')}"),
    ]  # fmt: skip
    if weak:
        checks = [c for c in checks if c.name not in _STRICT_ONLY]
    return checks


ARGV_PROBE = ("/usr/bin/cat", "/proc/self/limits")
_LIMIT_NAMES = {
    "Max cpu time": resource.RLIMIT_CPU,
    "Max file size": resource.RLIMIT_FSIZE,
    "Max processes": resource.RLIMIT_NPROC,
    "Max open files": resource.RLIMIT_NOFILE,
    "Max address space": resource.RLIMIT_AS,
    "Max core file size": resource.RLIMIT_CORE,
}
_LIMIT_LINE = re.compile(r"^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)", re.MULTILINE)


def evaluate_argv_limits(text: str, limits: Limits) -> Check:
    """Check the rlimits a plain command (``cat /proc/self/limits``) runs under."""
    seen: dict[int, tuple[int, int]] = {}
    for name, soft, hard in _LIMIT_LINE.findall(text):
        res = _LIMIT_NAMES.get(name)
        if res is not None and soft.isdigit() and hard.isdigit():
            seen[res] = (int(soft), int(hard))
    expected = limits.rlimits()
    ok = seen == expected
    return _check("rlimits_argv", ok, "in force" if ok else f"got {sorted(seen.items())}")
