"""The antivirus check end to end: a real clamd (tests/fixtures/clamav/run-clamd.sh, a local signature
database built from ClamAV's own test files in ../shared/corpora/clamav) scans what reaches the real
gateway over INSTREAM. A virus is refused with 554 5.7.1 naming the signature and the transaction ID,
nothing reaches the back-end and the refused message is kept; white-listed senders are scanned too;
a scanner that is absent, dead or silent gives 451 4.7.1 (never 250, never 5xx) unless
on_failure = "accept"."""
import email.policy
import io
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from conftest import (ROOT, SHARED, Gatehouse, Process, SmtpSink, free_port_number, render_config, send_message,
                      wait_until)

TESTFILES = SHARED / "corpora" / "clamav" / "testfiles"
EICAR = (TESTFILES / "eicar.com").read_bytes() if (TESTFILES / "eicar.com").exists() else b""
RCPT = "alice@example.test"
SIGNATURE_RE = re.compile(r"Virus found: (Local\.[A-Za-z.-]+\.UNOFFICIAL) \(ID:(\w+)\)")

pytestmark = pytest.mark.skipif(not shutil.which("clamd", path="/usr/sbin:/usr/bin") or not EICAR,
                                reason="clamd or ../shared/corpora/clamav missing (scripts/install-deps.sh --test)")


