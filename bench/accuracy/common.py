"""What the accuracy runners share: the verdict record, the classification by thresholds, free
loopback ports, waiting for a private daemon, and running a command per message on a few workers.

Every daemon the benchmark starts listens on 127.0.0.1 only and is stopped by the runner that
started it (by its own process id)."""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

# The outcome classes every runner maps its filter's answer to.
ACCEPT, TAG, REJECT, ERROR = "accept", "tag", "reject", "error"


@dataclass
class Verdict:
    relative: str                 # the message, as labels.tsv names it
    label: str                    # "ham" or "spam" (the truth)
    outcome: str                  # ACCEPT, TAG, REJECT or ERROR
    score: float | None = None
    action: str = ""              # the filter's own word (rspamd's action, gatehouse's disposition)
    rules: list[str] = field(default_factory=list)   # what fired, for looking at mistakes
    error: str = ""


def by_thresholds(score: float, tag: float, reject: float) -> str:
    """SpamAssassin-style classification: reject from `reject`, tag from `tag`."""
    if score >= reject:
        return REJECT
    if score >= tag:
        return TAG
    return ACCEPT


class Unavailable(Exception):
    """A filter that cannot be run here (not installed, not built, a feature missing); the
    message says why, in one line, and the other filters still run."""


def need_programs(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None and not Path(n).is_file()]
    if missing:
        raise Unavailable(f"not installed: {', '.join(missing)} (bash bench/accuracy/install-deps.sh)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen | None, timeout: float,
               log: Path | None = None) -> None:
    """Polls `ready` every 0.2 s until it is true; raises Unavailable when `process` exits first or
    `timeout` seconds pass (with the end of `log`, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise Unavailable(f"{what} exited with status {process.returncode}{log_tail(log)}")
        time.sleep(0.2)
    raise Unavailable(f"{what} not ready after {timeout:.0f} s{log_tail(log)}")


def log_tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; end of {log}:\n  " + "\n  ".join(text)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen | None, timeout: float = 15) -> None:
    """Stops a daemon this benchmark started: SIGTERM to its process group (it was started in a
    session of its own, so its forked children go too), SIGKILL if it is still there after
    `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


def start_daemon(argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Starts a daemon in the foreground of a new session (so stop() reaches its children),
    nice 10, output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(["nice", "-n", "10", *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=cwd)


def nice(argv: list[str]) -> list[str]:
    return ["nice", "-n", "10", *argv]


def map_messages(function: Callable, items: Iterable, jobs: int, progress: str = "") -> list:
    """function(item) for every item on `jobs` threads (each typically waits for a subprocess or a
    socket), results in the items' order; a progress line on stderr every 10 %."""
    items = list(items)
    results = [None] * len(items)
    step = max(1, len(items) // 10)
    started = time.monotonic()
    finished = itertools.count(1)  # next() on it is atomic under the GIL

    def one(index_item):
        index, item = index_item
        results[index] = function(item)
        done = next(finished)
        if progress and done % step == 0:
            elapsed = time.monotonic() - started
            print(f"  {progress}: {done}/{len(items)} ({elapsed:.0f} s)", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, enumerate(items)))
    return results
