"""OpenSMTPD's server-agnostic protocol regress cases (../shared/corpora/smtp/opensmtpd-regress/),
read from the corpus as they were published and run by a small interpreter of their `smtpscript`
language against the real gatehouse binary.

Semantics of the interpreter (as in OpenSMTPD's smtpscript):
  writeln "text"         sends text + CRLF (the string is sent verbatim, even a newline inside it)
  expect smtp [CLASS]    reads one complete reply; ok = 2xx or 3xx, helo = 2xx, permfail = 5xx,
                         tempfail = 4xx, no class = any reply
  expect disconnect      the server closes the connection (replies sent before closing, which must be
                         4xx/5xx such as our "500 …" + "421 … too many errors", are allowed)
  starttls               TLS handshake on the connection
  repeat N stmt, { … }, call proc, sleep N (milliseconds)

The cases send to localhost, domain, a and foo.bar. gatehouse only serves dotted domain names, so
like OpenSMTPD's own regress setup (which relays for local clients) the runner makes 127.0.0.1 a
trusted network (its mail to other domains is accepted for outbound delivery and simply stays
queued here: there is no DNS), and serves foo.bar with recipients = "any" towards a Postfix
smtp-sink. test.smtp2 checks OpenSMTPD's limits, so the runner configures the same ones
(max_errors = 5, max_recipients = 1000).
"""
import pathlib
import re
import signal
import socket
import ssl
import time

import pytest

from conftest import (SHARED, Gatehouse, SmtpConn, SmtpSink, free_port_number, make_self_signed_cert, render_config)

CORPUS = SHARED / "corpora" / "smtp" / "opensmtpd-regress"
FILES = ["test.base", "test.mailfrom", "test.rcptto", "test.smtp0", "test.smtp1", "test.smtp2", "test.smtp4", "test.tls"]

# Cases we do not run, each with the reason. Keys: "file:case name" or "file:#index" (1-based).
SKIPS = {
    "test.base:*": "scripting-engine self-test of smtpscript's grammar (no SMTP: no-autoconnect, sleep, fail)",
    "test.mailfrom:mailfrom.option-auth": "AUTH= MAIL parameter: gatehouse offers no AUTH extension, and RFC 4954 §5 "
                                          "allows AUTH= only when it is offered; it answers 555 instead",
    "test.smtp2:#3": "100 messages per session then 4xx: OpenSMTPD's own per-session message limit; gatehouse has no "
                     "such limit (it accepts any number of transactions per session)",
    "test.smtp0:#8": "writes \"RCPT TO: <gilles\\n@localhost>\" (a newline inside the address, a typo in test.smtp0 "
                     "fixed in test.smtp1): gatehouse ends a command line at LF, like Postfix, and refuses the two "
                     "halves; the corrected case runs as test.smtp1:#8",
    "test.mailfrom:mailfrom.at-sign": "MAIL FROM:<@> as a null sender is OpenSMTPD leniency; it is not RFC 5321 syntax "
                                      "(a source route with no domain) and gatehouse answers 501 5.1.7",
    "test.mailfrom:mailfrom.src-route": "\"whatever:a@a\" is not an RFC 5321 source route (@dom,@dom:); OpenSMTPD "
                                        "strips any prefix up to ':'; gatehouse strips only real source routes "
                                        "(\"@a,@b:user@dom\", tested elsewhere) and answers 501 here",
    "test.rcptto:rcptto.src-route": "\"whatever:a@a\" is not an RFC 5321 source route (see mailfrom.src-route)",
}


# --- the smtpscript interpreter ---------------------------------------------------------------

def tokenize(text):
    tokens, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif c == '"':
            j = i + 1
            out = ""
            while text[j] != '"':
                if text[j] == "\\":
                    j += 1
                    out += {"n": "\n", "r": "\r", "t": "\t"}.get(text[j], text[j])
                else:
                    out += text[j]
                j += 1
            tokens.append(("str", out))
            i = j + 1
        elif c in "{}":
            tokens.append((c, c))
            i += 1
        else:
            m = re.match(r"[^\s{}\"#]+", text[i:])
            tokens.append(("word", m.group(0)))
            i += len(m.group(0))
    return tokens


