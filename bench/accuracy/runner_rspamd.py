"""Rspamd on the split: Debian's stock configuration (/etc/rspamd), network modules off, Bayes in
a private Redis, trained with `rspamc learn_ham` / `learn_spam` on the training split, then
`rspamc symbols` for every held-out message.

Private: rspamd runs with LOCAL_CONFDIR, DBDIR, RUNDIR and LOGDIR in the work directory, so the
stock /etc/rspamd is read but everything the benchmark changes is in WORK/etc/local.d and
override.d; its workers and Redis listen on free 127.0.0.1 ports. No network: the resolver is a
closed loopback port (nothing answers, every lookup fails at once), and the modules whose tests are
network lookups — DNS lists and URI lists (rbl, surbl), fuzzy hashes, SPF, DKIM, DMARC, ARC, ASN,
e-mail lists, phishing feeds, MX checks, DCC, external scanners, hfilter's sender-domain lookup — are disabled, as SpamAssassin's
-L does for its own. Modules that need Redis besides Bayes (neural, reputation, ratelimit,
greylist, replies, history) stay off: Redis is configured for the classifier only.

Outcome: rspamd's action. "reject" is rejected; "no action" is accepted; every other action
(greylist / soft reject from 4, add header from 6, rewrite subject) is tagged."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from common import (ACCEPT, ERROR, REJECT, TAG, Unavailable, Verdict, free_port, map_messages, need_programs, nice,
                    port_open, start_daemon, stop, wait_until)

NAME = "Rspamd"
CLOSED_DNS = "127.0.0.1:9"

# Modules whose checks ask the network (or an external scanner), switched off by local.d/NAME.conf.
NETWORK_MODULES = ("rbl", "surbl", "fuzzy_check", "spf", "dkim", "dmarc", "arc", "asn", "emails", "mx_check",
                   "dcc", "external_services", "antivirus", "rspamd_update", "p0f", "clickhouse", "elastic",
                   "metadata_exporter", "url_redirector", "reputation", "neural", "ratelimit", "greylist",
                   "replies", "history_redis", "dkim_signing", "bimi")


def version() -> str:
    out = subprocess.run(["rspamd", "--version"], capture_output=True, text=True).stdout
    return out.split()[-1] if out else "?"


def write_config(etc: Path, ports: dict, jobs: int) -> None:
    local, override = etc / "local.d", etc / "override.d"
    local.mkdir(parents=True, exist_ok=True)
    override.mkdir(parents=True, exist_ok=True)
    (local / "options.inc").write_text(
        "# bench/accuracy: the resolver is a closed loopback port: no lookup leaves the machine.\n"
        f'dns {{\n  nameserver = ["{CLOSED_DNS}"];\n  timeout = 0.5s;\n  retransmits = 1;\n}}\n')
    (override / "worker-normal.inc").write_text(f'bind_socket = "127.0.0.1:{ports["normal"]}";\ncount = {jobs};\n')
    (override / "worker-controller.inc").write_text(
        f'bind_socket = "127.0.0.1:{ports["controller"]}";\ncount = 1;\nsecure_ip = "127.0.0.1";\n')
    (override / "worker-proxy.inc").write_text(f'enabled = false;\nbind_socket = "127.0.0.1:{ports["proxy"]}";\n')
    (override / "worker-fuzzy.inc").write_text(f'enabled = false;\ncount = -1;\nbind_socket = "127.0.0.1:{ports["fuzzy"]}";\n')
    (local / "classifier-bayes.conf").write_text(
        "# bench/accuracy: Bayes in the private Redis, learned only by rspamc learn_*.\n"
        f'backend = "redis";\nservers = "127.0.0.1:{ports["redis"]}";\nautolearn = false;\nmin_learns = 200;\n')
    (local / "phishing.conf").write_text("openphish_enabled = false;\nphishtank_enabled = false;\n")
    # hfilter's From-domain test is a DNS lookup (A/MX of the sender's domain); its other tests stay.
    (local / "hfilter.conf").write_text("from_enabled = false;\n")
    for module in NETWORK_MODULES:
        (local / f"{module}.conf").write_text("enabled = false;\n")
    (local / "logging.inc").write_text('level = "notice";\n')


def start(work: Path, jobs: int, log) -> tuple[list[subprocess.Popen], dict]:
    ports = {name: free_port() for name in ("normal", "controller", "proxy", "fuzzy", "redis")}
    etc, db, run, logs, redis_dir = (work / d for d in ("etc", "db", "run", "log", "redis"))
    for d in (etc, db, run, logs, redis_dir):
        d.mkdir(parents=True, exist_ok=True)
    write_config(etc, ports, jobs)
    processes = []
    redis = start_daemon(["redis-server", "--bind", "127.0.0.1", "--port", str(ports["redis"]), "--save", "",
                          "--appendonly", "no", "--dir", str(redis_dir), "--protected-mode", "yes",
                          "--logfile", str(logs / "redis.log")], logs / "redis.out")
    processes.append(redis)
    wait_until(lambda: port_open(ports["redis"]), "redis-server", redis, 30, logs / "redis.log")
    argv = ["rspamd", "-f", "-c", "/etc/rspamd/rspamd.conf", "--var", f"LOCAL_CONFDIR={etc}",
            "--var", f"DBDIR={db}", "--var", f"RUNDIR={run}", "--var", f"LOGDIR={logs}"]
    if os.geteuid() == 0:
        argv.append("--insecure")  # workers would refuse to run as root otherwise
    rspamd = start_daemon(argv, logs / "rspamd.out")
    processes.append(rspamd)
    try:
        wait_until(lambda: port_open(ports["normal"]) and port_open(ports["controller"]), "rspamd", rspamd, 120,
                   logs / "rspamd.log")
    except Unavailable:
        for p in reversed(processes):
            stop(p)
        raise
    return processes, ports


def learn(ports: dict, kind: str, messages: list, jobs: int) -> tuple[int, list[str]]:
    """rspamc learn_KIND over the messages, 200 files per call; returns (learned, failures)."""
    learned, failures = 0, []
    for start_at in range(0, len(messages), 200):
        chunk = [str(m.path) for m in messages[start_at:start_at + 200]]
        argv = ["rspamc", "-h", f"127.0.0.1:{ports['controller']}", "-t", "120", "-n", str(max(1, jobs)),
                f"learn_{kind}", *chunk]
        done = subprocess.run(nice(argv), capture_output=True, text=True)
        learned += done.stdout.count("success = true;")
        for block in done.stdout.split("Results for file: ")[1:]:
            if "success = true;" not in block:
                failures.append(" ".join(block.split())[:160])
    return learned, failures


def run(train: list, held: list, work: Path, jobs: int, log) -> tuple[list[Verdict], dict]:
    need_programs("rspamd", "rspamc", "redis-server")
    work.mkdir(parents=True, exist_ok=True)
    info = {"version": version(), "actions": "greylist 4, add header 6, reject 15 (stock)"}
    processes, ports = start(work, jobs, log)
    try:
        started = time.monotonic()
        for kind in ("ham", "spam"):
            chosen = [m for m in train if m.label == kind]
            log(f"rspamc learn_{kind}: {len(chosen)} messages")
            learned, failures = learn(ports, kind, chosen, jobs)
            info[f"learned_{kind}"] = learned
            # Stock learn condition: a message rspamd already puts in that class with a high
            # probability is not learned again ("already in class spam").
            info[f"not_learned_{kind}"] = len(failures)
            log(f"  learned {learned}; not learned {len(failures)}" +
                (f" (first: {failures[0]})" if failures else ""))
        info["train_seconds"] = round(time.monotonic() - started, 1)

        def scan(message) -> Verdict:
            argv = ["rspamc", "-h", f"127.0.0.1:{ports['normal']}", "-t", "120", "-j", "symbols", str(message.path)]
            done = subprocess.run(argv, capture_output=True, text=True)
            try:
                answer = json.loads(done.stdout)
                action, score = answer["action"], float(answer["score"])
            except (ValueError, KeyError, TypeError):
                return Verdict(message.relative, message.label, ERROR,
                               error=f"rspamc {done.returncode}: {(done.stdout + done.stderr)[:200]}")
            outcome = ACCEPT if action == "no action" else REJECT if action == "reject" else TAG
            symbols = answer.get("symbols", {})
            rules = [f"{name}={float(s.get('score', 0)):g}" for name, s in
                     sorted(symbols.items(), key=lambda item: -abs(float(item[1].get("score", 0))))
                     if float(s.get("score", 0)) != 0]
            return Verdict(message.relative, message.label, outcome, score=score, action=action, rules=rules)

        started = time.monotonic()
        verdicts = map_messages(scan, held, jobs, "rspamc")
        info["scan_seconds"] = round(time.monotonic() - started, 1)
    finally:
        for p in reversed(processes):
            stop(p)
    return verdicts, info
