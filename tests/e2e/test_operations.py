"""Operations: the transaction log and stored copies from the command line, run-time domains and
addresses, SIGHUP reloads (good and broken), configuration errors, the demo Maildir configuration
and `gatehouse check`."""
import datetime
import json
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import (ROOT, Gatehouse, Process, _dns_query_answers, SmtpConn, free_port_number, send_message, sink_subjects, wait_for_port,
                      wait_until)


def utc_text(offset_seconds=0):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def rcpt_reply(port, rcpt):
    """The reply to RCPT TO:<rcpt> in a fresh session (then QUIT)."""
    with SmtpConn(port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd(f"RCPT TO:<{rcpt}>")
        conn.cmd("QUIT")
        return reply


# ---------------------------------------------------------------------------------------------
# log search, show


def test_log_search_filters_table_and_json(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test", "bob@example.test"]}])
    tag = uuid.uuid4().hex[:6]
    since = utc_text(-1)
    one = send_message(gh.port, "alice@example.test", f"quarterly report {tag}", sender="carol@partner.test")
    two = send_message(gh.port, "bob@example.test", f"lunch {tag}", sender="dave@other.test")
    relay = send_message(gh.port, "victim@elsewhere.test", "relay", sender="spammer@bad.test")
    unknown = send_message(gh.port, "nobody@example.test", "unknown", sender="spammer@bad.test")
    assert one.code == 250 and two.code == 250 and relay.code == 554 and unknown.code == 550, (one, two, relay, unknown)
    assert relay.id and unknown.id
    wait_until(lambda: len(gh.log_rows()) == 4, timeout=10, message="4 log rows")
    until = utc_text(+2)

    def ids(*args):
        return {r["id"] for r in gh.log_rows(*args)}

    assert ids("--from", "carol@partner.test") == {one.id}
    assert ids("--to", "bob@example.test") == {two.id}
    assert ids("--subject", f"quarterly report {tag}") == {one.id}
    assert ids("--ip", "127.0.0.1") == {one.id, two.id, relay.id, unknown.id}
    assert ids("--ip", "192.0.2.7") == set()
    assert ids("--disposition", "reject") == {relay.id, unknown.id}
    assert ids("--disposition", "accept") == {one.id, two.id}
    assert ids("--id", two.id) == {two.id}
    assert ids("--since", since, "--until", until) == {one.id, two.id, relay.id, unknown.id}
    assert ids("--since", utc_text(+3600)) == set(), "a window in the future matches nothing"
    assert ids("--until", utc_text(-3600)) == set()

    rows = gh.log_rows("--id", one.id)
    row = rows[0]
    assert row["mail_from"] == "carol@partner.test" and row["recipients"] == ["alice@example.test"]
    assert row["client_ip"] == "127.0.0.1" and row["helo"] == "client.remote.test"
    assert row["message_id"] and row["size"] > 0 and row["delivery_status"] == "delivered"
    refused = gh.log_rows("--id", relay.id)[0]
    assert "554" in refused["reply"] or any("554" in r for r in refused["rejected_recipients"]), refused

    table = gh.cli("log", "search", "--from", "spammer@bad.test").stdout.decode()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["ID", "TIME", "CLIENT"], table
    assert relay.id in table and unknown.id in table and one.id not in table
    assert "2 transaction(s)" in table
    assert "No transactions match." in gh.cli("log", "search", "--subject", "no-such-subject-" + tag).stdout.decode()
    assert gh.cli("log", "search", "--since", "yesterday-ish", check=False).returncode != 0


def test_log_row_and_stored_copy_exist_as_soon_as_the_client_has_its_reply(smtp_sink, start_gatehouse):
    """The ID in a 250 can be looked up at once: the row and the stored copy are committed before
    the reply (a kill -9 right after the 250 must not lose them)."""
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    for i in range(10):
        result = send_message(gh.port, "alice@example.test", f"immediate {i}")
        assert result.code == 250, result
        rows = gh.log_rows("--id", result.id)  # no waiting
        assert rows and rows[0]["has_message"], f"no committed log row right after the 250 for {result.id}"
        assert b"Subject: immediate" in gh.cli("show", result.id, "--raw").stdout


def test_show_and_show_raw_is_what_was_sent_plus_received(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    body = (b"From: Carol <carol@partner.test>\r\nTo: alice@example.test\r\nSubject: exact bytes\r\n"
            b"Message-ID: <exact@partner.test>\r\n\r\nline one\r\n.leading dot\r\n\r\nlast line\r\n")
    stuffed = body.replace(b"\r\n.", b"\r\n..")
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<carol@partner.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(stuffed + b".\r\n")
        reply = conn.reply()
        assert reply.code == 250, reply
        tid = re.search(r"\(ID:(\w+)\)", reply.text).group(1)
        conn.cmd("QUIT")
    gh.wait_for_row(tid)
    raw = gh.cli("show", tid, "--raw").stdout
    assert raw.endswith(body), raw[-300:]
    received = raw[: len(raw) - len(body)]
    assert received.startswith(b"Received: from client.test"), received
    assert received.endswith(b"\r\n") and f"id {tid}".encode() in received
    # What gatehouse added: its Received field, then its verdict (RFC 8601 Authentication-Results and
    # the score), nothing else; continuation lines belong to the field above them.
    names = [line.split(b":", 1)[0] for line in received.split(b"\r\n")[:-1] if not line[:1] in (b"\t", b" ")]
    assert names[:3] == [b"Received", b"Authentication-Results", b"X-Gatehouse-Score"], received
    assert names[3:] in ([], [b"X-Gatehouse-Checks"]), received
    assert b"Authentication-Results: gw.example.test;\r\n\tspf=none smtp.mailfrom=carol@partner.test\r\n" in received
    assert re.search(rb"X-Gatehouse-Score: \d+\.\d \(accept\)\r\n", received), received

    text = gh.cli("show", tid).stdout.decode()
    assert f"ID:          {tid}" in text and "Subject:     exact bytes" in text
    assert "Disposition: accept" in text and "Delivery:    delivered" in text and "Stored copy: yes" in text
    shown = json.loads(gh.cli("show", tid, "--json").stdout)
    assert shown["id"] == tid and shown["message_id"] == "<exact@partner.test>"
    missing = gh.cli("show", "0000000000ZZZZ", check=False)
    assert missing.returncode != 0 and b"no such transaction" in missing.stderr


def test_commands_print_output_on_stdout_and_log_lines_on_stderr(smtp_sink, start_gatehouse):
    """What a command prints (a message, a table, JSON) is on standard output alone: a line the
    store logs while the command runs goes to standard error, so that `--raw > file` or `--json |
    tool` never gets a log line in the middle. A damaged stored copy makes the store log an error."""
    import sqlite3
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    good = send_message(gh.port, "alice@example.test", "kept intact")
    damaged = send_message(gh.port, "alice@example.test", "damaged copy")
    gh.wait_for_row(good.id)
    gh.wait_for_row(damaged.id)
    with sqlite3.connect(gh.state_dir / "gatehouse.db", timeout=10) as db:
        db.execute("UPDATE messages SET body = x'00112233' WHERE id = ?", (damaged.id,))
    broken = gh.cli("show", damaged.id, "--raw", check=False)
    assert broken.returncode != 0, broken
    assert broken.stdout == b"", broken.stdout[:300]
    assert b"corrupt" in broken.stderr, broken.stderr
    raw = gh.cli("show", good.id, "--raw")
    assert raw.stdout.startswith(b"Received: ") and b"Subject: kept intact" in raw.stdout, raw.stdout[:300]
    rows = json.loads(gh.cli("log", "search", "--json").stdout)
    assert {good.id, damaged.id} <= {row["id"] for row in rows}


# ---------------------------------------------------------------------------------------------
# run-time domains and addresses, SIGHUP


def test_domain_add_while_running(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    other = smtp_sink(name="other")
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    assert rcpt_reply(gh.port, "someone@other.test").code == 554
    gh.cli("domain", "add", "other.test", "--backend", f"smtp:127.0.0.1:{other.port}", "--recipients", "any")
    listing = gh.cli("domain", "list").stdout.decode()
    assert re.search(r"^other\.test\s+smtp:127\.0\.0\.1:\d+\s+any.*database$", listing, re.M), listing
    started = time.monotonic()
    wait_until(lambda: rcpt_reply(gh.port, "someone@other.test").code == 250, timeout=5, interval=0.2,
               message="other.test accepted after `domain add`")
    print(f"\ndomain add took effect after {time.monotonic() - started:.1f}s")
    result = send_message(gh.port, "someone@other.test", "for other.test")
    assert result.code == 250
    assert sink_subjects(other) == ["for other.test"] and sink_subjects(sink) == []

    gh.cli("domain", "remove", "other.test")
    wait_until(lambda: rcpt_reply(gh.port, "someone@other.test").code == 554, timeout=5, interval=0.2,
               message="other.test refused after `domain remove`")
    bad = gh.cli("domain", "add", "third.test", "--backend", "ftp:nowhere", check=False)
    assert bad.returncode != 0 and b"--backend" in bad.stderr


def test_address_add_for_list_domain(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}])
    reply = rcpt_reply(gh.port, "newbie@example.test")
    assert reply.code == 550 and "5.1.1" in reply.text, reply
    gh.cli("address", "add", "Newbie@Example.test")
    wait_until(lambda: rcpt_reply(gh.port, "newbie@example.test").code == 250, timeout=5, interval=0.2,
               message="address accepted after `address add`")
    assert send_message(gh.port, "newbie@example.test", "welcome").code == 250
    assert sink_subjects(sink) == ["welcome"]
    assert "newbie@example.test" in gh.cli("address", "list", "example.test").stdout.decode()
    gh.cli("address", "remove", "newbie@example.test")
    wait_until(lambda: rcpt_reply(gh.port, "newbie@example.test").code == 550, timeout=5, interval=0.2,
               message="address refused after `address remove`")


def test_sighup_reloads_and_broken_config_keeps_running(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}])
    assert rcpt_reply(gh.port, "bob@example.test").code == 550
    original = gh.config_path.read_text()
    edited = original.replace('addresses = ["alice@example.test"]', 'addresses = ["alice@example.test", "bob@example.test"]')
    assert edited != original
    gh.config_path.write_text(edited)
    gh.process.send_signal(signal.SIGHUP)
    wait_until(lambda: rcpt_reply(gh.port, "bob@example.test").code == 250, timeout=5, interval=0.2,
               message="bob accepted after SIGHUP")
    assert send_message(gh.port, "bob@example.test", "after reload").code == 250
    assert "after reload" in sink_subjects(sink)

    # A broken file: the running configuration stays, the error is logged with file:line and key.
    broken = edited.replace("[server]\n", "[server]\nmax_message_size = \"lots\"\n", 1)
    gh.config_path.write_text(broken)
    gh.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload failed" in gh.log(), timeout=5, message="reload failure logged")
    log = gh.log()
    assert f"{gh.config_path}:2" in log and "max_message_size" in log, log[-1500:]
    assert gh.process.poll() is None, "a broken configuration on SIGHUP must not stop the daemon"
    assert rcpt_reply(gh.port, "bob@example.test").code == 250
    assert send_message(gh.port, "alice@example.test", "still running").code == 250


