"""SMTP protocol end to end: the real gatehouse binary between real clients (swaks, Python smtplib,
Postfix's smtp-source, raw sockets) and real back-ends (Postfix's smtp-sink, a raw-recording SMTP
server). Covers delivery, recipient validation, live pass-through of the back-end's refusals, SIZE,
pipelining, garbage input and max_errors, and BDAT/CHUNKING."""
import random
import re
import smtplib
import subprocess
import time

import pytest

from conftest import SmtpConn, run_swaks, wait_until

ID_RE = r"\(ID:([0-9A-Z]{14})\)"


def list_domain(sink, **extra):
    domain = {"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
              "addresses": ["alice@example.test", "bob@example.test"]}
    domain.update(extra)
    return domain


def message(subject="test", body="hello\r\n", frm="sender@remote.test", to="alice@example.test"):
    return (f"From: <{frm}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}.{random.randrange(10**9)}@remote.test>\r\n\r\n{body}")


def transaction(conn, rcpts=("alice@example.test",), body=None, frm="sender@remote.test"):
    """MAIL, RCPT..., DATA on an open (EHLO'd) connection; returns the final reply."""
    reply = conn.cmd(f"MAIL FROM:<{frm}>")
    assert reply.code == 250, reply
    for rcpt in rcpts:
        reply = conn.cmd(f"RCPT TO:<{rcpt}>")
        assert reply.code == 250, reply
    reply = conn.cmd("DATA")
    assert reply.code == 354, reply
    conn.send((body or message()) + ".\r\n")
    return conn.reply()


# --- delivery -------------------------------------------------------------------------------

