"""SMTP smuggling end to end: every end-of-data look-alike of ../shared/corpora/README.md, embedded in
DATA before a smuggled "MAIL FROM … RCPT TO … DATA …" block and the real <CRLF>.<CRLF>, must give
exactly one reply (one 250) and one message at the back-end, with the smuggled block inside it as
content, and no bare CR or bare LF on the wire to the back-end."""
import re
import time

import pytest

from conftest import SmtpConn, wait_until

SEQUENCES = [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\r.\n", b"\r.\r", b"\r\n\x00.\r\n", b"\r\n.\r\r\n"]
IDS = [s.decode("latin-1").encode("unicode_escape").decode() for s in SEQUENCES]

SMUGGLED = (b"MAIL FROM:<ceo@smuggled.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"From: <ceo@smuggled.test>\r\nSubject: smuggled message\r\n\r\nwire the money\r\n")


def payload(sequence):
    head = (b"From: <sender@remote.test>\r\nTo: <alice@example.test>\r\nSubject: carrier\r\n"
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <carrier@remote.test>\r\n\r\n")
    return head + b"carrier body" + sequence + SMUGGLED + b"\r\n.\r\n"


def domain(port, **extra):
    d = {"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "list",
         "addresses": ["alice@example.test", "bob@example.test"]}
    d.update(extra)
    return d


def smuggle(port, sequence):
    """Sends one carrier message with the smuggling attempt; returns the replies seen after DATA."""
    with SmtpConn(port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(payload(sequence))
        final = conn.reply(timeout=20)
        # Nothing else may be answered: the next reply must be the one to our NOOP.
        time.sleep(0.3)
        conn.send(b"NOOP\r\n")
        after = conn.reply()
        extra = conn.buffer
        conn.send(b"QUIT\r\n")
        bye = conn.reply()
        return final, after, extra, bye


@pytest.mark.parametrize("sequence", SEQUENCES, ids=IDS)
def test_smuggling_sequence_never_splits_message(smtp_sink, start_gatehouse, sequence):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink.port)])
    final, after, extra, bye = smuggle(gh.port, sequence)
    assert final.code == 250, f"carrier message not accepted: {final}"
    assert after.code == 250 and after.text == "2.0.0 Ok", \
        f"a second reply after the message ({after}): the smuggled commands were executed"
    assert extra == b"" and bye.code == 221, (extra, bye)
    wait_until(lambda: sink.messages(), message="carrier at the sink")
    time.sleep(0.5)
    texts = sink.texts()
    assert len(texts) == 1, f"the sink received {len(texts)} messages: the message was split"
    # the carrier arrives whole; whether the content checks tag it ([SPAM?]) is not this test's concern
    assert re.search(r"^Subject: (\[SPAM\?\] )?carrier", texts[0], re.M), texts[0]
    assert "MAIL FROM:<ceo@smuggled.test>" in texts[0] and "wire the money" in texts[0], texts[0]
    assert "X-Rcpt-Args: <bob@example.test>" not in texts[0]
    mail_args = re.findall(r"X-Mail-Args: (.*)", texts[0])
    assert len(mail_args) == 1 and "<sender@remote.test>" in mail_args[0], mail_args


@pytest.mark.parametrize("sequence", SEQUENCES, ids=IDS)
def test_smuggling_sequence_no_bare_newline_on_the_wire(raw_sink, start_gatehouse, sequence):
    sink = raw_sink()
    gh = start_gatehouse([domain(sink.port)])
    final, after, extra, bye = smuggle(gh.port, sequence)
    assert final.code == 250 and after.code == 250 and after.text == "2.0.0 Ok" and extra == b"", (final, after, extra)
    wait_until(lambda: sink.datas(), message="carrier at the back-end")
    time.sleep(0.3)
    datas = sink.datas()
    assert len(datas) == 1, f"{len(datas)} messages at the back-end"
    data = datas[0]
    without_crlf = data.replace(b"\r\n", b"")
    assert b"\r" not in without_crlf and b"\n" not in without_crlf, f"bare CR or LF relayed to the back-end: {data!r}"
    assert b"MAIL FROM:<ceo@smuggled.test>\r\n" in data and b"wire the money\r\n" in data, data
    assert data.startswith(b"Received: "), data[:200]
    # No line of what we relayed is a lone "." (the back-end would end DATA there).
    assert b"\r\n.\r\n" not in data and not data.startswith(b".\r\n")


@pytest.mark.parametrize("sequence", SEQUENCES, ids=IDS)
def test_smuggling_sequence_rejected_with_bare_newline_reject(smtp_sink, start_gatehouse, sequence):
    """With bare_newline = "reject" the carrier is refused as a whole (one 5xx), nothing delivered."""
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink.port)], server={"bare_newline": "reject"})
    final, after, extra, bye = smuggle(gh.port, sequence)
    if b"\x00" in sequence:
        # "\r\n\x00.\r\n" has no bare line end: the NUL is content; accepted (and never a terminator).
        assert final.code in (250, 550), final
    else:
        assert final.code == 550 and final.text.startswith("5.6.0"), final
    assert after.code == 250 and after.text == "2.0.0 Ok" and extra == b"", (after, extra)
    time.sleep(0.5)
    texts = sink.texts()
    assert len(texts) == (1 if final.code == 250 else 0)
    assert not any("X-Rcpt-Args: <bob@example.test>" in t for t in texts)
