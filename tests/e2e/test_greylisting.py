"""Greylisting end to end (docs/filtering.md "Greylisting"): the real daemon, Postfix's smtp-sink as
back-end and smtplib as the sending server. A first attempt gets 451 4.7.1 and nothing reaches the
back-end; a retry after the (short, 2 s) delay is accepted and delivered; a domain with greylisting
off accepts at once, also beside a greylisted recipient in the same transaction; recipients that
would be refused (unknown, refused by the back-end) get that refusal, not a 451; a trusted client
is not greylisted; the log row and /metrics say "greylisted"; a restart keeps the state."""
import re
import smtplib
import time
import urllib.request

import pytest

from conftest import reply_id, send_message, sink_subjects, wait_until

DELAY = 2.0


def domains(sink):
    backend = f"smtp:127.0.0.1:{sink.port}"
    return [{"name": "grey.test", "backend": backend, "recipients": "any"},
            {"name": "open.test", "backend": backend, "recipients": "any", "greylisting": False},
            {"name": "listed.test", "backend": backend, "recipients": "list", "addresses": ["known@listed.test"]}]


GREYLISTING = {"greylisting": {"enabled": True, "delay": "2s", "retry_window": "1h", "auto_whitelist_after": 0}}


@pytest.fixture
def gateway(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse(domains(sink), sections=GREYLISTING)
    return sink, gh


def transaction(port, sender, rcpts, subject, source="127.0.0.1"):
    """One transaction from `source`: the RCPT replies, and the end-of-DATA reply (None when no
    recipient was accepted)."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mail.remote.test", timeout=30,
                      source_address=(source, 0)) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail(sender)
        assert code == 250
        replies = {}
        for rcpt in rcpts:
            code, text = smtp.rcpt(rcpt)
            replies[rcpt] = (code, text.decode(errors="replace"))
        if not any(code == 250 for code, _ in replies.values()):
            return replies, None
        message = (f"From: {sender}\r\nTo: {rcpts[0]}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '-')}"
                   f"@remote.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n")
        code, text = smtp.data(message.encode())
        return replies, (code, text.decode(errors="replace"))


def greylisting_detail(row):
    details = [c["detail"] for c in row["checks"] if c["name"] == "greylisting"]
    assert len(details) == 1, row["checks"]
    return details[0]


def delivered(sink, subject, timeout=10):
    return wait_until(lambda: subject in sink_subjects(sink), timeout=timeout, message=f"{subject!r} at the sink")


def test_first_attempt_deferred_retry_delivered(gateway):
    sink, gh = gateway
    first = send_message(gh.port, "alice@grey.test", subject="grey one", sender="carol@remote.test")
    started = time.monotonic()
    assert first.code == 451, first
    assert re.search(r"^4\.7\.1 Greylisted: please try again in [12]s \(ID:[0-9A-Z]+\)$", first.text), first.text
    # A retry before the delay: deferred again.
    early = send_message(gh.port, "alice@grey.test", subject="grey one", sender="carol@remote.test")
    assert early.code == 451, early
    time.sleep(0.5)
    assert sink.messages() == [], "a greylisted message reached the back-end"

    # The log row of the first attempt: tempfail, greylisted, and why.
    row = gh.wait_for_row(first.id)
    assert row["disposition"] == "tempfail"
    assert row["reason"] == "greylisted"
    assert row["recipients"] == []
    assert row["rejected_recipients"][0].startswith("alice@grey.test: 451 4.7.1 Greylisted")
    assert re.fullmatch(r"first seen, retry after \d\d:\d\d:\d\d UTC", greylisting_detail(row)), row["checks"]
    early_row = gh.wait_for_row(early.id)
    assert greylisting_detail(early_row).startswith("retried too early")

    # After the delay the retry passes and is delivered.
    time.sleep(max(0.0, started + DELAY + 0.3 - time.monotonic()))
    retry = send_message(gh.port, "alice@grey.test", subject="grey one", sender="carol@remote.test")
    assert retry.code == 250, retry
    delivered(sink, "grey one")
    row = gh.wait_for_row(retry.id)
    assert row["disposition"] == "accept"
    assert row["recipients"] == ["alice@grey.test"]
    assert re.fullmatch(r"passed: retried \d+s after first sight", greylisting_detail(row)), row["checks"]

    # The passed triplet is accepted at once from now on, from another host of the /24 and in
    # another letter case too.
    again = send_message(gh.port, "Alice@GREY.test", subject="grey two", sender="CAROL@remote.test")
    assert again.code == 250, again
    delivered(sink, "grey two")
    assert greylisting_detail(gh.wait_for_row(again.id)).startswith("passed: known triplet")
    replies, end = transaction(gh.port, "carol@remote.test", ["alice@grey.test"], "grey three", source="127.0.0.9")
    assert replies["alice@grey.test"][0] == 250 and end[0] == 250
    delivered(sink, "grey three")

    # `gatehouse check` says what the daemon would answer now, from the same state, changing nothing.
    message = b"From: carol@remote.test\r\nSubject: check\r\n\r\nHello.\r\n"
    out = gh.cli("check", "--no-dns", "--ip", "127.0.0.1", "--from", "carol@remote.test", "--rcpt", "alice@grey.test",
                 "--rcpt", "zoe@grey.test", "--rcpt", "bob@open.test", input=message).stdout.decode()
    assert re.search(r"greylisting +0\.0  <alice@grey\.test> passed: known triplet", out), out
    assert re.search(r"greylisting +0\.0  <zoe@grey\.test> the daemon would answer 451 now: first seen", out), out
    assert "<bob@open.test>" not in out
    assert send_message(gh.port, "zoe@grey.test", subject="zoe", sender="carol@remote.test").code == 451

    # Another sender to the same recipient is a new triplet.
    other = send_message(gh.port, "alice@grey.test", subject="grey four", sender="dave@remote.test")
    assert other.code == 451, other

    # Counted in the metrics like every other outcome.
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{gh.web_port}/metrics", timeout=10).read().decode()
    lines = [line for line in metrics.splitlines() if line.startswith("gatehouse_messages_total{")
             and 'disposition="tempfail"' in line and 'reason="greylisted"' in line]
    assert lines, metrics
    assert float(lines[0].rsplit(" ", 1)[1]) >= 4


def test_domain_with_greylisting_off_accepts_at_once(gateway):
    sink, gh = gateway
    result = send_message(gh.port, "bob@open.test", subject="open one", sender="erin@remote.test")
    assert result.code == 250, result
    delivered(sink, "open one")
    row = gh.wait_for_row(result.id)
    assert not [c for c in row["checks"] if c["name"] == "greylisting"], row["checks"]


def test_mixed_transaction_defers_only_the_greylisted_recipient(gateway):
    sink, gh = gateway
    replies, end = transaction(gh.port, "frank@remote.test", ["alice@grey.test", "bob@open.test"], "mixed one")
    assert replies["alice@grey.test"][0] == 451, replies
    assert "Greylisted" in replies["alice@grey.test"][1]
    assert replies["bob@open.test"][0] == 250, replies
    assert end and end[0] == 250, end
    delivered(sink, "mixed one")
    time.sleep(0.3)
    assert sink_subjects(sink) == ["mixed one"]   # once: for bob only
    row = gh.wait_for_row(reply_id(end[1]))
    assert row["recipients"] == ["bob@open.test"]
    assert [r.split(":")[0] for r in row["rejected_recipients"]] == ["alice@grey.test"]
    assert " 451 4.7.1 " in row["rejected_recipients"][0]


def test_unknown_recipient_is_refused_not_greylisted(gateway):
    sink, gh = gateway
    result = send_message(gh.port, "nobody@listed.test", subject="unknown", sender="gina@remote.test")
    assert result.code == 550, result
    # A known one of the same domain is greylisted.
    known = send_message(gh.port, "known@listed.test", subject="known", sender="gina@remote.test")
    assert known.code == 451, known


def test_recipient_the_backend_refuses_is_refused_not_greylisted(smtp_sink, start_gatehouse):
    # The back-end refuses every RCPT: its refusal reaches the client, never a 451 (the probe asked
    # it first), and the next attempt is refused the same way.
    refusing = smtp_sink(["-f", "RCPT", "-B", "550 5.1.1 Mailbox xyzzy unknown at the back-end"], name="refusing")
    gh = start_gatehouse([{"name": "grey.test", "backend": f"smtp:127.0.0.1:{refusing.port}", "recipients": "backend"}],
                         sections=GREYLISTING)
    for attempt in range(2):
        result = send_message(gh.port, "nobody@grey.test", subject="refused", sender="kim@remote.test")
        assert result.code == 550, (attempt, result)
        assert "xyzzy" in result.text
        row = gh.wait_for_row(result.id)
        assert row["disposition"] == "reject"
        assert not [c for c in row["checks"] if c["name"] == "greylisting"], row["checks"]


def test_trusted_client_is_not_greylisted(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse(domains(sink), server={"trusted_networks": ["127.0.0.2/32"]}, sections=GREYLISTING)
    replies, end = transaction(gh.port, "henry@remote.test", ["alice@grey.test"], "trusted one", source="127.0.0.2")
    assert replies["alice@grey.test"][0] == 250, replies
    assert end[0] == 250, end
    delivered(sink, "trusted one")
    assert greylisting_detail(gh.wait_for_row(reply_id(end[1]))) == "exempt: trusted network"
    # The same sender and recipient from an untrusted host of the same /24 is greylisted.
    replies, end = transaction(gh.port, "henry@remote.test", ["alice@grey.test"], "untrusted one", source="127.0.0.3")
    assert replies["alice@grey.test"][0] == 451, replies


def test_restart_keeps_the_state(gateway):
    sink, gh = gateway
    first = send_message(gh.port, "alice@grey.test", subject="kept one", sender="ivan@remote.test")
    assert first.code == 451
    waiting = send_message(gh.port, "bob@grey.test", subject="kept two", sender="ivan@remote.test")
    assert waiting.code == 451
    started = time.monotonic()
    time.sleep(max(0.0, started + DELAY + 0.3 - time.monotonic()))
    passed = send_message(gh.port, "alice@grey.test", subject="kept one", sender="ivan@remote.test")
    assert passed.code == 250, passed
    delivered(sink, "kept one")

    assert gh.stop() == 0
    gh.start()
    # The passed triplet is known after the restart…
    again = send_message(gh.port, "alice@grey.test", subject="kept three", sender="ivan@remote.test")
    assert again.code == 250, again
    delivered(sink, "kept three")
    # …and the first sight of the waiting one was kept: its retry passes now.
    retried = send_message(gh.port, "bob@grey.test", subject="kept two", sender="ivan@remote.test")
    assert retried.code == 250, retried
    delivered(sink, "kept two")
    assert greylisting_detail(gh.wait_for_row(retried.id)).startswith("passed: retried")
    # A triplet never seen is still greylisted.
    assert send_message(gh.port, "carol@grey.test", subject="new", sender="ivan@remote.test").code == 451
