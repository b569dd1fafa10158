"""End-to-end test harness: starts the real gatehouse binary and real peers on loopback.

Fixtures:
  gatehouse_bin     path of the binary under test ($GATEHOUSE_BIN or build/gatehouse)
  free_port()       a free TCP port on 127.0.0.1
  smtp_sink         Postfix's smtp-sink as back-end, writing every message to a directory
  start_gatehouse() starts `gatehouse serve` with a generated TOML configuration; stopped at teardown
Every process started here is stopped at teardown; every wait is bounded.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running end-to-end test")


@pytest.fixture(scope="session")
def gatehouse_bin():
    path = os.environ.get("GATEHOUSE_BIN", str(ROOT / "build" / "gatehouse"))
    assert os.access(path, os.X_OK), f"gatehouse binary not found at {path}: build it first (scripts/build.sh)"
    return path


def free_port_number():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    return free_port_number


def wait_for_port(port, host="127.0.0.1", timeout=15.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def wait_until(predicate, timeout=15.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{message} not reached after {timeout}s")


class Process:
    """A child process with a log file, stopped at teardown."""

    def __init__(self, argv, log_path, cwd=None, env=None):
        self.argv = argv
        self.log_path = pathlib.Path(log_path)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                     start_new_session=True)

    def poll(self):
        return self.proc.poll()

    @property
    def returncode(self):
        return self.proc.returncode

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")


class SmtpSink:
    """Postfix's smtp-sink on a loopback port; each message is written to `directory`."""

    def __init__(self, tmp_path, port, extra_args=(), name="sink"):
        self.port = port
        self.directory = tmp_path / f"{name}-mail"
        self.directory.mkdir(exist_ok=True)
        self.extra_args = list(extra_args)
        self.tmp_path = tmp_path
        self.name = name
        self.process = None

    def start(self):
        # -u root: run as root without dropping to "nobody" (the directory is ours);
        # -d: one file per message; -c: count; 500 concurrent sessions backlog.
        argv = ["/usr/sbin/smtp-sink", "-u", "root", "-c", "-d", str(self.directory) + "/%M%S.", *self.extra_args,
                f"127.0.0.1:{self.port}", "500"]
        self.process = Process(argv, self.tmp_path / f"{self.name}.log")
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self):
        if self.process:
            self.process.stop(signal.SIGKILL)
            self.process = None

    def messages(self):
        return sorted(p for p in self.directory.rglob("*") if p.is_file())

    def texts(self):
        return [p.read_bytes().decode("utf-8", "replace") for p in self.messages()]


@pytest.fixture
def smtp_sink(tmp_path):
    sinks = []

    def make(extra_args=(), port=None, name="sink", start=True):
        sink = SmtpSink(tmp_path, port or free_port_number(), extra_args, name=f"{name}{len(sinks)}")
        sinks.append(sink)
        return sink.start() if start else sink

    yield make
    for sink in sinks:
        sink.stop()


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(server, domains, sections=None, listeners=()):
    lines = ["[server]"] + [f"{k} = {toml_value(v)}" for k, v in server.items()]
    for name, values in (sections or {}).items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    for listener in listeners:
        lines.append("[[listener]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in listener.items()]
    for domain in domains:
        lines.append("[[domain]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in domain.items()]
    return "\n".join(lines) + "\n"


class Gatehouse:
    """A running `gatehouse serve` with its configuration, state directory and CLI."""

    def __init__(self, binary, tmp_path, port, config_text, name="gatehouse"):
        self.binary = binary
        self.port = port
        self.tmp_path = tmp_path
        self.config_path = tmp_path / f"{name}.toml"
        self.config_path.write_text(config_text)
        self.state_dir = tmp_path / "state"
        self.name = name
        self.process = None

    def start(self, wait=True):
        self.process = Process([self.binary, "serve", "--config", str(self.config_path)], self.tmp_path / f"{self.name}.log",
                               cwd=str(self.tmp_path))
        if wait:
            wait_for_port(self.port, process=self.process)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if self.process:
            rc = self.process.stop(sig, timeout)
            return rc
        return None

    def kill9(self):
        self.process.kill9()

    def log(self):
        return self.process.output() if self.process else ""

    def cli(self, *args, input=None, check=True, timeout=60):
        result = subprocess.run([self.binary, *args, "--config", str(self.config_path)], input=input, capture_output=True,
                                timeout=timeout, cwd=str(self.tmp_path))
        if check and result.returncode != 0:
            raise AssertionError(f"gatehouse {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout.decode(errors='replace')}\n{result.stderr.decode(errors='replace')}")
        return result

    def log_rows(self, *args):
        import json
        return json.loads(self.cli("log", "search", "--json", "--limit", "100000", *args).stdout)

    def wait_for_row(self, transaction_id, predicate=lambda row: True, timeout=15.0):
        """The log row of `transaction_id` once it is committed and satisfies `predicate`."""
        def ready():
            rows = self.log_rows("--id", transaction_id)
            return rows[0] if rows and predicate(rows[0]) else None
        return wait_until(ready, timeout=timeout, interval=0.1, message=f"log row {transaction_id}")


@pytest.fixture
def start_gatehouse(gatehouse_bin, tmp_path):
    """start_gatehouse(domains=[...], server={...}, sections={...}, listeners=[...]) -> Gatehouse."""
    instances = []

    def start(domains, server=None, sections=None, listeners=(), start=True):
        port = (server or {}).get("port") or free_port_number()
        settings = {"hostname": "gw.example.test", "listen": [f"127.0.0.1:{port}"], "state_dir": str(tmp_path / "state")}
        settings.update({k: v for k, v in (server or {}).items() if k != "port"})
        merged_sections = {"delivery": {"retry_schedule": ["1s"], "backend_timeout": "5s", "connect_timeout": "2s"}}
        for key, values in (sections or {}).items():
            merged_sections.setdefault(key, {}).update(values)
        config = render_config(settings, domains, merged_sections, listeners)
        gh = Gatehouse(gatehouse_bin, tmp_path, port, config, name=f"gatehouse{len(instances)}")
        instances.append(gh)
        return gh.start() if start else gh

    yield start
    for gh in instances:
        gh.stop(signal.SIGKILL)
