"""Protocol abuse and harvesting, end to end with raw sockets against the real binary ([abuse] in
the configuration): early talkers with and without a greeting pause (RFC 5321 §4.3.1; refused at
RCPT by the protocol check, as postscreen does), pipelining after HELO (RFC 2920 §3.1; scored),
directory harvesting (421 and a temporary block of the IP), too many RSETs, connection and
message rates per client IP, tarpitting, and the exemption of trusted networks."""
import re
import socket
import time

import pytest

from conftest import SmtpConn, free_port_number, wait_until

ID_RE = r"\(ID:([0-9A-Z]{14})\)"


def domain(sink):
    return {"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
            "addresses": ["alice@example.test", "bob@example.test"]}


def gateway(smtp_sink, start_gatehouse, server=None, **abuse):
    sink = smtp_sink()
    return start_gatehouse([domain(sink)], server=server, sections={"abuse": abuse} if abuse else None)


def message(subject):
    return (f"From: <sender@remote.test>\r\nTo: <alice@example.test>\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '-')}@remote.test>\r\n\r\n"
            "hello\r\n.\r\n")


def protocol_findings(row):
    return [c for c in row["checks"] if c["name"] == "protocol"]


def timed(conn, line):
    started = time.monotonic()
    reply = conn.cmd(line)
    return reply, time.monotonic() - started


# --- early talkers ------------------------------------------------------------------------------

def test_early_talker_is_refused_at_rcpt_and_logged(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, pregreet_pause="1s")
    sock = socket.create_connection(("127.0.0.1", gh.port), timeout=10)
    sock.sendall(b"EHLO early.client.test\r\n")   # before the banner
    with SmtpConn(gh.port, sock=sock) as conn:
        assert conn.greeting.code == 220, conn.greeting
        # The session goes on: the early EHLO is answered after the banner.
        assert conn.reply().code == 250
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd("RCPT TO:<alice@example.test>")
        assert reply.code == 550 and reply.text.startswith("5.5.1"), reply
        assert "before the greeting" in reply.text, reply
        transaction_id = re.search(ID_RE, reply.text).group(1)
        assert conn.cmd("QUIT").code == 221
    row = gh.wait_for_row(transaction_id)
    assert row["disposition"] == "reject", row
    assert any("early_talker" in c["detail"] for c in protocol_findings(row)), row["checks"]
    assert "early talker" in gh.log()


def test_pregreet_pause_lets_a_patient_client_through(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, pregreet_pause="1s")
    started = time.monotonic()
    with SmtpConn(gh.port) as conn:
        waited = time.monotonic() - started
        assert conn.greeting.code == 220, conn.greeting
        assert waited >= 0.9, f"greeting after {waited:.2f}s: no pregreet pause"
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(message("patient client"))
        reply = conn.reply()
        assert reply.code == 250, reply
        transaction_id = re.search(ID_RE, reply.text).group(1)
    row = gh.wait_for_row(transaction_id)
    assert not any("early_talker" in c["detail"] for c in protocol_findings(row)), row["checks"]
    assert "early talker" not in gh.log()
    # Known now (its clean message was accepted): the next connection is greeted at once.
    started = time.monotonic()
    with SmtpConn(gh.port) as conn:
        waited = time.monotonic() - started
        assert conn.greeting.code == 220 and waited < 0.5, f"greeting after {waited:.2f}s for a known client"


def test_pregreet_pause_stays_for_a_client_whose_mail_was_refused(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, pregreet_pause="1s")
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<nobody@example.test>").code == 550
        conn.cmd("QUIT")
    started = time.monotonic()
    with SmtpConn(gh.port) as conn:
        assert conn.greeting.code == 220 and time.monotonic() - started >= 0.9, "an unproven client waits"


