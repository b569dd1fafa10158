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
    if isinstance(value, dict):  # an inline table
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_key(key):
    return key if _re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def render_config(server, domains, sections=None, listeners=()):
    lines = ["[server]"] + [f"{k} = {toml_value(v)}" for k, v in server.items()]
    for name, values in (sections or {}).items():
        # A list of tables is an array of tables ([[dnsbl]]); nested tables are written inline.
        for table in (values if isinstance(values, list) else [values]):
            lines.append(f"[[{name}]]" if isinstance(values, list) else f"[{name}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
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
        # The web server listens on 127.0.0.1:8080 unless told otherwise: every test daemon gets a
        # free port of its own instead (tests run beside each other and beside a demo daemon).
        self.web_port = free_port_number()
        if "[web]" not in config_text:
            config_text += f'\n[web]\nlisten = ["127.0.0.1:{self.web_port}"]\n'
        else:
            config_text = config_text.replace('"127.0.0.1:8080"', f'"127.0.0.1:{self.web_port}"')
        # A [web] of the test's own (start_gatehouse(sections={"web": …})) names its port.
        listen = _re.search(r'^\[web\]\n(?:[^\[\n].*\n|\n)*?listen = \["127\.0\.0\.1:(\d+)"', config_text, _re.M)
        if listen:
            self.web_port = int(listen.group(1))
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


@pytest.fixture(scope="session")
def session_dns(tmp_path_factory):
    """One fixture DNS server (unbound with tests/fixtures/dns/local-data.conf) for the whole run:
    every gatehouse a test starts resolves through it unless the test says otherwise, so the sender
    checks (reverse DNS, SPF, block lists) see realistic answers instead of time-outs."""
    script = ROOT / "tests" / "fixtures" / "dns" / "run-unbound.sh"
    port = free_port_number()
    process = Process(["bash", str(script), str(port)], tmp_path_factory.mktemp("session-dns") / "unbound.log")
    try:
        wait_until(lambda: process.poll() is None and _dns_query_answers(port), timeout=15,
                   message="session DNS server answering")
        yield port
    finally:
        process.stop(signal.SIGTERM, timeout=10)


@pytest.fixture
def start_gatehouse(gatehouse_bin, tmp_path, session_dns):
    """start_gatehouse(domains=[...], server={...}, sections={...}, listeners=[...]) -> Gatehouse."""
    instances = []

    def start(domains, server=None, sections=None, listeners=(), start=True):
        port = (server or {}).get("port") or free_port_number()
        settings = {"hostname": "gw.example.test", "listen": [f"127.0.0.1:{port}"], "state_dir": str(tmp_path / "state")}
        settings.update({k: v for k, v in (server or {}).items() if k != "port"})
        merged_sections = {"delivery": {"retry_schedule": ["1s"], "backend_timeout": "5s", "connect_timeout": "2s"},
                           # Never the system resolver: DNS stays on loopback, the session's
                           # fixture server unless the test names another.
                           "dns": {"nameservers": [f"127.0.0.1:{session_dns}"], "timeout": "500ms"},
                           # The web server on a free port (the default, 8080, would collide).
                           "web": {"listen": [f"127.0.0.1:{free_port_number()}"]}}
        for key, values in (sections or {}).items():
            if isinstance(values, list):
                merged_sections[key] = values
            else:
                merged_sections.setdefault(key, {}).update(values)
        config = render_config(settings, domains, merged_sections, listeners)
        gh = Gatehouse(gatehouse_bin, tmp_path, port, config, name=f"gatehouse{len(instances)}")
        instances.append(gh)
        return gh.start() if start else gh

    yield start
    for gh in instances:
        gh.stop(signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# Protocol helpers (appended for the protocol/relay/smuggling/TLS/PROXY tests):
#   SmtpConn        a raw SMTP client socket that reads complete (multi-line) replies
#   RawSink         a tiny real SMTP server that records the exact bytes of every DATA
#   raw_sink        fixture: raw_sink() -> started RawSink, stopped at teardown
#   make_self_signed_cert(dir) -> (cert, key) made with the openssl CLI
#   run_swaks(port, *args)
import re as _re
import socketserver as _socketserver
import threading as _threading


class SmtpReply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines              # text of each line, without "250-" / "250 "

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return f"SmtpReply({self.code}, {self.lines!r})"


class SmtpConn:
    """A raw SMTP connection: send exact bytes, read complete replies. Every read is bounded."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, greet=True, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buffer = b""
        self.eof = False
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete SMTP reply within {self.timeout}s; buffered {self.buffer[:300]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no complete SMTP reply within {self.timeout}s; buffered {self.buffer[:300]!r}")
        if not chunk:
            self.eof = True
            raise ConnectionError(f"connection closed by server; buffered {self.buffer[:300]!r}")
        self.buffer += chunk

    def reply(self, timeout=None):
        """One complete reply (all of its continuation lines)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                self._fill(deadline)
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            assert _re.match(r"^[2-5]\d\d([ -]|$)", text), f"malformed reply line {text!r}"
            lines.append(text[4:])
            if len(text) == 3 or text[3] == " ":
                return SmtpReply(int(text[:3]), lines)

    def replies(self, count, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        return [self.reply(timeout=max(0.1, deadline - time.monotonic())) for _ in range(count)]

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        reply = self.cmd(f"EHLO {name}")
        assert reply.code == 250, reply
        return reply

    def wait_closed(self, timeout=5.0):
        """True once the server closed the connection (anything still sent is kept in .buffer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                self.eof = True
                return True
            self.buffer += chunk
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RawSink:
    """A minimal real SMTP server (threads, loopback) that keeps the exact bytes it receives
    between DATA's 354 and the terminating <CRLF>.<CRLF> (dot-stuffed, as on the wire)."""

    def __init__(self, port=None):
        self.port = port or free_port_number()
        self.messages = []              # list of dicts: mail, rcpts, data (raw bytes)
        self.lock = _threading.Lock()
        sink = self

        class Handler(_socketserver.BaseRequestHandler):
            def handle(self):
                conn = self.request
                conn.settimeout(30)
                buf = b""
                conn.sendall(b"220 rawsink ESMTP\r\n")
                mail, rcpts = None, []

                def read_more():
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise ConnectionError
                    return chunk

                try:
                    while True:
                        while b"\r\n" not in buf:
                            buf += read_more()
                        line, buf = buf.split(b"\r\n", 1)
                        verb = line[:4].upper()
                        if verb in (b"EHLO", b"LHLO"):
                            conn.sendall(b"250-rawsink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                         b"250-SIZE 104857600\r\n250 ENHANCEDSTATUSCODES\r\n")
                        elif verb == b"HELO":
                            conn.sendall(b"250 rawsink\r\n")
                        elif verb == b"MAIL":
                            mail, rcpts = line, []
                            conn.sendall(b"250 2.1.0 Ok\r\n")
                        elif verb == b"RCPT":
                            rcpts.append(line)
                            conn.sendall(b"250 2.1.5 Ok\r\n")
                        elif verb == b"DATA":
                            conn.sendall(b"354 go ahead\r\n")
                            while not (buf.startswith(b".\r\n") or b"\r\n.\r\n" in buf):
                                buf += read_more()
                            if buf.startswith(b".\r\n"):
                                data, buf = b"", buf[3:]
                            else:
                                end = buf.index(b"\r\n.\r\n")
                                data, buf = buf[:end + 2], buf[end + 5:]
                            with sink.lock:
                                sink.messages.append({"mail": mail, "rcpts": rcpts, "data": data})
                            conn.sendall(b"250 2.0.0 Ok: stored\r\n")
                            mail, rcpts = None, []
                        elif verb == b"QUIT":
                            conn.sendall(b"221 2.0.0 Bye\r\n")
                            return
                        elif verb in (b"RSET", b"NOOP"):
                            mail, rcpts = (None, []) if verb == b"RSET" else (mail, rcpts)
                            conn.sendall(b"250 2.0.0 Ok\r\n")
                        else:
                            conn.sendall(b"502 5.5.1 not implemented\r\n")
                except (ConnectionError, OSError):
                    return

        class Server(_socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = _threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self):
        self.thread.start()
        wait_for_port(self.port)
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def datas(self):
        with self.lock:
            return [m["data"] for m in self.messages]


@pytest.fixture
def raw_sink():
    sinks = []

    def make(port=None):
        sink = RawSink(port).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


def make_self_signed_cert(directory, cn="gw.example.test"):
    directory = pathlib.Path(directory)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def run_swaks(port, *args, timeout=40):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--timeout", "20", *args], capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Durability / recovery / operations helpers (appended):
#   send_message(port, rcpts, subject=…, ...) -> SendResult(code, text, id)   via smtplib, never raises
#   reply_id(text)                 the transaction ID quoted in a reply, or None
#   sink_subjects(sink)            Subject of every message captured by an SmtpSink (list, with repeats)
#   queue_ids(gh)                  IDs listed by `gatehouse queue list`
#   DovecotLmtp / dovecot_lmtp     a real Dovecot LMTP server (inet + unix socket, passwd-file users)
#   fixture_dns                    fixture: tests/fixtures/dns/run-unbound.sh on a free port -> port
import collections as _collections
import smtplib as _smtplib
import tempfile as _tempfile

SendResult = _collections.namedtuple("SendResult", "code text id")
_ID_RE = _re.compile(r"\(ID:([0-9A-Za-z]+)\)")


def reply_id(text):
    match = _ID_RE.search(text or "")
    return match.group(1) if match else None


def build_message(subject, sender="sender@remote.test", to="alice@example.test", body="Hello.\r\n", message_id=None,
                  extra_headers=()):
    message_id = message_id or f"<{subject.replace(' ', '-')}@remote.test>"
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {message_id}",
            "Date: Mon, 23 Nov 2026 10:00:00 +0000", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def send_message(port, rcpts, subject="test", sender="sender@remote.test", body="Hello.\r\n", message=None,
                 timeout=30, helo="client.remote.test"):
    """One SMTP transaction with smtplib. Returns the end-of-DATA reply (or the first refusal,
    or code 0 with the exception text when the connection failed); never raises."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    data = message if message is not None else build_message(subject, sender, rcpts[0], body)
    try:
        with _smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=timeout) as smtp:
            smtp.ehlo()
            code, text = smtp.mail(sender)
            if code != 250:
                return SendResult(code, text.decode(errors="replace"), reply_id(text.decode(errors="replace")))
            accepted = 0
            last = (0, "")
            for rcpt in rcpts:
                code, text = smtp.rcpt(rcpt)
                last = (code, text.decode(errors="replace"))
                accepted += code in (250, 251)
            if not accepted:
                return SendResult(last[0], last[1], reply_id(last[1]))
            code, text = smtp.data(data)
            text = text.decode(errors="replace")
            return SendResult(code, text, reply_id(text))
    except _smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        return SendResult(e.smtp_code, text, reply_id(text))
    except (OSError, _smtplib.SMTPException) as e:
        return SendResult(0, f"{type(e).__name__}: {e}", None)


def sink_subjects(sink):
    subjects = []
    for text in sink.texts():
        match = _re.search(r"^Subject: (.*)$", text, _re.M)
        if match:
            subjects.append(match.group(1).strip())
    return subjects


def queue_ids(gh):
    out = gh.cli("queue", "list").stdout.decode()
    return _re.findall(r"^([0-9A-Z]{14})\s", out, _re.M)


class DovecotLmtp:
    """Dovecot 2.3 serving only LMTP (inet on a loopback port and a unix socket), users from a
    passwd-file, mail into maildir:<root>/mail/%u. Runs as root; mail is owned by nobody, so its
    directory lives outside pytest's 0700 tmp tree."""

    def __init__(self, users, port=None):
        self.port = port or free_port_number()
        self.root = pathlib.Path(_tempfile.mkdtemp(prefix="gh-dovecot-"))
        os.chmod(self.root, 0o755)
        self.mail_dir = self.root / "mail"
        for sub in ("mail", "home"):
            (self.root / sub).mkdir()
            os.chmod(self.root / sub, 0o777)
        self.socket_path = self.root / "lmtp.sock"
        (self.root / "users").write_text("".join(f"{u}:{{PLAIN}}x::::::\n" for u in users))
        self.config_path = self.root / "dovecot.conf"
        self.config_path.write_text(f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
instance_name = gh-{self.root.name}
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_login_user = nobody
default_internal_user = root
default_internal_group = root
mail_location = maildir:{self.mail_dir}/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {self.root}/users
}}
userdb {{
  driver = passwd-file
  args = {self.root}/users
  default_fields = uid=nobody gid=nogroup home={self.root}/home/%u
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.port}
  }}
  unix_listener {self.socket_path} {{
    mode = 0666
  }}
}}
""")
        self.process = None

    def start(self):
        self.process = Process(["dovecot", "-F", "-c", str(self.config_path)], self.root / "dovecot.out")
        wait_for_port(self.port, process=self.process)
        wait_until(lambda: self.socket_path.exists(), timeout=10, message="dovecot LMTP socket")
        return self

    def delivered(self, user):
        new = self.mail_dir / user / "new"
        return sorted(new.iterdir()) if new.is_dir() else []

    def log(self):
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        if self.process:
            self.process.stop(signal.SIGTERM, timeout=10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def dovecot_lmtp():
    servers = []

    def make(users):
        if not shutil.which("dovecot"):
            pytest.skip("dovecot is not installed")
        server = DovecotLmtp(users).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def _dns_query_answers(port, name="outbound.test", qtype=15, timeout=0.5):
    import struct
    query = struct.pack(">HHHHHH", 0x4748, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, ("127.0.0.1", port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return False
    return len(data) >= 12 and data[:2] == b"\x47\x48" and struct.unpack(">H", data[6:8])[0] > 0


@pytest.fixture
def fixture_dns(tmp_path):
    """The fixture DNS server (unbound with tests/fixtures/dns/local-data.conf) on a free port."""
    script = ROOT / "tests" / "fixtures" / "dns" / "run-unbound.sh"
    if not shutil.which("unbound") and not os.path.exists("/usr/sbin/unbound"):
        pytest.skip("unbound is not installed")
    port = free_port_number()
    process = Process(["bash", str(script), str(port)], tmp_path / "unbound.log")
    try:
        wait_until(lambda: process.poll() is None and _dns_query_answers(port), timeout=15,
                   message="fixture DNS server answering")
        yield port
    finally:
        process.stop(signal.SIGTERM, timeout=10)
