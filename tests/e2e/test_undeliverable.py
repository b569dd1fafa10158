"""What happens to mail that finally cannot be delivered, and to the daemon's privileges.

- Outbound mail from a trusted network to a domain that does not exist: one notice goes to the
  *local* sender, through the sender's domain's back-end — the only notice gatehouse ever sends.
- Inbound mail whose back-end stays down past max_queue_time: no bounce anywhere; the log says
  "expired" and the stored copy can be resent once the back-end is back.
- Started as root with server.user set, the daemon runs as that user and still works."""
import os
import pathlib
import shutil
import smtplib
import tempfile

from conftest import queue_ids, send_message, sink_subjects, wait_until


def test_outbound_permanent_failure_notifies_the_local_sender_only(fixture_dns, smtp_sink, start_gatehouse):
    inbound = smtp_sink(name="inbound")
    gh = start_gatehouse(
        [{"name": "example.test", "backend": f"smtp:127.0.0.1:{inbound.port}", "recipients": "any"}],
        server={"trusted_networks": ["127.0.0.1/32"]},
        sections={"dns": {"nameservers": [f"127.0.0.1:{fixture_dns}"]}})
    result = send_message(gh.port, "someone@no-such-domain.test", "to nowhere", sender="alice@example.test")
    assert result.code == 250, result
    row = gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "failed", timeout=20)
    assert "does not exist" in row["delivery_detail"], row
    notice = wait_until(lambda: [t for t in inbound.texts() if f"Undelivered mail: {result.id}" in t], timeout=15,
                        message="notice at the local sender's back-end")[0]
    assert "X-Rcpt-Args: <alice@example.test>" in notice       # to the local sender ...
    assert "X-Mail-Args: <>" in notice                           # ... from the null sender
    assert "someone@no-such-domain.test" in notice and "Auto-Submitted: auto-replied" in notice
    assert len(inbound.messages()) == 1                          # exactly one notice
    assert queue_ids(gh) == []


def test_inbound_expiry_never_bounces_and_the_copy_can_be_resent(smtp_sink, start_gatehouse, free_port):
    port = free_port()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"}],
                         sections={"delivery": {"retry_schedule": ["1s"], "max_queue_time": "3s"}})
    result = send_message(gh.port, "alice@example.test", "expires", sender="sender@remote.test")
    assert result.code == 250, result                            # back-end down: accepted and spooled
    row = gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "expired", timeout=20)
    assert row["disposition"] == "accept" and row["has_message"], row
    assert queue_ids(gh) == []
    assert "bounce" not in gh.log().lower()
    sink = smtp_sink(port=port)                                   # the back-end returns
    gh.cli("resend", result.id)
    wait_until(lambda: sink_subjects(sink) == ["expires"], timeout=10, message="resent copy at the back-end")


def test_drops_privileges_to_the_configured_user(smtp_sink, start_gatehouse):
    assert os.geteuid() == 0, "this test starts gatehouse as root"
    sink = smtp_sink()
    # pytest's tmp tree is private to root: the unprivileged daemon's state lives outside it.
    state = pathlib.Path(tempfile.mkdtemp(prefix="gatehouse-nobody-", dir="/tmp"))
    os.chmod(state, 0o755)
    try:
        gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                             server={"user": "nobody", "state_dir": str(state / "state")})
        check_running_as_nobody(gh, sink)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def check_running_as_nobody(gh, sink):
    # The listening socket completes handshakes from bind on, while the daemon is still root; it
    # greets only once it has dropped privileges (src/cli/serve.cpp). Read the uid after a greeting.
    with smtplib.SMTP("127.0.0.1", gh.port, timeout=10) as client:
        client.noop()
    status = pathlib.Path(f"/proc/{gh.process.pid}/status").read_text()
    uid_line = [line for line in status.splitlines() if line.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["65534"] * 4, uid_line      # real, effective, saved, filesystem
    result = send_message(gh.port, "alice@example.test", "as nobody")
    assert result.code == 250, result                            # spool and store still writable
    wait_until(lambda: sink_subjects(sink) == ["as nobody"], timeout=10, message="message at the back-end")
    assert gh.wait_for_row(result.id)["delivery_status"] == "delivered"
