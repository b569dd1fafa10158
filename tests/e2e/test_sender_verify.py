"""Sender address verification by callout ([filter.checks.sender_verify], src/checks/sender_verify.cpp).

gatehouse asks the sender domain's mail exchanger (RFC 5321 §5.1 MX lookup, implicit MX, RFC 7505
null MX) whether the sender exists: EHLO, MAIL FROM:<> (RFC 5321 §4.5.5), RCPT TO a random address
(a server that accepts it accepts everything and proves nothing), RCPT TO the sender, QUIT. Only a
definite refusal rejects, with `550 5.1.7 Sender verify failed: …`; 4xx, timeouts and rate limits are
no evidence (451 only when the check is mandatory).

Real parts: unbound on loopback serving the fixture zones below (tests/fixtures/dns/run-unbound.sh,
with the default local-data.conf for the reverse names), the gatehouse binary, and a small SMTP
server in this file standing in for the remote mail exchangers (every fixture MX resolves to
127.0.0.1; gatehouse's [delivery] outbound_port points at it). It behaves per recipient domain and
records every command of every connection.
"""
import signal
import socketserver
import threading
import time

import pytest

from conftest import (ROOT, Process, RawSink, SmtpConn, _dns_query_answers, free_port_number, reply_id,
                      send_message, wait_until)

# Zones of the senders. Everything else is NXDOMAIN (run-unbound.sh serves "." static).
DNS_DATA = """
local-zone: "strict.test." static
local-data: "strict.test. 3600 IN MX 10 mx.strict.test."
local-data: "mx.strict.test. 3600 IN A 127.0.0.1"
local-zone: "acceptall.test." static
local-data: "acceptall.test. 3600 IN MX 10 mx.acceptall.test."
local-data: "mx.acceptall.test. 3600 IN A 127.0.0.1"
local-zone: "greylist.test." static
local-data: "greylist.test. 3600 IN MX 10 mx.greylist.test."
local-data: "mx.greylist.test. 3600 IN A 127.0.0.1"
local-zone: "slow.test." static
local-data: "slow.test. 3600 IN MX 10 mx.slow.test."
local-data: "mx.slow.test. 3600 IN A 127.0.0.1"
local-zone: "implicit.test." static
local-data: "implicit.test. 3600 IN A 127.0.0.1"
local-zone: "nullmx.test." static
local-data: "nullmx.test. 3600 IN MX 0 ."
local-zone: "nomail.test." static
local-data: 'nomail.test. 3600 IN TXT "no MX, no address"'
"""

# How the fake exchanger answers RCPT, by recipient domain.
BEHAVIOUR = {"strict.test": "strict", "implicit.test": "strict", "acceptall.test": "accept_all",
             "greylist.test": "tempfail", "slow.test": "hang"}
KNOWN = {"known@strict.test", "other@strict.test", "known@implicit.test"}


