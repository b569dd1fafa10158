"""LMTP back-end (RFC 2033) with a real Dovecot LMTP server, over TCP and over a Unix socket:
delivery into the users' Maildirs, per-recipient replies, and recipients = "backend" passing
Dovecot's own refusal of an unknown user through at RCPT."""
from conftest import SmtpConn, send_message


def test_lmtp_tcp_and_unix_socket_into_dovecot_maildirs(dovecot_lmtp, start_gatehouse):
    dovecot = dovecot_lmtp(["alice@lmtp.test", "bob@lmtp.test", "carol@sock.test"])
    gh = start_gatehouse([
        {"name": "lmtp.test", "backend": f"lmtp:127.0.0.1:{dovecot.port}", "recipients": "backend"},
        {"name": "sock.test", "backend": f"lmtp:{dovecot.socket_path}", "recipients": "backend"},
    ])

    one = send_message(gh.port, "alice@lmtp.test", "lmtp over tcp")
    assert one.code == 250, (one, dovecot.log()[-1500:])
    [path] = dovecot.delivered("alice@lmtp.test")
    content = path.read_bytes()
    assert b"Subject: lmtp over tcp" in content and f"id {one.id}".encode() in content

    # Two recipients in one transaction: one LMTP reply each, both delivered.
    both = send_message(gh.port, ["alice@lmtp.test", "bob@lmtp.test"], "to both")
    assert both.code == 250, both
    assert len(dovecot.delivered("alice@lmtp.test")) == 2 and len(dovecot.delivered("bob@lmtp.test")) == 1
    assert gh.wait_for_row(both.id)["delivery_status"] == "delivered"

    sock = send_message(gh.port, "carol@sock.test", "lmtp over a unix socket")
    assert sock.code == 250, (sock, dovecot.log()[-1500:])
    [path] = dovecot.delivered("carol@sock.test")
    assert b"Subject: lmtp over a unix socket" in path.read_bytes()
    row = gh.wait_for_row(sock.id)
    assert row["backend"] == f"lmtp:{dovecot.socket_path}" and row["delivery_status"] == "delivered", row


def test_lmtp_unknown_user_refused_at_rcpt_with_backend_answer(dovecot_lmtp, start_gatehouse):
    dovecot = dovecot_lmtp(["alice@lmtp.test"])
    gh = start_gatehouse([{"name": "lmtp.test", "backend": f"lmtp:127.0.0.1:{dovecot.port}", "recipients": "backend"}])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        unknown = conn.cmd("RCPT TO:<nosuchuser@lmtp.test>")
        assert unknown.code == 550, unknown
        assert "5.1.1" in unknown.text and "doesn't exist" in unknown.text, unknown  # Dovecot's own words
        assert "(ID:" in unknown.text
        known = conn.cmd("RCPT TO:<alice@lmtp.test>")
        assert known.code == 250, known
        assert conn.cmd("DATA").code == 354
        conn.send(b"Subject: after a refused recipient\r\n\r\nHello.\r\n.\r\n")
        assert conn.reply().code == 250
        conn.cmd("QUIT")
    assert len(dovecot.delivered("alice@lmtp.test")) == 1
    assert not (dovecot.mail_dir / "nosuchuser@lmtp.test").exists()