class Clamd:
    """run-clamd.sh in a short private directory (unix socket paths are limited to 107 bytes)."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="gh-clamd-")
        self.socket = f"{self.directory}/clamd.sock"
        self.log_path = f"{self.directory}/run-clamd.log"
        self.process = Process(["bash", str(ROOT / "tests" / "fixtures" / "clamav" / "run-clamd.sh"), self.directory],
                               self.log_path)
        try:
            wait_until(lambda: self.process.poll() is not None or "clamd ready" in self.process.output(), timeout=90,
                       interval=0.2, message="clamd answering PING")
            if self.process.poll() is not None:
                raise RuntimeError(f"run-clamd.sh exited with {self.process.returncode}:\n{self.process.output()}")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        self.process.stop(signal.SIGTERM, timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def clamd():
    scanner = Clamd()
    yield scanner
    scanner.stop()


@pytest.fixture(scope="session")
def others_off(gatehouse_bin, tmp_path_factory):
    """[filter] settings that switch off the content checks which refuse these test files before
    the antivirus check runs (attachments: executables by name and type, cheaper than a scan), where
    this build has them: these tests are about what clamd finds."""
    directory = tmp_path_factory.mktemp("probe")
    checks = {}
    for name in ("attachments",):
        probe = directory / f"{name}.toml"
        probe.write_text(render_config({"listen": ["127.0.0.1:2525"], "state_dir": str(directory / "state")}, [],
                                       {"filter": {"checks": {name: {"enabled": False}}}}))
        result = subprocess.run([gatehouse_bin, "log", "search", "--config", str(probe), "--limit", "1"],
                                capture_output=True, timeout=30)
        if b"unknown key" not in result.stdout + result.stderr:
            checks[name] = {"enabled": False}
    return {"checks": checks} if checks else {}


def antivirus(socket_path, **extra):
    settings = {"enabled": True, "socket": socket_path, "timeout": "10s"}
    settings.update(extra)
    return settings


def domain_for(sink, **extra):
    d = {"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
         "addresses": [RCPT, "bob@example.test"]}
    d.update(extra)
    return d


def message_with(attachment, filename, subject, sender="sender@remote.test"):
    """A multipart message: a text part and `attachment` as a base64 application/octet-stream part."""
    msg = MIMEMultipart()
    msg["From"] = sender
    msg["To"] = RCPT
    msg["Subject"] = subject
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9]', '-', subject)}@remote.test>"
    msg.attach(MIMEText("Please see the attached file.\n"))
    part = MIMEApplication(attachment, Name=filename)
    part["Content-Disposition"] = f'attachment; filename="{filename}"'
    msg.attach(part)
    return msg.as_bytes(policy=email.policy.SMTP)


def clean_message(subject):
    return message_with(b"Quarterly figures, nothing to see here.\n" * 20, "figures.txt", subject)


def assert_virus_refused(result, sink, signature=None):
    assert result.code == 554, result
    match = SIGNATURE_RE.search(result.text)
    assert result.text.startswith("5.7.1 Virus found: ") and match, result
    assert match.group(2) == result.id
    if signature:
        assert match.group(1) == signature, result
    assert sink.messages() == [], "a virus reached the back-end"
    return match.group(1)


def antivirus_details(row):
    return [c["detail"] for c in row["checks"] if c["name"] == "antivirus"]


# One gateway (and back-end) for the tests that share the default antivirus settings.
@pytest.fixture(scope="module")
def gateway(clamd, gatehouse_bin, session_dns, tmp_path_factory, others_off):
    directory = tmp_path_factory.mktemp("antivirus-gateway")
    sink = SmtpSink(directory, free_port_number()).start()
    port = free_port_number()
    config = render_config(
        {"hostname": "gw.example.test", "listen": [f"127.0.0.1:{port}"], "state_dir": str(directory / "state")},
        [domain_for(sink)],
        {"delivery": {"retry_schedule": ["1s"], "backend_timeout": "5s", "connect_timeout": "2s"},
         "dns": {"nameservers": [f"127.0.0.1:{session_dns}"], "timeout": "500ms"},
         "lists": {"whitelist": ["friend@remote.test"]},
         "filter": others_off,
         "antivirus": antivirus(clamd.socket)})
    gh = Gatehouse(gatehouse_bin, directory, port, config).start()
    yield gh, sink
    gh.stop(signal.SIGKILL)
    sink.stop()


def test_eicar_attachment_is_refused_naming_signature_and_kept(gateway):
    gh, sink = gateway
    result = send_message(gh.port, RCPT, message=message_with(EICAR, "eicar.com", "eicar attached"))
    assert_virus_refused(result, sink, "Local.EICAR-Test-File.UNOFFICIAL")
    row = gh.wait_for_row(result.id)
    assert row["disposition"] == "reject" and row["reason"] == "antivirus", row
    assert row["reply"].startswith("554 5.7.1 Virus found: Local.EICAR-Test-File.UNOFFICIAL"), row["reply"]
    assert any("infected: Local.EICAR-Test-File.UNOFFICIAL" in d for d in antivirus_details(row)), row["checks"]
    # The refused message is stored for inspection.
    assert row["has_message"] is True
    assert b"Subject: eicar attached" in gh.cli("show", result.id, "--raw").stdout
    time.sleep(0.3)
    assert sink.messages() == []


@pytest.mark.parametrize("name", sorted(p.name for p in TESTFILES.iterdir()) if TESTFILES.exists() else [])
def test_every_clamav_test_file_attached_is_refused(gateway, name):
    gh, sink = gateway
    result = send_message(gh.port, RCPT, message=message_with((TESTFILES / name).read_bytes(), name, f"file {name}"))
    signature = assert_virus_refused(result, sink)
    assert signature.startswith(("Local.ClamAV-Test-File", "Local.EICAR-Test-File")), signature


def test_zipped_eicar_is_refused(gateway):
    gh, sink = gateway
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("invoice.com", EICAR)
    result = send_message(gh.port, RCPT, message=message_with(archive.getvalue(), "invoice.zip", "zipped eicar"))
    assert_virus_refused(result, sink, "Local.EICAR-Test-File.UNOFFICIAL")


def test_clean_message_is_delivered_and_logged_as_scanned(gateway):
    gh, sink = gateway
    result = send_message(gh.port, RCPT, message=clean_message("clean figures"))
    assert result.code == 250, result
    wait_until(lambda: any("Subject: clean figures" in t for t in sink.texts()), message="clean message delivered")
    row = gh.wait_for_row(result.id)
    assert antivirus_details(row) == ["clean"], row["checks"]


def test_whitelisted_sender_is_still_scanned(gateway):
    gh, sink = gateway
    # The white list lets this sender's clean mail through unscored...
    result = send_message(gh.port, RCPT, sender="friend@remote.test", message=clean_message("friendly figures"))
    assert result.code == 250, result
    assert any(c["name"] == "lists" and "whitelisted" in c["detail"] for c in gh.wait_for_row(result.id)["checks"])
    wait_until(lambda: any("Subject: friendly figures" in t for t in sink.texts()), message="whitelisted delivery")
    before = len(sink.messages())
    # ...but a virus from the same sender is refused all the same.
    result = send_message(gh.port, RCPT, sender="friend@remote.test",
                          message=message_with(EICAR, "eicar.com", "friendly eicar", sender="friend@remote.test"))
    assert result.code == 554 and "Virus found: Local.EICAR-Test-File.UNOFFICIAL" in result.text, result
    row = gh.wait_for_row(result.id)
    assert any(c["name"] == "lists" and "whitelisted" in c["detail"] for c in row["checks"]), row["checks"]
    assert row["disposition"] == "reject" and row["reason"] == "antivirus"
    time.sleep(0.3)
    assert len(sink.messages()) == before


# ---------------------------------------------------------------------------------------------
# Settings of their own: a gateway per test.

@pytest.fixture
def start_with(start_gatehouse, others_off):
    def start(sink, settings, **domain_extra):
        return start_gatehouse([domain_for(sink, **domain_extra)], sections={"antivirus": settings, "filter": others_off})
    return start


def assert_tempfailed(result, sink):
    assert result.code == 451, result
    assert result.text.startswith("4.7.1 ") and "virus scanner" in result.text and result.id, result
    assert sink.messages() == []


@pytest.fixture
def stale_socket():
    """A unix socket file nobody accepts on (what a crashed clamd leaves behind)."""
    directory = tempfile.mkdtemp(prefix="gh-stale-")
    path = f"{directory}/clamd.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)   # bound, never listening: connections are refused
    yield path
    sock.close()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("where", ["missing", "stale", "tcp"])
def test_unreachable_scanner_tempfails_never_accepts(smtp_sink, start_with, stale_socket, where):
    sink = smtp_sink()
    address = {"missing": "/nonexistent/clamd.sock", "stale": stale_socket,
               "tcp": f"tcp:127.0.0.1:{free_port_number()}"}[where]
    gh = start_with(sink, antivirus(address))
    for message in (message_with(EICAR, "eicar.com", "eicar, no scanner"), clean_message("clean, no scanner")):
        result = send_message(gh.port, RCPT, message=message)
        assert_tempfailed(result, sink)
        assert "virus scanner unavailable (not reachable)" in result.text, result
        row = gh.wait_for_row(result.id)
        assert row["disposition"] == "tempfail" and row["reason"] == "antivirus", row
    # The operator learns where the scanner was looked for (the reply does not say).
    assert address in gh.log()


def test_on_failure_accept_delivers_with_a_logged_note(smtp_sink, start_with):
    sink = smtp_sink()
    gh = start_with(sink, antivirus("/nonexistent/clamd.sock", on_failure="accept"))
    result = send_message(gh.port, RCPT, message=clean_message("accepted unscanned"))
    assert result.code == 250, result
    wait_until(lambda: any("Subject: accepted unscanned" in t for t in sink.texts()), message="delivery")
    details = antivirus_details(gh.wait_for_row(result.id))
    assert len(details) == 1 and details[0].startswith("not scanned, accepted (on_failure = accept): cannot connect"), details


class SilentScanner:
    """Accepts connections on a unix socket and reads what is sent, but never answers."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="gh-silent-")
        self.path = f"{self.directory}/clamd.sock"
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.connections = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            conn.settimeout(0.2)
            self.connections.append(conn)
            # Drain what arrives without ever replying, until the client gives up.
            while self.running:
                try:
                    if not conn.recv(65536):
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.server.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def test_silent_scanner_tempfails_within_the_timeout(smtp_sink, start_with):
    scanner = SilentScanner()
    try:
        sink = smtp_sink()
        gh = start_with(sink, antivirus(scanner.path, timeout="2s"))
        started = time.monotonic()
        result = send_message(gh.port, RCPT, message=message_with(EICAR, "eicar.com", "silent scanner"))
        elapsed = time.monotonic() - started
        assert_tempfailed(result, sink)
        assert "virus scanner unavailable (no verdict within 2s)" in result.text, result
        assert scanner.connections, "the scanner was never asked"
        assert 1.9 <= elapsed < 6, elapsed
    finally:
        scanner.stop()


