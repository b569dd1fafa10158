"""Relay control end to end: every open-relay probe form of ../shared/corpora/README.md (the forms
nmap's smtp-open-relay script uses) is refused with a 5xx and nothing reaches the back-end; nmap's
smtp-open-relay script itself finds nothing."""
import re
import shutil
import subprocess
import time

import pytest

from conftest import SmtpConn

# Served domain with recipients = "any": the most permissive configuration, so anything the relay
# control lets through would really be delivered to the sink.
SERVED = "example.test"
FOREIGN = "relay-target.test"
IP = "127.0.0.1"

FORMS = ["user@domain", "user%domain@srvname", "user%domain@[ip]", '"user@domain"', '"user%domain"',
         "user@domain@[ip]", '"user@domain"@[ip]', "user@domain@srvname", "@[ip]:user@domain",
         "@srvname:user@domain", "domain!user", "domain!user@[ip]", "domain!user@srvname"]


def expand(form, srvname):
    return form.replace("srvname", srvname).replace("domain", FOREIGN).replace("[ip]", f"[{IP}]").replace(
        "user", "victim")


@pytest.fixture
def relay_gateway(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    # One connection carries every probe with an RSET between them: more than the abuse limit on
    # RSETs (a prober's pattern), which is not what these tests are about.
    gh = start_gatehouse([{"name": SERVED, "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"abuse": {"max_rsets": 1000}})
    return sink, gh


def probes():
    seen = []
    # srvname: the gateway's own host name (not a served domain) and the served domain itself
    # (where "user%domain@us" style routing would be the classic trick).
    for srvname in ("gw.example.test", SERVED):
        for form in FORMS:
            address = expand(form, srvname)
            if address not in seen:
                seen.append(address)
    return seen


def test_every_relay_probe_form_refused(relay_gateway):
    sink, gh = relay_gateway
    addresses = probes()
    assert len(addresses) >= len(FORMS)
    results = {}
    with SmtpConn(gh.port) as conn:
        conn.ehlo("probe.test")
        for address in addresses:
            for sender in ("<>", "<probe@relay-source.test>", f"<antispam@{SERVED}>"):
                assert conn.cmd("RSET").code == 250
                assert conn.cmd(f"MAIL FROM:{sender}").code == 250
                reply = conn.cmd(f"RCPT TO:<{address}>")
                results[(sender, address)] = reply
                if reply.code // 100 == 2:
                    # Let it run to the end, so that a bug would really be visible at the sink.
                    if conn.cmd("DATA").code == 354:
                        conn.send(f"Subject: relayed to {address}\r\n\r\nrelay test\r\n.\r\n")
                        conn.reply()
        # The gateway still serves its own domain on the same connection.
        assert conn.cmd("RSET").code == 250
        assert conn.cmd("MAIL FROM:<probe@relay-source.test>").code == 250
        assert conn.cmd(f"RCPT TO:<someone@{SERVED}>").code == 250
    accepted = {k: v for k, v in results.items() if v.code // 100 != 5}
    assert not accepted, "relay probes not refused with 5xx:\n" + "\n".join(
        f"  MAIL FROM:{s} RCPT TO:<{a}> -> {r.code} {r.text}" for (s, a), r in accepted.items())
    # Relay refusals say so (the syntax errors of unparseable forms are 501).
    for (sender, address), reply in results.items():
        assert reply.code in (501, 550, 553, 554), (address, reply)
    time.sleep(0.5)
    assert sink.messages() == [], "a relay probe reached the back-end"


@pytest.mark.parametrize("form", FORMS)
def test_relay_probe_form_refused_and_data_refused(relay_gateway, form):
    """One probe per connection, then DATA anyway: nothing may reach the back-end."""
    sink, gh = relay_gateway
    address = expand(form, SERVED)
    with SmtpConn(gh.port) as conn:
        conn.ehlo("probe.test")
        assert conn.cmd("MAIL FROM:<probe@relay-source.test>").code == 250
        reply = conn.cmd(f"RCPT TO:<{address}>")
        assert reply.code // 100 == 5, f"RCPT TO:<{address}> -> {reply.code} {reply.text}"
        reply = conn.cmd("DATA")
        assert reply.code // 100 == 5, f"DATA after refused probe -> {reply}"
        conn.send("Subject: probe\r\n\r\nprobe\r\n.\r\n")
        # Whatever the server makes of these lines, none may be a 250 for a message.
        conn.send("QUIT\r\n")
        assert conn.wait_closed()
        assert b"2.0.0 Ok: queued" not in conn.buffer, conn.buffer
    time.sleep(0.3)
    assert sink.messages() == []


def test_relay_denied_text(relay_gateway):
    sink, gh = relay_gateway
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        conn.cmd("MAIL FROM:<a@b.test>")
        reply = conn.cmd(f"RCPT TO:<victim@{FOREIGN}>")
        assert reply.code == 554 and reply.text.startswith("5.7.1") and "Relay access denied" in reply.text, reply
        assert re.search(r"\(ID:[0-9A-Z]{14}\)", reply.text)


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
def test_nmap_smtp_open_relay_finds_nothing(relay_gateway):
    sink, gh = relay_gateway
    # "+" runs the script although the port is not a well-known SMTP port (its portrule would skip it).
    result = subprocess.run(["nmap", "-n", "-Pn", "-p", str(gh.port), "--script", "+smtp-open-relay",
                             "--script-args", f"smtp-open-relay.domain={FOREIGN},smtp-open-relay.ip={IP}", IP],
                            capture_output=True, text=True, timeout=180)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "smtp-open-relay" in out, f"the script did not run:\n{out}"
    assert "Server is an open relay" not in out, out
    assert "Server doesn't seem to be an open relay, all tests failed" in out, out
    time.sleep(0.3)
    assert sink.messages() == [], "nmap's probes reached the back-end"
