"""A tiny 'bot' that uses the Sandbox as an unprivileged user; run by test_unprivileged via runuser.

It plants a canary in its own environment and a secret file in its data dir (argv[1]), self-tests,
runs a few hostile snippets and prints one JSON object with what it observed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from sandbox import Limits, RunSpec, Sandbox, SandboxConfig

CANARY = "CANARY-UNPRIV-ENV-7f3a"


async def main(data_dir: str) -> dict[str, object]:
    """Self-test, then run hostile snippets; return observations."""
    os.environ["BOT_TOKEN"] = CANARY
    secret = os.path.join(data_dir, "secret.db")
    with open(secret, "w") as fh:
        fh.write("CANARY-UNPRIV-FILE")
    limits = Limits(wall_seconds=2.0, cpu_seconds=2, max_processes=16)
    sb = Sandbox(SandboxConfig(default_limits=limits, protected_paths=(data_dir,)))
    report = await sb.selftest()
    out: dict[str, object] = {"ok": report.ok, "reason": report.reason, "euid": os.geteuid()}
    if not report.ok:
        return out
    ident = await sb.run(RunSpec(run_id="id", argv=("id", "-u")))
    out["uid_inside"] = ident.stdout.strip()
    fork = await sb.run(RunSpec(run_id="fork", python=(
        "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(30)\n            os._exit(0)\n        n += 1\n"
        "except OSError:\n    pass\nprint(n)\n")))  # fmt: skip
    out["forks"] = int(fork.stdout or "-1")
    leak = await sb.run(RunSpec(run_id="leak", python=(
        "import os, sys\nseen = []\nfor p in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n        seen.append(open('/proc/%s/environ' % p).read())\n    except OSError:\n"
        "        pass\nfor path in sys.argv[1:]:\n    try:\n        seen.append(open(path).read())\n"
        "    except OSError:\n        pass\nprint(seen)\n"), args=(secret, "/proc/1/root" + secret)))  # fmt: skip
    out["leaked"] = CANARY in leak.stdout or "CANARY-UNPRIV-FILE" in leak.stdout
    daemon = await sb.run(RunSpec(run_id="daemon", python=(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(100)\n    os._exit(0)\nos.wait()\n")))  # fmt: skip
    out["daemon_exit"] = daemon.exit_code
    loop = await sb.run(RunSpec(run_id="loop", python="while True:\n    pass\n"))
    out["loop_timed_out"] = loop.timed_out
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