def test_delivery_with_swaks_smtplib_and_smtp_source(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)])

    result = run_swaks(gh.port, "--to", "alice@example.test", "--from", "sender@remote.test",
                       "--header", "Subject: via swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"250 2\.0\.0 .*" + ID_RE, result.stdout), result.stdout

    with smtplib.SMTP("127.0.0.1", gh.port, timeout=20) as client:
        refused = client.sendmail("sender@remote.test", ["alice@example.test", "bob@example.test"],
                                  message("via smtplib"))
        assert refused == {}
        code, text = client.noop()
        assert code == 250

    # smtp-source: 20 messages over 4 parallel sessions, 2 KB payload each, no pipelining.
    count = 20
    result = subprocess.run(["/usr/sbin/smtp-source", "-c", "-s", "4", "-m", str(count), "-l", "2048",
                             "-f", "sender@remote.test", "-t", "bob@example.test", "-S", "via smtp-source",
                             "-M", "client.test", f"127.0.0.1:{gh.port}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    expected = 1 + 1 + count
    wait_until(lambda: len(sink.messages()) >= expected, timeout=30, message=f"{expected} messages at the sink")
    time.sleep(0.3)
    texts = sink.texts()
    assert len(texts) == expected, f"sink holds {len(texts)} messages, expected exactly {expected}"
    assert sum("Subject: via swaks" in t for t in texts) == 1
    smtplib_msgs = [t for t in texts if "Subject: via smtplib" in t]
    assert len(smtplib_msgs) == 1
    assert "X-Rcpt-Args: <alice@example.test>" in smtplib_msgs[0]
    assert "X-Rcpt-Args: <bob@example.test>" in smtplib_msgs[0]
    assert sum("Subject: via smtp-source" in t for t in texts) == count
    assert all(re.search(r"by gw\.example\.test \(gatehouse\) with E?SMTP id [0-9A-Z]{14}", t) for t in texts)


# --- recipient validation ---------------------------------------------------------------------

def test_unknown_recipient_550_and_role_accounts_accepted(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd("RCPT TO:<nobody@example.test>")
        assert reply.code == 550 and reply.text.startswith("5.1.1"), reply
        assert re.search(ID_RE, reply.text), f"no transaction ID in {reply}"
        for rcpt in ("<postmaster@example.test>", "<abuse@example.test>", "<PostMaster@Example.TEST>", "<postmaster>",
                     "<alice@example.test>"):
            reply = conn.cmd(f"RCPT TO:{rcpt}")
            assert reply.code == 250, f"RCPT TO:{rcpt} -> {reply}"
        assert conn.cmd("DATA").code == 354
        conn.send(message("role accounts") + ".\r\n")
        reply = conn.reply()
        assert reply.code == 250, reply
        assert conn.cmd("QUIT").code == 221
    wait_until(lambda: sink.messages(), message="message at the sink")
    texts = sink.texts()
    assert len(texts) == 1
    rcpts = re.findall(r"X-Rcpt-Args: (.*)", texts[0])
    assert "<nobody@example.test>" not in rcpts
    assert rcpts.count("<postmaster@example.test>") + rcpts.count("<PostMaster@example.test>") >= 2, rcpts
    assert "<abuse@example.test>" in rcpts and "<alice@example.test>" in rcpts


def test_list_domain_with_no_addresses_accepts_only_role_accounts(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink, addresses=[])])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 550
        assert conn.cmd("RCPT TO:<abuse@example.test>").code == 250


# --- the back-end's refusal passed through live -------------------------------------------------

@pytest.mark.parametrize("recipients", ["backend", "any"])
def test_backend_rcpt_refusal_passed_through_live(smtp_sink, start_gatehouse, recipients):
    sink = smtp_sink(["-f", "RCPT", "-B", "550 5.1.1 Mailbox xyzzy unknown at the back-end"])
    gh = start_gatehouse([list_domain(sink, recipients=recipients, addresses=[])])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd("RCPT TO:<someone@example.test>")
        assert reply.code == 550, f"back-end's 550 not passed through at RCPT: {reply}"
        assert "5.1.1 Mailbox xyzzy unknown at the back-end" in reply.text, reply
        assert re.search(ID_RE, reply.text), f"no transaction ID appended: {reply}"
        reply = conn.cmd("DATA")
        assert reply.code in (503, 554), reply
    time.sleep(0.3)
    assert sink.messages() == []


@pytest.mark.parametrize("recipients", ["backend", "any"])
def test_backend_data_refusal_passed_through_live(smtp_sink, start_gatehouse, recipients):
    sink = smtp_sink(["-f", ".", "-B", "554 5.7.1 Content rejected by the back-end plugh"])
    gh = start_gatehouse([list_domain(sink, recipients=recipients, addresses=[])])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        reply = transaction(conn, rcpts=("someone@example.test",))
        assert reply.code == 554, f"back-end's 554 at end of DATA not passed through: {reply}"
        assert "5.7.1 Content rejected by the back-end plugh" in reply.text, reply
        match = re.search(ID_RE, reply.text)
        assert match, f"no transaction ID appended: {reply}"
        # Refused, not bounced: the session goes on.
        assert conn.cmd("NOOP").code == 250
    row = gh.wait_for_row(match.group(1))
    assert row["disposition"] == "reject", row
    # Nothing is queued for a later retry (that would be accept-then-bounce).
    time.sleep(1.5)
    queue = gh.cli("queue", "list").stdout.decode()
    assert match.group(1) not in queue, queue


def test_backend_tempfail_at_rcpt_is_4xx(smtp_sink, start_gatehouse):
    sink = smtp_sink(["-r", "RCPT", "-b", "450 4.2.0 Mailbox busy at the back-end"])
    gh = start_gatehouse([list_domain(sink, recipients="backend", addresses=[])])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        reply = conn.cmd("RCPT TO:<someone@example.test>")
        assert reply.code == 450 and "Mailbox busy at the back-end" in reply.text, reply


# --- SIZE -------------------------------------------------------------------------------------

def test_size_limits(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)], server={"max_message_size": "10K"})
    with SmtpConn(gh.port) as conn:
        ehlo = conn.ehlo()
        assert "SIZE 10240" in ehlo.lines, ehlo
        reply = conn.cmd("MAIL FROM:<sender@remote.test> SIZE=99999999999")
        assert reply.code == 552 and reply.text.startswith("5.3.4"), reply
        reply = conn.cmd("MAIL FROM:<sender@remote.test> SIZE=10241")
        assert reply.code == 552 and reply.text.startswith("5.3.4"), reply
        # A message really larger than the limit, announced small: 552 after DATA.
        big_body = ("x" * 70 + "\r\n") * 400  # ~28 KB
        reply = transaction(conn, body=message("too big", big_body))
        assert reply.code == 552 and reply.text.startswith("5.3.4"), reply
        assert re.search(ID_RE, reply.text)
        # The session is still usable, and a small message goes through.
        reply = transaction(conn, body=message("small one"))
        assert reply.code == 250, reply
        conn.cmd("QUIT")
    wait_until(lambda: sink.messages(), message="small message at the sink")
    time.sleep(0.5)
    texts = sink.texts()
    assert len(texts) == 1 and "Subject: small one" in texts[0], [t[:300] for t in texts]