class Parser:
    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        assert tok[0] is not None, "unexpected end of script"
        assert kind is None or tok[0] == kind, f"expected {kind}, got {tok}"
        assert value is None or tok[1] == value, f"expected {value}, got {tok}"
        self.pos += 1
        return tok[1]

    def script(self):
        procs, cases = {}, []
        while self.peek()[0] is not None:
            word = self.take("word")
            if word == "proc":
                name = self.take("word")
                while self.peek()[0] == "word":
                    self.take()  # %parameters
                procs[name] = self.block()
            elif word == "test-case":
                options = {"autoconnect": True, "expect_fail": False, "skip": False, "name": None}
                while self.peek()[0] != "{":
                    opt = self.take("word")
                    if opt == "no-autoconnect":
                        options["autoconnect"] = False
                    elif opt == "expect":
                        self.take("word", "fail")
                        options["expect_fail"] = True
                    elif opt == "skip":
                        options["skip"] = True
                    elif opt == "name":
                        options["name"] = self.take("str")
                    else:
                        raise AssertionError(f"unknown test-case option {opt}")
                options["body"] = self.block()
                cases.append(options)
            else:
                raise AssertionError(f"unexpected {word}")
        return procs, cases

    def block(self):
        self.take("{")
        stmts = []
        while self.peek()[0] != "}":
            stmts.append(self.statement())
        self.take("}")
        return ("block", stmts)

    def statement(self):
        if self.peek()[0] == "{":
            return self.block()
        word = self.take("word")
        if word == "writeln":
            return ("writeln", self.take("str"))
        if word == "expect":
            what = self.take("word")
            if what == "disconnect":
                return ("disconnect",)
            assert what == "smtp", what
            cls = None
            if self.peek()[0] == "word" and self.peek()[1] in ("ok", "helo", "permfail", "tempfail"):
                cls = self.take()
            return ("expect", cls)
        if word == "repeat":
            return ("repeat", int(self.take("word")), self.statement())
        if word == "call":
            return ("call", self.take("word"))
        if word == "sleep":
            return ("sleep", int(self.take("word")))
        if word in ("noop", "starttls"):
            return (word,)
        if word == "fail":
            return ("fail", self.take("str"))
        if word == "random":
            return ("random", self.block())
        if word == "connect":
            host = self.take("str")
            self.take("word", "port")
            return ("connect", host, int(self.take("word")))
        raise AssertionError(f"unknown statement {word}")


def load_cases():
    params = []
    for name in FILES:
        procs, cases = Parser(tokenize((CORPUS / name).read_text())).script()
        for index, case in enumerate(cases, 1):
            label = case["name"] or f"#{index}"
            key = f"{name}:{label}"
            reason = SKIPS.get(key) or SKIPS.get(f"{name}:#{index}") or SKIPS.get(f"{name}:*")
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(name, index, case, procs, id=key, marks=marks))
    return params


CLASSES = {"ok": (2, 3), "helo": (2,), "permfail": (5,), "tempfail": (4,)}


class Run:
    def __init__(self, port, procs):
        self.port, self.procs = port, procs
        self.conn = None
        self.trace = []

    def execute(self, stmt):
        kind = stmt[0]
        if kind == "block":
            for s in stmt[1]:
                self.execute(s)
        elif kind == "writeln":
            self.trace.append(f">>> {stmt[1]!r}")
            self.conn.send(stmt[1].encode() + b"\r\n")
        elif kind == "expect":
            reply = self.conn.reply(timeout=15)
            self.trace.append(f"<<< {reply.code} {reply.lines[-1]}")
            if stmt[1]:
                assert reply.code // 100 in CLASSES[stmt[1]], \
                    f"expected smtp {stmt[1]}, got {reply.code} {reply.text}\n" + "\n".join(self.trace)
        elif kind == "disconnect":
            closed = self.conn.wait_closed(timeout=10)
            leftover = self.conn.buffer.decode(errors="replace")
            self.trace.append(f"<<< (closing) {leftover!r}")
            assert closed, "expected disconnect, connection still open\n" + "\n".join(self.trace)
            for line in filter(None, leftover.split("\r\n")):
                assert line[0] in "2345", line
                # Before closing the server may still answer the last command (221 to QUIT) or
                # explain why it closes (4xx/5xx).
        elif kind == "repeat":
            for _ in range(stmt[1]):
                self.execute(stmt[2])
        elif kind == "call":
            self.execute(self.procs[stmt[1]])
        elif kind == "sleep":
            time.sleep(min(stmt[1], 5000) / 1000)
        elif kind == "noop":
            pass
        elif kind == "starttls":
            assert self.conn.buffer == b""
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.conn.sock = context.wrap_socket(self.conn.sock, server_hostname="gw.example.test")
        elif kind == "fail":
            raise AssertionError(stmt[1])
        else:
            raise AssertionError(f"statement {kind} not supported by this runner")