def test_early_talker_noticed_without_a_pause(smtp_sink, start_gatehouse):
    """pregreet_pause = 0: bytes already waiting when the banner is written still count. A DNS
    server that never answers holds the banner back (the PTR lookup) long enough to be sure the
    client's bytes are there first."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        sink = smtp_sink()
        gh = start_gatehouse([domain(sink)], sections={"dns": {"nameservers": [f"127.0.0.1:{silent.getsockname()[1]}"],
                                                                "timeout": "1s"}})
        sock = socket.create_connection(("127.0.0.1", gh.port), timeout=15)
        sock.sendall(b"EHLO early.client.test\r\nMAIL FROM:<sender@remote.test>\r\n")
        with SmtpConn(gh.port, sock=sock, timeout=15) as conn:
            assert conn.greeting.code == 220
            assert [r.code for r in conn.replies(2)] == [250, 250]
            reply = conn.cmd("RCPT TO:<alice@example.test>")
            assert reply.code == 550 and reply.text.startswith("5.5.1"), reply
        # (Clients that wait for the banner are not marked: every other end-to-end test runs
        # without a pause and would be refused at RCPT.)
    finally:
        silent.close()


# --- pipelining without PIPELINING --------------------------------------------------------------

def test_pipelining_after_helo_is_scored(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse)
    ids = {}
    for greeting in ("HELO", "EHLO"):
        with SmtpConn(gh.port) as conn:
            assert conn.cmd(f"{greeting} client.remote.test").code == 250
            conn.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\n")   # one write
            assert [r.code for r in conn.replies(2)] == [250, 250]
            assert conn.cmd("DATA").code == 354
            conn.send(message(f"pipelined after {greeting}"))
            reply = conn.reply()
            assert reply.code == 250, reply
            ids[greeting] = re.search(ID_RE, reply.text).group(1)
    helo = gh.wait_for_row(ids["HELO"])
    findings = [c for c in protocol_findings(helo) if "unoffered_pipelining" in c["detail"]]
    assert findings and findings[0]["score"] == 3, helo["checks"]
    # After EHLO, PIPELINING was offered: nothing to note.
    ehlo = gh.wait_for_row(ids["EHLO"])
    assert not any("unoffered_pipelining" in c["detail"] for c in ehlo["checks"]), ehlo["checks"]


def test_helo_client_waiting_for_each_reply_is_not_scored(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse)
    with SmtpConn(gh.port) as conn:
        assert conn.cmd("HELO client.remote.test").code == 250
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(message("patient helo"))
        reply = conn.reply()
        assert reply.code == 250, reply
    row = gh.wait_for_row(re.search(ID_RE, reply.text).group(1))
    assert not any("unoffered_pipelining" in c["detail"] for c in row["checks"]), row["checks"]


# --- directory harvesting -----------------------------------------------------------------------

def test_directory_harvest_closes_and_blocks_the_ip_for_a_while(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, harvest_block="3s")
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        for n in range(9):
            reply = conn.cmd(f"RCPT TO:<nobody{n}@example.test>")
            assert reply.code == 550 and reply.text.startswith("5.1.1"), (n, reply)
        reply = conn.cmd("RCPT TO:<nobody9@example.test>")
        blocked_at = time.monotonic()
        assert reply.code == 421 and reply.text.startswith("4.7.0"), reply
        assert "closing connection" in reply.text, reply
        assert conn.wait_closed(), "connection still open after 421"
        assert conn.buffer == b"", conn.buffer
    # Refused at connect while blocked.
    with SmtpConn(gh.port) as again:
        assert again.greeting.code == 421 and again.greeting.text.startswith("4.7.1"), again.greeting
        assert "blocked" in again.greeting.text and "[127.0.0.1]" in again.greeting.text, again.greeting
        assert again.wait_closed(), "blocked client's connection not closed"
    assert time.monotonic() - blocked_at < 3, "too slow to observe the block"

    # Accepted again once the block expires (harvest_block = 3s).
    def admitted():
        with SmtpConn(gh.port) as c:
            return c.greeting.code == 220
    wait_until(admitted, timeout=10, interval=0.5, message="connection accepted after the block expired")
    assert time.monotonic() - blocked_at >= 2.5
    assert "directory harvest" in gh.log()


# --- RSET ---------------------------------------------------------------------------------------

def test_too_many_rsets_421(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, max_rsets=3)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        for _ in range(3):
            assert conn.cmd("RSET").code == 250
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd("RSET")
        assert reply.code == 421 and reply.text.startswith("4.7.0"), reply
        assert "Too many RSET commands, closing connection" in reply.text, reply
        assert conn.wait_closed(), "connection still open after 421"
    # A new connection starts counting again, and so does each message (a sender reusing its
    # connection, as Postfix does, sends RSET before each one).
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        for n in range(3):
            for _ in range(3):
                assert conn.cmd("RSET").code == 250
            assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
            assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
            assert conn.cmd("DATA").code == 354
            conn.send(message(f"after rsets {n}"))
            assert conn.reply().code == 250
        assert conn.cmd("QUIT").code == 221


# --- rates per client IP ------------------------------------------------------------------------

def test_connection_rate_limit(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], sections={"abuse": {"max_connections_per_minute": 3}}, start=False)
    # Not the usual readiness probe: that would be the first connection of the minute.
    gh.start(wait=False)
    wait_until(lambda: "listening on" in gh.log(), timeout=15, message="gatehouse listening")
    for _ in range(3):
        with SmtpConn(gh.port) as conn:
            assert conn.greeting.code == 220, conn.greeting
            assert conn.cmd("QUIT").code == 221
    with SmtpConn(gh.port) as conn:
        assert conn.greeting.code == 421 and conn.greeting.text.startswith("4.7.0"), conn.greeting
        assert "too many connections per minute" in conn.greeting.text, conn.greeting
        assert conn.wait_closed(), "connection still open after 421"


def test_message_rate_limit(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, max_messages_per_minute=2)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(message("first of the minute"))
        assert conn.reply().code == 250
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RSET").code == 250
        reply = conn.cmd("MAIL FROM:<sender@remote.test>")
        assert reply.code == 451 and reply.text == "4.7.1 Too many messages, slow down", reply
        # Only that MAIL is refused: the session goes on, without a transaction.
        assert conn.cmd("NOOP").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 503
    # The count is per IP, across connections.
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 451


# --- tarpit -------------------------------------------------------------------------------------

def test_tarpit_delays_replies_after_an_unknown_recipient(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, tarpit_delay="500ms")
    # A clean client is answered at once.
    with SmtpConn(gh.port) as conn:
        for line in ("EHLO client.remote.test", "MAIL FROM:<sender@remote.test>", "RCPT TO:<alice@example.test>",
                     "NOOP", "RSET"):
            reply, took = timed(conn, line)
            assert reply.code == 250 and took < 0.3, (line, reply, took)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        reply, took = timed(conn, "MAIL FROM:<sender@remote.test>")
        assert reply.code == 250 and took < 0.3, (reply, took)
        reply, took = timed(conn, "RCPT TO:<nobody@example.test>")
        assert reply.code == 550, reply
        for line in ("RCPT TO:<alice@example.test>", "NOOP"):
            reply, took = timed(conn, line)
            assert reply.code == 250 and took >= 0.4, (line, reply, took)
        # Bounded: one delay per reply, never a pile-up.
        assert took < 2.0, took
        assert conn.cmd("QUIT").code == 221


# --- trusted networks ---------------------------------------------------------------------------

def test_trusted_networks_are_exempt(smtp_sink, start_gatehouse):
    gh = gateway(smtp_sink, start_gatehouse, server={"trusted_networks": ["127.0.0.0/8"]}, pregreet_pause="2s",
                 max_rsets=1, max_connections_per_minute=1, max_messages_per_minute=1, tarpit_delay="500ms")
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", gh.port), timeout=10)
        started = time.monotonic()
        sock.sendall(b"HELO early.client.test\r\nMAIL FROM:<sender@remote.test>\r\n")
        with SmtpConn(gh.port, sock=sock) as conn:
            assert conn.greeting.code == 220, conn.greeting
            assert time.monotonic() - started < 1.5, "trusted client waited for the pregreet pause"
            assert [r.code for r in conn.replies(2)] == [250, 250]
            reply, took = timed(conn, "RCPT TO:<alice@example.test>")
            assert reply.code == 250 and took < 0.3, (reply, took)
            assert conn.cmd("RCPT TO:<nobody@example.test>").code == 550
            for _ in range(3):
                reply, took = timed(conn, "RSET")
                assert reply.code == 250 and took < 0.3, (reply, took)
    assert "early talker" not in gh.log()