# --- pipelining -------------------------------------------------------------------------------

def test_1000_pipelined_noops_in_one_write(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)])
    with SmtpConn(gh.port, timeout=30) as conn:
        assert "PIPELINING" in conn.ehlo().lines
        conn.send("NOOP\r\n" * 1000)
        replies = conn.replies(1000)
        assert [r.code for r in replies] == [250] * 1000
        conn.send("NOOP\r\n")
        assert conn.reply().code == 250
        assert conn.buffer == b"", f"extra replies: {conn.buffer[:200]!r}"
        assert transaction(conn).code == 250


def test_1000_pipelined_transaction_commands_answered_in_order(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    # 30 unknown recipients: more than the harvest limit, which is not what this test is about.
    gh = start_gatehouse([list_domain(sink)], server={"max_recipients": 100},
                         sections={"abuse": {"max_unknown_recipients": 1000}})
    rcpts = []
    for i in range(90):
        rcpts.append(["alice@example.test", "bob@example.test", f"unknown{i}@example.test"][i % 3])
    commands = ["MAIL FROM:<sender@remote.test>"] + [f"RCPT TO:<{r}>" for r in rcpts]
    commands += ["VRFY alice"] + ["NOOP"] * (1000 - len(commands) - 2) + ["RSET"]
    assert len(commands) == 1000
    expected = [250] + [550 if r.startswith("unknown") else 250 for r in rcpts] + [252] + \
        [250] * (1000 - len(rcpts) - 3) + [250]
    with SmtpConn(gh.port, timeout=60) as conn:
        conn.ehlo()
        conn.send("".join(c + "\r\n" for c in commands))
        replies = conn.replies(1000, timeout=60)
        assert [r.code for r in replies] == expected
        assert conn.buffer == b""
        # Session still usable: a full pipelined transaction (RFC 2920 style) in one write.
        conn.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nope@example.test>\r\n"
                  "RCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [r.code for r in conn.replies(5)] == [250, 250, 550, 250, 354]
        conn.send(message("pipelined") + ".\r\nQUIT\r\n")
        final, bye = conn.replies(2)
        assert final.code == 250 and bye.code == 221, (final, bye)
    wait_until(lambda: sink.messages(), message="pipelined message at the sink")
    text = sink.texts()[0]
    assert "Subject: pipelined" in text
    assert re.findall(r"X-Rcpt-Args: (.*)", text) == ["<alice@example.test>", "<bob@example.test>"]


# --- garbage and binary noise ------------------------------------------------------------------

def test_garbage_and_binary_noise_get_clear_errors_and_session_survives(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)], server={"max_errors": 100})
    rng = random.Random(20261123)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        inputs = [b"FOO BAR", b"MAIL", b"MAIL FROM", b"RCPT TO:<alice@example.test>", b"\x00", b"HELO\x00x",
                  b"NOOP\x00", b"\xff\xfe\xfd garbage", b"DATA extra", b"RSET now"]
        for _ in range(10):
            noise = bytes(rng.randrange(256) for _ in range(200)).replace(b"\n", b"").replace(b"\r", b"")
            inputs.append(noise)
        for data in inputs:
            reply = conn.cmd(data)
            assert reply.code in (500, 501, 502, 503, 555), f"{data[:40]!r} -> {reply}"
        # A very long line: 500 line too long, the rest of the line discarded, session alive.
        for length in (3000, 100_000):
            reply = conn.cmd(b"NOOP " + b"A" * length)
            assert reply.code == 500 and "too long" in reply.text, reply
            assert conn.cmd("NOOP").code == 250, "session broken after a long line"
        # A blob of binary noise with line ends inside: each line gets an error, nothing else.
        blob = bytes(rng.randrange(1, 256) for _ in range(3000)).replace(b"\r", b"")
        blob = re.sub(rb"\n+", b"\n", blob).strip(b"\n")
        conn.send(blob + b"\r\nNOOP\r\n")
        lines = blob.count(b"\n") + 1
        replies = conn.replies(lines + 1)
        assert all(r.code in (500, 501, 502, 503, 555) for r in replies[:-1]), replies
        assert replies[-1].code == 250
        # A valid transaction afterwards works.
        assert transaction(conn, body=message("after garbage")).code == 250
    wait_until(lambda: sink.messages(), message="message after garbage")