# ---------------------------------------------------------------------------------------------
# configuration errors


GOOD = """[server]
hostname = "gw.example.test"
listen = ["127.0.0.1:{port}"]
state_dir = "{state}"
[[domain]]
name = "example.test"
backend = "smtp:127.0.0.1:2626"
recipients = "any"
"""


@pytest.mark.parametrize("change, line, key", [
    (lambda t: t.replace('state_dir =', 'listne = ["127.0.0.1:1"]\nstate_dir ='), 4, "server.listne"),
    (lambda t: t.replace('hostname = "gw.example.test"', 'hostname = "gw.example.test"\nmax_message_size = "lots"'), 3,
     "max_message_size"),
    (lambda t: t.replace('backend = "smtp:127.0.0.1:2626"', 'backend = "ftp:127.0.0.1:2626"'), 7, "backend"),
    (lambda t: t.replace('recipients = "any"', 'recipients = "list"\naddresses = ["bob@other.test"]'), 9, "addresses"),
    (lambda t: t.replace('name = "example.test"', 'name = "example.test'), 6, None),
], ids=["unknown-key", "bad-size", "bad-backend", "address-outside-domain", "toml-syntax"])
def test_config_error_names_file_line_and_key(gatehouse_bin, tmp_path, change, line, key):
    path = tmp_path / "bad.toml"
    port = free_port_number()
    good = GOOD.format(port=port, state=tmp_path / "state")
    path.write_text(change(good))
    result = subprocess.run([gatehouse_bin, "serve", "--config", str(path)], capture_output=True, text=True, timeout=20,
                            cwd=str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{path}:{line}" in output, f"expected {path}:{line} in:\n{output}"
    if key:
        assert key in output, output
    # And the good file is accepted (so the failure really is the change).
    path.write_text(good)
    check = subprocess.run([gatehouse_bin, "domain", "list", "--config", str(path)], capture_output=True, text=True,
                           timeout=20, cwd=str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr


# ---------------------------------------------------------------------------------------------
# the demo configuration (Maildir back-end), gatehouse check


@pytest.fixture
def demo_dns(tmp_path):
    """The demo's resolver as scripts/run.sh starts it (etc/demo-dns.conf), on a free port."""
    port = free_port_number()
    process = Process(["bash", str(ROOT / "tests/fixtures/dns/run-unbound.sh"), str(port), str(ROOT / "etc/demo-dns.conf")],
                      tmp_path / "demo-dns.log")
    try:
        wait_until(lambda: process.poll() is None and _dns_query_answers(port, "example.test", 16), timeout=15,
                   message="demo DNS answering")
        yield port
    finally:
        process.stop(signal.SIGTERM, timeout=10)


def demo_config(tmp_path, dns_port):
    port = free_port_number()
    text = (ROOT / "etc" / "gatehouse.toml").read_text()
    assert '"127.0.0.1:2525"' in text and '"127.0.0.1:2553"' in text
    return port, text.replace('"127.0.0.1:2525"', f'"127.0.0.1:{port}"').replace('"127.0.0.1:2553"', f'"127.0.0.1:{dns_port}"')


def test_demo_config_delivers_into_maildir(gatehouse_bin, tmp_path, demo_dns):
    port, text = demo_config(tmp_path, demo_dns)
    gh = Gatehouse(gatehouse_bin, tmp_path, port, text, name="demo")
    gh.start()  # cwd is tmp_path: the relative var/ paths of the demo land there
    try:
        result = send_message(port, "alice@example.test", "demo maildir")
        assert result.code == 250, result
        new = tmp_path / "var" / "maildir" / "example.test" / "alice@example.test" / "new"
        files = wait_until(lambda: list(new.glob("*")) if new.is_dir() else [], timeout=5, message="maildir file")
        assert len(files) == 1
        content = files[0].read_bytes()
        assert b"Subject: demo maildir" in content and f"id {result.id}".encode() in content
        assert rcpt_reply(port, "zed@example.test").code == 550
        row = gh.wait_for_row(result.id)
        assert row["delivery_status"] == "delivered" and row["backend"].startswith("maildir:"), row
    finally:
        gh.stop()


def run_check(gatehouse_bin, config, message, *args):
    result = subprocess.run([gatehouse_bin, "check", "--config", str(config), "--json", *args], input=message,
                            capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_json_verdicts(gatehouse_bin, tmp_path, demo_dns):
    port, text = demo_config(tmp_path, demo_dns)
    config = tmp_path / "demo.toml"
    config.write_text(text)
    message = (b"From: Carol <carol@partner.test>\r\nTo: alice@example.test\r\nSubject: check me\r\n"
               b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <check@partner.test>\r\n\r\nHello.\r\n")
    ok = run_check(gatehouse_bin, config, message, "--rcpt", "alice@example.test", "--from", "carol@partner.test")
    assert ok["verdict"] == "accept", ok
    assert isinstance(ok["score"], (int, float)) and isinstance(ok["checks"], list)
    assert ok["reply"].startswith("250 "), ok

    relay = run_check(gatehouse_bin, config, message, "--rcpt", "someone@elsewhere.test", "--ip", "192.0.2.1")
    assert relay["verdict"] == "reject", relay
    assert relay["reply"].startswith("554 5.7.1"), relay
    assert any("relay" in json.dumps(c).lower() or "554" in c["detail"] for c in relay["checks"]), relay

    mbox = b"From carol@partner.test Mon Nov 23 10:00:00 2026\n" + message.replace(b"\r\n", b"\n")
    from_line = run_check(gatehouse_bin, config, mbox, "--rcpt", "alice@example.test", "--from", "carol@partner.test")
    assert from_line["verdict"] == ok["verdict"] and from_line["score"] == ok["score"], from_line
    assert [c["name"] for c in from_line["checks"]] == [c["name"] for c in ok["checks"]], (from_line, ok)
