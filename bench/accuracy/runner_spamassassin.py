"""SpamAssassin on the split: Debian's stock rules and site configuration, local tests only,
Bayes trained with sa-learn on the training split, a private spamd on 127.0.0.1 scoring each
held-out message through spamc. Tagged from score 5 (SpamAssassin's required_score), rejected
from 10 (the issue's reject line).

Private: the site configuration is a copy of /etc/spamassassin (its .pre plugin lists, 65_debian.cf,
local.cf) plus zz_bench.cf below, in the work directory, and so are the Bayes database, the
user-preferences file and spamd's home and log; nothing of the system's SpamAssassin state is read
or written. No network: -L (local tests only) on sa-learn and spamd, dns_available no, and the DNS
server set to a closed loopback port besides, so that not even a stray lookup leaves the machine."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from common import (ERROR, Unavailable, Verdict, by_thresholds, free_port, map_messages, need_programs, nice,
                    start_daemon, stop, wait_until)

NAME = "SpamAssassin"
TAG_SCORE = 5.0      # SpamAssassin's default required_score
REJECT_SCORE = 10.0  # the reject threshold
CLOSED_DNS = "127.0.0.1:9"  # discard port, nothing listens: any lookup fails at once, on loopback

BENCH_CF = """\
# bench/accuracy: no network tests, Bayes on (trained by sa-learn, never by itself), private paths.
dns_available no
dns_server {closed_dns}
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
use_dcc 0
use_bayes 1
use_bayes_rules 1
bayes_auto_learn 0
bayes_auto_expire 0
bayes_path {bayes}/bayes
bayes_file_mode 0777
lock_method flock
required_score {tag}
report_safe 0
"""


def version() -> str:
    out = subprocess.run(["spamassassin", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].replace("SpamAssassin version ", "") if out else "?"


def setup(work: Path) -> dict:
    site, home, bayes = work / "site", work / "home", work / "bayes"
    for d in (site, home, bayes):
        d.mkdir(parents=True, exist_ok=True)
    for stock in Path("/etc/spamassassin").iterdir():
        if stock.is_file() and stock.suffix in (".pre", ".cf"):
            shutil.copy(stock, site / stock.name)
    (site / "zz_bench.cf").write_text(BENCH_CF.format(closed_dns=CLOSED_DNS, bayes=bayes, tag=TAG_SCORE))
    prefs = work / "user_prefs"
    prefs.write_text("# empty: the site configuration decides\n")
    env = dict(os.environ, HOME=str(home), LC_ALL="C.UTF-8")
    return {"site": site, "home": home, "bayes": bayes, "prefs": prefs, "env": env}


def learn(paths: dict, work: Path, kind: str, messages: list) -> str:
    listing = work / f"learn-{kind}.list"
    listing.write_text("".join(f"{m.path}\n" for m in messages))
    argv = ["sa-learn", f"--{kind}", "--local", f"--siteconfigpath={paths['site']}", f"--prefspath={paths['prefs']}",
            f"--folders={listing}"]
    done = subprocess.run(nice(argv), capture_output=True, text=True, env=paths["env"])
    if done.returncode != 0:
        raise Unavailable(f"sa-learn --{kind} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def bayes_counts(paths: dict) -> str:
    argv = ["sa-learn", "--dump", "magic", f"--siteconfigpath={paths['site']}", f"--prefspath={paths['prefs']}"]
    out = subprocess.run(argv, capture_output=True, text=True, env=paths["env"]).stdout
    counts = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[-1] in ("nspam", "nham", "ntokens"):
            counts[fields[-1]] = int(fields[2])
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def parse_report(text: str) -> tuple[float, list[str]]:
    """spamc -R's answer: "score/threshold" on the first line, then the report table whose rows
    are " pts rule_name  description"."""
    lines = text.splitlines()
    score = float(lines[0].split("/")[0])
    rules = []
    in_table = False
    for line in lines[1:]:
        if line.startswith(" pts rule name") or line.startswith("---- "):
            in_table = True
            continue
        fields = line.split()
        if in_table and len(fields) >= 2:
            try:
                points = float(fields[0])
            except ValueError:
                continue
            rules.append(f"{fields[1]}={points:g}")
    return score, rules


def run(train: list, held: list, work: Path, jobs: int, log) -> tuple[list[Verdict], dict]:
    need_programs("spamassassin", "sa-learn", "spamc", "/usr/sbin/spamd")
    work.mkdir(parents=True, exist_ok=True)
    paths = setup(work)
    info = {"version": version(), "tag_score": TAG_SCORE, "reject_score": REJECT_SCORE}

    started = time.monotonic()
    for kind in ("ham", "spam"):
        chosen = [m for m in train if m.label == kind]
        log(f"sa-learn --{kind}: {len(chosen)} messages")
        log(f"  {learn(paths, work, kind, chosen)}")
    info["learned"] = bayes_counts(paths)
    info["train_seconds"] = round(time.monotonic() - started, 1)
    log(f"Bayes database: {info['learned']} ({info['train_seconds']} s)")

    # spamd drops root privileges: as root it runs as "nobody", who must be able to use the work
    # directory (Bayes database, home).
    spamd_user = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for directory in (work, paths["home"], paths["bayes"]):
            directory.chmod(0o755)
        # The benchmark's own work root (mkdtemp makes it 0700) must be passable too.
        if work.parent.stat().st_uid == os.geteuid():
            work.parent.chmod(work.parent.stat().st_mode | 0o111)
        for entry in [paths["home"], paths["bayes"], *paths["bayes"].iterdir()]:
            os.chown(entry, nobody.pw_uid, nobody.pw_gid)
        spamd_user = ["--username=nobody"]
    port = free_port()
    spamd_log = work / "spamd.log"
    argv = ["/usr/sbin/spamd", "--local", "--nouser-config", f"--siteconfigpath={paths['site']}",
            f"--listen=127.0.0.1:{port}", "--allowed-ips=127.0.0.1", f"--max-children={max(1, jobs)}",
            f"--helper-home-dir={paths['home']}", f"--syslog={spamd_log}", f"--pidfile={work / 'spamd.pid'}",
            *spamd_user]
    spamd = start_daemon(argv, work / "spamd.out", env=paths["env"], cwd=work)
    try:
        ping = ["spamc", "-d", "127.0.0.1", "-p", str(port), "-K"]
        wait_until(lambda: subprocess.run(ping, capture_output=True).returncode == 0, "spamd", spamd, 180,
                   spamd_log)

        def score(message) -> Verdict:
            argv = ["spamc", "-d", "127.0.0.1", "-p", str(port), "-R", "-x", "-t", "300", "-s", "64000000"]
            with open(message.path, "rb") as data:
                done = subprocess.run(argv, stdin=data, capture_output=True)
            text = done.stdout.decode("utf-8", "replace")
            try:
                value, rules = parse_report(text)
            except (ValueError, IndexError):
                return Verdict(message.relative, message.label, ERROR,
                               error=f"spamc {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")
            return Verdict(message.relative, message.label, by_thresholds(value, TAG_SCORE, REJECT_SCORE),
                           score=value, rules=rules)

        started = time.monotonic()
        verdicts = map_messages(score, held, jobs, "spamc")
        info["scan_seconds"] = round(time.monotonic() - started, 1)
    finally:
        stop(spamd)
    return verdicts, info
