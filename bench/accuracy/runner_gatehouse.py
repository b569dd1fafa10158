"""gatehouse on the split: `gatehouse learn` on the training split into a fresh state store, then
`gatehouse check --json --no-dns` for every held-out message with the envelope read back from the
message (envelope.py): --ip the first public client address of its Received fields that is not
one of the collecting sites' own relays, --helo the name that client gave (a neutral 192.0.2.1 /
mail.bench.test for mail with no public hop), --ptr the client's name where the receiving MTA
recorded one, --arrival the time it recorded, --from its Return-Path, --rcpt a recipient of the
benchmark's domain.
Tagged and rejected are gatehouse's own dispositions ("tag", "reject") under the thresholds of the
configuration used (default: the generated one below, tag 5, reject 10 — gatehouse's defaults).

--no-dns: block lists, SPF and the forward confirmation of the reverse name give no evidence, as
the other two run without network tests; gatehouse check makes no lookups at all then (the reverse
name is the one --ptr gives, as SpamAssassin reads it from the same Received field)."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from common import (ACCEPT, ERROR, REJECT, TAG, Unavailable, Verdict, map_messages, nice)
from envelope import Envelope, read_envelope

NAME = "gatehouse"
RECIPIENT = "user@bench.test"
NEUTRAL_CLIENT = ("192.0.2.1", "mail.bench.test")
DEFAULT_BINARY = Path(__file__).resolve().parents[2] / "build-acc" / "gatehouse"

CONFIG = """\
# bench/accuracy: gatehouse's defaults, a fresh state store, one domain that takes any recipient.
[server]
hostname = "gw.bench.test"
listen = ["127.0.0.1:1"]
state_dir = "{state}"

[dns]
nameservers = ["127.0.0.1:9"]

[[domain]]
name = "bench.test"
backend = "maildir:{state}/maildir"
recipients = "any"
"""


def binary() -> Path:
    return Path(os.environ.get("GATEHOUSE_BIN", DEFAULT_BINARY))


def version(gatehouse: Path) -> str:
    done = subprocess.run([str(gatehouse), "--version"], capture_output=True, text=True)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if done.returncode == 0 and text else "?"


def learn_available(gatehouse: Path) -> bool:
    done = subprocess.run([str(gatehouse), "learn", "--help"], capture_output=True, text=True)
    return done.returncode == 0 and "--ham" in done.stdout


def learn(gatehouse: Path, config: Path, train: list, log) -> str:
    """One `gatehouse learn` with every training message named (files, so that nothing but the
    split is learned)."""
    argv = [str(gatehouse), "learn", "--config", str(config)]
    for kind in ("ham", "spam"):
        for message in train:
            if message.label == kind:
                argv += [f"--{kind}", str(message.path)]
    done = subprocess.run(nice(argv), capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"gatehouse learn failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def envelope_argv(envelope: Envelope) -> list[str]:
    """`gatehouse check`'s envelope options for a message's envelope."""
    argv = ["--from", envelope.mail_from, "--rcpt", RECIPIENT]
    if envelope.arrival:
        # The Date field is judged against the time the message arrived, not against today.
        argv += ["--arrival", envelope.arrival]
    if not envelope.client_ip:
        # No public hop: delivered inside the collecting site (cron, RSS robots, local lists). Such
        # mail never crossed a gateway; it gets a neutral client (TEST-NET-1, a valid HELO) rather
        # than gatehouse check's default 127.0.0.1/"localhost", whose HELO would score not_fqdn.
        return argv + ["--ip", NEUTRAL_CLIENT[0], "--helo", NEUTRAL_CLIENT[1]]
    if envelope.rdns:
        # The client's name as the receiving MTA looked it up then (DNS of 2002 cannot be asked
        # today). Where it wrote none, nothing is passed: no lookup, no evidence either way.
        argv += ["--ptr", envelope.rdns]
    return argv + ["--ip", envelope.client_ip, "--helo", envelope.helo]


def check(gatehouse: Path, config: Path, message) -> Verdict:
    argv = [str(gatehouse), "check", "--config", str(config), "--json", "--no-dns",
            *envelope_argv(read_envelope(message.path))]
    with open(message.path, "rb") as data:
        done = subprocess.run(nice(argv), stdin=data, capture_output=True)
    try:
        # Explanations can quote message bytes that are not UTF-8; the verdict and score are ASCII.
        answer = json.loads(done.stdout.decode("utf-8", "replace"))
        disposition, score = answer["verdict"], float(answer["score"])
    except (ValueError, KeyError, TypeError):
        return Verdict(message.relative, message.label, ERROR,
                       error=f"gatehouse check {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")
    outcome = {"reject": REJECT, "tag": TAG}.get(disposition, ACCEPT)
    if disposition == "tempfail":
        outcome = ERROR
    rules = [f"{c['name']}={c['score']:g}" for c in answer.get("checks", []) if c.get("score")]
    return Verdict(message.relative, message.label, outcome, score=score, action=disposition, rules=rules,
                   error=answer.get("reason", "") if outcome == ERROR else "")


def run(train: list, held: list, work: Path, jobs: int, log, config_file: Path | None = None) -> tuple[list[Verdict], dict]:
    gatehouse = binary()
    if not gatehouse.is_file():
        raise Unavailable(f"no binary at {gatehouse} (build it, or set GATEHOUSE_BIN)")
    if not learn_available(gatehouse):
        raise Unavailable("learn not available (this binary has no `gatehouse learn`)")
    work.mkdir(parents=True, exist_ok=True)
    state = work / "state"
    state.mkdir(exist_ok=True)
    config = work / "gatehouse.toml"
    if config_file:
        config.write_text(Path(config_file).read_text())  # its own state_dir; must be a fresh one
    else:
        config.write_text(CONFIG.format(state=state))
    info = {"version": version(gatehouse), "binary": str(gatehouse), "config": str(config_file or "generated")}

    started = time.monotonic()
    log(f"gatehouse learn: {sum(m.label == 'ham' for m in train)} ham, {sum(m.label == 'spam' for m in train)} spam")
    info["learned"] = learn(gatehouse, config, train, log)
    info["train_seconds"] = round(time.monotonic() - started, 1)
    log(f"  {info['learned']} ({info['train_seconds']} s)")

    started = time.monotonic()
    verdicts = map_messages(lambda m: check(gatehouse, config, m), held, jobs, "gatehouse check")
    info["scan_seconds"] = round(time.monotonic() - started, 1)
    return verdicts, info