def test_max_errors_ends_session_with_421(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)], server={"max_errors": 5})
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        for _ in range(4):
            assert conn.cmd("XYZZY").code == 500
        assert conn.cmd("XYZZY").code == 500
        reply = conn.reply()
        assert reply.code == 421 and reply.text.startswith("4.7.0"), reply
        assert conn.wait_closed(), "connection not closed after 421"
    # Other clients are unaffected.
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert transaction(conn).code == 250


# --- BDAT / CHUNKING -----------------------------------------------------------------------------

def test_bdat_chunks_delivered(raw_sink, start_gatehouse):
    sink = raw_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}])
    body = message("chunked", "line one\r\n.starts with a dot\r\nline three\r\n").encode()
    chunks = [body[:50], body[50:120], body[120:]]
    with SmtpConn(gh.port) as conn:
        assert "CHUNKING" in conn.ehlo().lines
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        for i, chunk in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            conn.send(f"BDAT {len(chunk)}{last}\r\n".encode() + chunk)
            reply = conn.reply()
            assert reply.code == 250, reply
        assert re.search(ID_RE, reply.text), reply
        # A second chunked transaction, all pipelined in one write, with an empty LAST chunk.
        conn.send(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\n" +
                  f"BDAT {len(body)}\r\n".encode() + body + b"BDAT 0 LAST\r\n")
        assert [r.code for r in conn.replies(4)] == [250, 250, 250, 250]
    wait_until(lambda: len(sink.datas()) == 2, message="2 chunked messages at the back-end")
    for data in sink.datas():
        assert b"\r\n..starts with a dot\r\n" in data  # dot-stuffed on the way out to the DATA back-end
        assert data.endswith(b"line three\r\n")


def test_bdat_bare_lf_normalised_at_backend(raw_sink, start_gatehouse):
    sink = raw_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}])
    body = b"Subject: bare lf\nFrom: <s@remote.test>\n\nline one\nline two\rline three\r\n"
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        conn.send(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\n" +
                  f"BDAT {len(body)} LAST\r\n".encode() + body)
        replies = conn.replies(3)
        assert [r.code for r in replies] == [250, 250, 250], replies
    wait_until(lambda: sink.datas(), message="message at the back-end")
    data = sink.datas()[0]
    stripped = data.replace(b"\r\n", b"")
    assert b"\r" not in stripped and b"\n" not in stripped, f"bare CR/LF reached the back-end: {data!r}"
    assert b"Subject: bare lf\r\nFrom: <s@remote.test>\r\n\r\nline one\r\nline two\r\nline three\r\n" in data, data


def test_bdat_errors(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        # BDAT without MAIL: the chunk is read and discarded, then 503; no desync.
        conn.send(b"BDAT 10\r\nNOOP\r\nNOOP")
        assert conn.reply().code == 503
        assert conn.cmd("NOOP").code == 250
        assert conn.cmd("BDAT x").code == 501
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        conn.send(b"BDAT 5\r\nHello")
        assert conn.reply().code == 250
        assert conn.cmd("DATA").code == 503  # DATA after BDAT
        conn.send(b"BDAT 2 LAST\r\n\r\n")
        assert conn.reply().code == 250


def test_several_sessions_with_several_messages_each(smtp_sink, start_gatehouse):
    """Sessions of 1..6 transactions each, one after the other, through the pooled live back-end
    connection: every message is delivered and the daemon stays up (it used to die with SIGSEGV
    after the third such session: a heap-use-after-free of a strand in a write_op, see the report)."""
    sink = smtp_sink()
    gh = start_gatehouse([list_domain(sink)])
    sent = 0
    for n in range(1, 7):
        with SmtpConn(gh.port) as conn:
            conn.ehlo()
            for i in range(n):
                reply = transaction(conn, body=message(f"session {n} message {i}"))
                assert reply.code == 250, reply
                sent += 1
            assert conn.cmd("QUIT").code == 221
        time.sleep(0.1)
        assert gh.process.poll() is None, \
            f"gatehouse died (exit {gh.process.returncode}) after session {n}: {gh.log()[-2000:]}"
    wait_until(lambda: len(sink.messages()) >= sent, timeout=30, message=f"{sent} messages at the sink")
    assert len(sink.messages()) == sent