@pytest.fixture(scope="module")
def regress_gateway(gatehouse_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("opensmtpd")
    sink = SmtpSink(tmp, free_port_number()).start()
    cert, key = make_self_signed_cert(tmp)
    port = free_port_number()
    domains = [{"name": "foo.bar", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}]
    config = render_config(
        {"hostname": "gw.example.test", "listen": [f"127.0.0.1:{port}"], "state_dir": str(tmp / "state"),
         "max_errors": 5, "max_recipients": 1000, "trusted_networks": ["127.0.0.1/32"]},
        domains,
        {"delivery": {"retry_schedule": ["1s"], "backend_timeout": "5s", "connect_timeout": "2s"},
         "dns": {"nameservers": [f"127.0.0.1:{free_port_number()}"], "timeout": "500ms"},
         "tls": {"certificate": str(cert), "key": str(key), "starttls": "optional"}})
    gh = Gatehouse(gatehouse_bin, tmp, port, config).start()
    yield gh
    gh.stop(signal.SIGKILL)
    sink.stop()


@pytest.mark.parametrize("file,index,case,procs", load_cases())
def test_opensmtpd_regress(regress_gateway, file, index, case, procs):
    assert case["autoconnect"], "no-autoconnect cases are not SMTP cases"
    run = Run(regress_gateway.port, procs)
    run.conn = SmtpConn(regress_gateway.port, greet=False, timeout=15)
    try:
        run.execute(case["body"])
    finally:
        run.conn.close()


def test_corpus_present_and_fully_parsed():
    """Every file of the corpus is known to the runner, so a new case is not silently ignored."""
    present = sorted(p.name for p in CORPUS.glob("test.*"))
    assert present == sorted(FILES), present
    assert len(load_cases()) >= 60


def test_skipped_cases_behave_as_their_reasons_say(regress_gateway):
    """The skip reasons above are claims about gatehouse: check them, so they cannot silently rot."""
    with SmtpConn(regress_gateway.port) as conn:
        conn.ehlo("regress")
        reply = conn.cmd("MAIL FROM: <@>")
        assert reply.code == 501, reply
        reply = conn.cmd("MAIL FROM: <whatever:a@a>")
        assert reply.code == 501, reply
        reply = conn.cmd("MAIL FROM: <user@domain> AUTH=WHATEVER")
        assert reply.code == 555, reply
        assert conn.cmd("MAIL FROM: <@relay.test,@other.test:user@foo.bar>").code == 250  # a real source route
        assert conn.cmd("RCPT TO: <whatever:a@foo.bar>").code == 501
    with SmtpConn(regress_gateway.port) as conn:  # max_errors = 5: a fresh session
        conn.ehlo("regress")
        assert conn.cmd("MAIL FROM: <test@blabla>").code == 250
        conn.send(b"RCPT TO: <gilles\n@localhost>\r\n")
        assert [r.code for r in conn.replies(2)] == [501, 500]
        assert conn.cmd("RSET").code == 250
    with SmtpConn(regress_gateway.port) as conn:
        conn.ehlo("fkf")
        for _ in range(101):  # more than OpenSMTPD's 100 messages per session
            assert conn.cmd("MAIL FROM: <test@blabla>").code == 250
            assert conn.cmd("RCPT TO: <test@foo.bar>").code == 250
            assert conn.cmd("DATA").code == 354
            conn.send(b"foo\r\n.\r\n")
            try:
                assert conn.reply().code == 250
            except ConnectionError:
                assert regress_gateway.process.poll() is None, \
                    f"gatehouse died (exit {regress_gateway.process.returncode}) during many messages in one session"
                raise
        assert conn.cmd("MAIL FROM: <test@blabla>").code == 250
