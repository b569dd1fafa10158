"""STARTTLS end to end (RFC 3207): a self-signed certificate made with the openssl CLI, swaks --tls
delivering with ESMTPS in the Received header, a "required" listener refusing MAIL before STARTTLS,
and the STARTTLS command-injection attack (commands pipelined after STARTTLS in the clear must not be
executed after the handshake)."""
import re
import signal
import ssl
import subprocess

import pytest

from conftest import SmtpConn, free_port_number, make_self_signed_cert, run_swaks, wait_until


def client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
def tls_gateway(tmp_path, smtp_sink, start_gatehouse):
    cert, key = make_self_signed_cert(tmp_path)
    sink = smtp_sink()
    required_port = free_port_number()
    gh = start_gatehouse(
        [{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
          "addresses": ["alice@example.test"]}],
        sections={"tls": {"certificate": str(cert), "key": str(key), "starttls": "optional"}},
        listeners=[{"address": f"127.0.0.1:{required_port}", "starttls": "required"}])
    gh.required_port = required_port
    SmtpConn(required_port).close()  # listening too
    return sink, gh


def starttls(conn):
    assert conn.buffer == b""
    reply = conn.cmd("STARTTLS")
    assert reply.code == 220, reply
    assert conn.buffer == b"", f"plain-text bytes after the 220: {conn.buffer!r}"
    conn.sock = client_context().wrap_socket(conn.sock, server_hostname="gw.example.test")
    return conn


def test_ehlo_offers_starttls_and_swaks_tls_delivers(tls_gateway):
    sink, gh = tls_gateway
    with SmtpConn(gh.port) as conn:
        assert "STARTTLS" in conn.ehlo().lines
        starttls(conn)
        ehlo = conn.ehlo()
        assert "STARTTLS" not in ehlo.lines, "STARTTLS offered again inside TLS"
        assert conn.cmd("STARTTLS").code == 503
    result = run_swaks(gh.port, "--tls", "--to", "alice@example.test", "--from", "sender@remote.test",
                       "--header", "Subject: over tls")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TLS started" in result.stdout, result.stdout
    wait_until(lambda: sink.messages(), message="message at the sink")
    text = sink.texts()[0]
    received = re.search(r"Received: from .*?\(gatehouse\)[^;]*;", text, re.S)
    assert received, text[:800]
    assert "with ESMTPS id" in received.group(0), received.group(0)
    assert re.search(r"using TLSv1\.[23] with cipher \S+", received.group(0)), received.group(0)
    match = re.search(r"id ([0-9A-Z]{14})", received.group(0))
    row = gh.wait_for_row(match.group(1))
    assert row["tls"].startswith("TLSv1."), row


def test_required_listener_refuses_mail_before_starttls(tls_gateway):
    sink, gh = tls_gateway
    with SmtpConn(gh.required_port) as conn:
        assert "STARTTLS" in conn.ehlo().lines
        reply = conn.cmd("MAIL FROM:<sender@remote.test>")
        assert reply.code == 530 and reply.text.startswith("5.7.0"), reply
        starttls(conn)
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send("Subject: required tls\r\nFrom: <sender@remote.test>\r\n\r\nsecret\r\n.\r\n")
        assert conn.reply().code == 250
    # swaks without TLS on the required listener does not get mail through.
    result = run_swaks(gh.required_port, "--to", "alice@example.test", "--from", "sender@remote.test")
    assert result.returncode != 0 and "530" in result.stdout, result.stdout
    wait_until(lambda: sink.messages(), message="TLS message at the sink")
    texts = sink.texts()
    assert len(texts) == 1 and "Subject: required tls" in texts[0]


def test_optional_listener_accepts_plain_text_mail(tls_gateway):
    sink, gh = tls_gateway
    result = run_swaks(gh.port, "--to", "alice@example.test", "--from", "sender@remote.test")
    assert result.returncode == 0, result.stdout
    wait_until(lambda: sink.messages(), message="message at the sink")
    assert "with ESMTP id" in sink.texts()[0]


def test_starttls_command_injection_not_executed(tls_gateway):
    sink, gh = tls_gateway
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        # The injected commands travel in the same packet as STARTTLS, in the clear.
        conn.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@attacker.test>\r\n")
        reply = conn.reply()
        assert reply.code == 220, reply
        assert conn.buffer == b"", f"replies to injected commands in the clear: {conn.buffer!r}"
        conn.sock = client_context().wrap_socket(conn.sock, server_hostname="gw.example.test")
        # The first reply inside TLS must be the one to our EHLO, not to RSET or MAIL.
        conn.send(b"EHLO client.test\r\n")
        first = conn.reply()
        assert first.code == 250 and first.lines[0].startswith("gw.example.test"), \
            f"injected command executed after the handshake: {first}"
        assert "STARTTLS" not in first.lines
        # No transaction was opened by the injected MAIL.
        reply = conn.cmd("RCPT TO:<alice@example.test>")
        assert reply.code == 503, f"injected MAIL FROM was executed: {reply}"
        conn.send(b"NOOP\r\n")
        assert conn.reply().code == 250
        assert conn.buffer == b""


def test_starttls_after_mail_resets_transaction(tls_gateway):
    """RFC 3207 §4.2: after TLS the client must EHLO again; state from before is discarded."""
    sink, gh = tls_gateway
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        starttls(conn)
        reply = conn.cmd("MAIL FROM:<sender@remote.test>")
        assert reply.code == 503, f"MAIL accepted without EHLO after STARTTLS: {reply}"


def peer_certificate_subject(port):
    """The CN of the certificate gatehouse presents after STARTTLS (smtplib, no verification)."""
    import smtplib
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.ehlo("client.test")
        client.starttls(context=client_context())
        der = client.sock.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der, capture_output=True,
                         timeout=30, check=True)
    return out.stdout.decode()


def test_sighup_reloads_the_certificate(tmp_path, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    cert, key = make_self_signed_cert(tmp_path, cn="first.example.test")
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"tls": {"certificate": str(cert), "key": str(key), "starttls": "optional"}})
    assert "first.example.test" in peer_certificate_subject(gh.port)
    # Renewed certificate written in place (as certbot and friends do), then SIGHUP.
    renewed = tmp_path / "renewed"
    renewed.mkdir()
    new_cert, new_key = make_self_signed_cert(renewed, cn="second.example.test")
    cert.write_bytes(new_cert.read_bytes())
    key.write_bytes(new_key.read_bytes())
    gh.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "second.example.test" in peer_certificate_subject(gh.port), timeout=10,
               message="new certificate presented after SIGHUP")
    assert gh.process.poll() is None