def test_oversize_messages_are_skipped_with_a_note_or_tempfailed(clamd, smtp_sink, start_with):
    big = message_with(EICAR + b"\n" + b"x" * 4000, "big.bin", "too big to scan")
    sink = smtp_sink()
    gh = start_with(sink, antivirus(clamd.socket, max_size="2K"))
    result = send_message(gh.port, RCPT, message=big)
    assert result.code == 250, result
    details = antivirus_details(gh.wait_for_row(result.id))
    assert len(details) == 1 and details[0].startswith("not scanned: message too large to scan ("), details
    assert "max_size 2K" in details[0]
    # A small one is still scanned under the same settings.
    small = message_with(EICAR, "eicar.com", "small eicar")
    assert len(small) < 1500
    result = send_message(gh.port, RCPT, message=small)
    assert result.code == 554, result

    sink2 = smtp_sink()
    gh2 = start_with(sink2, antivirus(clamd.socket, max_size="2K", on_oversize="tempfail"))
    result = send_message(gh2.port, RCPT, message=big)
    assert result.code == 451 and result.text.startswith("4.7.1 ") and "too large to scan" in result.text, result
    assert sink2.messages() == []


def test_antivirus_can_be_turned_off_per_domain(clamd, smtp_sink, start_with):
    sink = smtp_sink()
    gh = start_with(sink, antivirus(clamd.socket),
                    filter={"checks": {"antivirus": {"enabled": False}}})
    result = send_message(gh.port, RCPT, message=message_with(EICAR, "eicar.com", "domain without antivirus"))
    assert result.code == 250, result
    assert antivirus_details(gh.wait_for_row(result.id)) == []