class FakeExchanger:
    """A loopback SMTP server for the senders' domains: strict domains accept only KNOWN and refuse
    the rest with 550 5.1.1, accept-all domains accept every address, greylisting domains answer
    451, "hang" domains never answer RCPT. `sessions` holds the command lines of each connection."""

    def __init__(self):
        self.port = free_port_number()
        self.sessions = []
        self.lock = threading.Lock()
        exchanger = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                conn = self.request
                conn.settimeout(30)
                commands = []
                with exchanger.lock:
                    exchanger.sessions.append(commands)
                buf = b""
                try:
                    conn.sendall(b"220 mx.fixture.test ESMTP\r\n")
                    while True:
                        while b"\r\n" not in buf:
                            chunk = conn.recv(65536)
                            if not chunk:
                                return
                            buf += chunk
                        raw, buf = buf.split(b"\r\n", 1)
                        line = raw.decode("utf-8", "replace")
                        with exchanger.lock:
                            commands.append(line)
                        verb = line[:4].upper()
                        if verb == "EHLO":
                            conn.sendall(b"250-mx.fixture.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                                         b"250 8BITMIME\r\n")
                        elif verb == "MAIL":
                            conn.sendall(b"250 2.1.0 Ok\r\n")
                        elif verb == "RCPT":
                            address = line[line.find("<") + 1:line.rfind(">")].lower()
                            behaviour = BEHAVIOUR.get(address.rsplit("@", 1)[-1], "strict")
                            if behaviour == "hang":
                                time.sleep(10)
                                return
                            if behaviour == "tempfail":
                                conn.sendall(b"451 4.7.1 Greylisted, try again later\r\n")
                            elif behaviour == "accept_all" or address in KNOWN:
                                conn.sendall(b"250 2.1.5 Ok\r\n")
                            else:
                                conn.sendall(b"550 5.1.1 <" + address.encode() + b">: No such user\r\n")
                        elif verb in ("RSET", "NOOP"):
                            conn.sendall(b"250 2.0.0 Ok\r\n")
                        elif verb == "QUIT":
                            conn.sendall(b"221 2.0.0 Bye\r\n")
                            return
                        else:
                            conn.sendall(b"502 5.5.1 Not implemented\r\n")
                except OSError:
                    return

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return [list(s) for s in self.sessions]

    def connections(self):
        with self.lock:
            return len(self.sessions)


@pytest.fixture
def verify_dns(tmp_path):
    """unbound with the default fixture data plus DNS_DATA, on a free loopback port -> port."""
    if not (ROOT / "tests" / "fixtures" / "dns" / "run-unbound.sh").exists():
        pytest.skip("run-unbound.sh missing")
    import shutil
    if not shutil.which("unbound") and not shutil.which("/usr/sbin/unbound"):
        pytest.skip("unbound is not installed")
    data = tmp_path / "sender-verify-zones.conf"
    data.write_text(DNS_DATA)
    port = free_port_number()
    process = Process(["bash", str(ROOT / "tests" / "fixtures" / "dns" / "run-unbound.sh"), str(port),
                       str(ROOT / "tests" / "fixtures" / "dns" / "local-data.conf"), str(data)],
                      tmp_path / "unbound-sender-verify.log")
    try:
        wait_until(lambda: process.poll() is None and _dns_query_answers(port, "strict.test"), timeout=15,
                   message="fixture DNS server answering")
        yield port
    finally:
        process.stop(signal.SIGTERM, timeout=10)


@pytest.fixture
def exchanger():
    server = FakeExchanger().start()
    yield server
    server.stop()


@pytest.fixture
def backend():
    sink = RawSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def gateway(start_gatehouse, verify_dns, exchanger, backend):
    """gateway(check={...}, verify={...}) -> a started gatehouse with sender verification enabled."""

    def start(check=None, verify=None):
        return start_gatehouse(
            [{"name": "example.test", "backend": f"smtp:127.0.0.1:{backend.port}", "recipients": "any"}],
            sections={"dns": {"nameservers": [f"127.0.0.1:{verify_dns}"]},
                      "delivery": {"outbound_port": exchanger.port},
                      "filter.checks.sender_verify": {"enabled": True, **(check or {})},
                      "sender_verify": {"timeout": "5s", **(verify or {})}})

    return start


def rcpt_reply(port, sender, rcpt="alice@example.test"):
    """MAIL FROM:<sender> and one RCPT on a fresh connection; returns the RCPT reply."""
    with SmtpConn(port) as conn:
        conn.ehlo("client.remote.test")
        assert conn.cmd(f"MAIL FROM:<{sender}>").code == 250
        reply = conn.cmd(f"RCPT TO:<{rcpt}>")
        conn.cmd("QUIT")
        return reply


def sender_verify_details(gh, transaction_id, predicate=lambda row: True):
    row = gh.wait_for_row(transaction_id, predicate)
    return [c["detail"] for c in row["checks"] if c["name"] == "sender_verify"]


def wait_for_quit(exchanger, count):
    """The first `count` callout sessions, once each has ended with QUIT (sent after the answer)."""
    return wait_until(lambda: (lambda s: s if len(s) >= count and all(x and x[-1] == "QUIT" for x in s[:count])
                               else None)(exchanger.snapshot()), timeout=10, message="callouts ended with QUIT")


def test_unknown_sender_at_strict_exchanger_is_refused_with_5_1_7(gateway, exchanger, backend):
    gh = gateway()
    reply = rcpt_reply(gh.port, "nobody@strict.test")
    assert reply.code == 550, reply
    assert reply.lines[0].startswith("5.1.7 Sender verify failed: nobody@strict.test: 550 5.1.1"), reply
    assert "No such user" in reply.text and "(ID:" in reply.text, reply
    # The callout: our name, the null reverse-path, the random probe first, then the sender, QUIT.
    sessions = wait_for_quit(exchanger, 1)
    assert len(sessions) == 1, sessions
    commands = sessions[0]
    assert commands[0] == "EHLO gw.example.test", commands
    assert commands[1] == "MAIL FROM:<>", commands
    assert commands[2].startswith("RCPT TO:<gh-verify-") and commands[2].endswith("@strict.test>"), commands
    assert commands[3] == "RCPT TO:<nobody@strict.test>", commands
    assert commands[4:] == ["QUIT"], commands
    assert backend.datas() == []
    details = sender_verify_details(gh, reply_id(reply.text), lambda row: row["disposition"] == "reject")
    assert any(d.startswith("failed: nobody@strict.test: 550 5.1.1") for d in details), details


def test_known_sender_is_accepted_and_delivered(gateway, exchanger, backend):
    gh = gateway()
    result = send_message(gh.port, "alice@example.test", "verified sender", sender="known@strict.test")
    assert result.code == 250, result
    wait_until(lambda: any(b"verified sender" in d for d in backend.datas()), timeout=10, message="delivery")
    commands = wait_for_quit(exchanger, 1)[0]
    assert commands[1] == "MAIL FROM:<>" and commands[3] == "RCPT TO:<known@strict.test>", commands
    assert commands[2].startswith("RCPT TO:<gh-verify-"), commands
    details = sender_verify_details(gh, result.id)
    assert any(d.startswith("verified: known@strict.test: 250") for d in details), details


def test_accept_all_exchanger_proves_nothing_and_is_cached_per_domain(gateway, exchanger, backend):
    gh = gateway()
    first = send_message(gh.port, "alice@example.test", "accept all one", sender="anyone@acceptall.test")
    assert first.code == 250, first
    details = sender_verify_details(gh, first.id)
    assert any(d.startswith("accept_all: acceptall.test accepts any recipient") for d in details), details
    commands = wait_for_quit(exchanger, 1)[0]
    # The probe was accepted, so the sender itself is not even asked.
    assert [c for c in commands if c.startswith("RCPT")] == [commands[2]], commands
    assert commands[2].startswith("RCPT TO:<gh-verify-"), commands
    # Another sender of the same domain: answered from the domain cache, no new callout.
    second = send_message(gh.port, "alice@example.test", "accept all two", sender="someone-else@acceptall.test")
    assert second.code == 250, second
    details = sender_verify_details(gh, second.id)
    assert any(d.startswith("accept_all:") and d.endswith("(cached)") for d in details), details
    assert exchanger.connections() == 1


def test_answers_are_cached_positive_and_negative(gateway, exchanger, backend):
    gh = gateway()
    # Two recipients in one transaction, then a second message: one callout for the sender.
    first = send_message(gh.port, ["alice@example.test", "bob@example.test"], "cached one", sender="known@strict.test")
    assert first.code == 250, first
    second = send_message(gh.port, "alice@example.test", "cached two", sender="known@strict.test")
    assert second.code == 250, second
    details = sender_verify_details(gh, second.id)
    assert any(d.startswith("verified:") and d.endswith("(cached)") for d in details), details
    assert exchanger.connections() == 1, exchanger.snapshot()
    # A refused sender, twice: the second refusal comes from the negative cache.
    for _ in range(2):
        reply = rcpt_reply(gh.port, "ghost@strict.test")
        assert reply.code == 550 and "5.1.7 Sender verify failed: ghost@strict.test: 550 5.1.1" in reply.text, reply
    assert exchanger.connections() == 2, exchanger.snapshot()
    # Another address of the same strict domain is a new question.
    assert rcpt_reply(gh.port, "other@strict.test").code == 250
    assert exchanger.connections() == 3


def test_temporary_failure_is_no_evidence(gateway, exchanger, backend):
    gh = gateway()
    result = send_message(gh.port, "alice@example.test", "greylisted callout", sender="someone@greylist.test")
    assert result.code == 250, result
    details = sender_verify_details(gh, result.id)
    assert any(d.startswith("error, no evidence:") and "451 4.7.1" in d for d in details), details
    assert exchanger.connections() == 1
    # Not cached: the next message asks again.
    assert send_message(gh.port, "alice@example.test", "greylisted again", sender="someone@greylist.test").code == 250
    assert exchanger.connections() == 2


def test_temporary_failure_tempfails_when_mandatory(gateway, exchanger, backend):
    gh = gateway(check={"mandatory": True})
    reply = rcpt_reply(gh.port, "someone@greylist.test")
    assert reply.code == 451, reply
    assert "sender_verify" in reply.text and "(ID:" in reply.text, reply
    # A verified sender still passes under the mandatory policy.
    assert rcpt_reply(gh.port, "known@strict.test").code == 250


def test_slow_exchanger_hits_the_callout_timeout(gateway, exchanger, backend):
    gh = gateway(verify={"timeout": "2s"})
    started = time.monotonic()
    reply = rcpt_reply(gh.port, "someone@slow.test")
    elapsed = time.monotonic() - started
    assert reply.code == 250, reply
    assert elapsed < 5, elapsed
    details = sender_verify_details(gh, reply_id(reply.text))
    assert any("timed out" in d or "timeout" in d for d in details), details


def test_null_sender_is_never_verified(gateway, exchanger, backend):
    gh = gateway()
    result = send_message(gh.port, "alice@example.test", "bounce", sender="")
    assert result.code == 250, result
    details = sender_verify_details(gh, result.id)
    assert details == ["null sender: not verified"], details
    time.sleep(0.3)
    assert exchanger.connections() == 0


def test_own_domain_and_postmaster_are_not_verified(gateway, exchanger, backend):
    gh = gateway()
    assert rcpt_reply(gh.port, "someone@example.test").code == 250
    assert rcpt_reply(gh.port, "nobody@strict.test", rcpt="postmaster@example.test").code == 250
    time.sleep(0.3)
    assert exchanger.connections() == 0


def test_rate_limit_per_domain(gateway, exchanger, backend):
    gh = gateway(verify={"per_domain_per_minute": 2})
    for sender in ("ghost1@strict.test", "ghost2@strict.test"):
        reply = rcpt_reply(gh.port, sender)
        assert reply.code == 550 and "5.1.7" in reply.text, reply
    assert exchanger.connections() == 2
    # Over the limit: no callout, no evidence, accepted.
    reply = rcpt_reply(gh.port, "ghost3@strict.test")
    assert reply.code == 250, reply
    result = send_message(gh.port, "alice@example.test", "over the limit", sender="ghost4@strict.test")
    assert result.code == 250, result
    details = sender_verify_details(gh, result.id)
    assert any(d.startswith("error, no evidence: rate limited") for d in details), details
    # Cached answers are free; other domains have their own budget.
    assert rcpt_reply(gh.port, "ghost1@strict.test").code == 550
    assert rcpt_reply(gh.port, "known@implicit.test").code == 250
    assert exchanger.connections() == 3, exchanger.snapshot()


def test_domains_that_cannot_receive_mail(gateway, exchanger, backend):
    gh = gateway()
    reply = rcpt_reply(gh.port, "someone@does-not-exist.test")
    assert reply.code == 550, reply
    assert reply.lines[0].startswith("5.1.8 Sender verify failed:") and "does not exist" in reply.text, reply
    # Every address of that domain is answered from the per-domain negative cache.
    reply = rcpt_reply(gh.port, "someone-else@does-not-exist.test")
    assert reply.code == 550 and "sender domain does-not-exist.test does not exist" in reply.text, reply
    assert gh.log().count("failed: sender domain does-not-exist.test does not exist") == 1, gh.log()
    reply = rcpt_reply(gh.port, "someone@nullmx.test")
    assert reply.code == 550 and reply.lines[0].startswith("5.7.27 ") and "null MX" in reply.text, reply   # RFC 7505
    reply = rcpt_reply(gh.port, "someone@nomail.test")
    assert reply.code == 550 and reply.lines[0].startswith("5.1.8 ") and "no mail server" in reply.text, reply
    assert exchanger.connections() == 0


def test_implicit_mx_and_probe_sender(gateway, exchanger, backend):
    gh = gateway(verify={"probe_sender": "verify@gw.example.test"})
    assert rcpt_reply(gh.port, "known@implicit.test").code == 250
    reply = rcpt_reply(gh.port, "nobody@implicit.test")
    assert reply.code == 550 and "5.1.7" in reply.text, reply
    sessions = wait_for_quit(exchanger, 2)
    for commands in sessions:
        assert commands[1] == "MAIL FROM:<verify@gw.example.test>", commands
        assert commands[2].startswith("RCPT TO:<gh-verify-") and commands[2].endswith("@implicit.test>"), commands
