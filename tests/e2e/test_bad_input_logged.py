"""Bad input gets a clear reply *and* is logged: a connection that sent garbage leaves one log line
naming the client and the number of protocol errors."""
from conftest import SmtpConn, wait_until


def test_protocol_errors_are_logged_per_connection(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        assert conn.cmd("FROBNICATE now").code == 500
        assert conn.cmd("MAIL FROM:<broken").code == 501
        assert conn.cmd("QUIT").code == 221
    line = wait_until(lambda: [l for l in gh.log().splitlines() if "protocol_errors=" in l], timeout=10,
                      message="protocol error log line")[0]
    assert "client=127.0.0.1" in line and "protocol_errors=2" in line, line
