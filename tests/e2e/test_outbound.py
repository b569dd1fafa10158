"""Outbound relay: a client in trusted_networks may send to domains gatehouse does not serve, and
the message is delivered by MX lookup (fixture DNS: outbound.test MX mx.outbound.test -> 127.0.0.1,
on outbound_port where an smtp-sink listens). A client outside trusted_networks gets 554 5.7.1.
The untrusted client is simulated on a PROXY-protocol listener, so all traffic stays on 127.0.0.1."""
from conftest import SmtpConn, free_port_number, send_message, sink_subjects, wait_for_port, wait_until


def test_trusted_client_outbound_via_mx_and_untrusted_refused(fixture_dns, smtp_sink, start_gatehouse):
    inbound = smtp_sink(name="inbound")
    mx = smtp_sink(name="mx")
    proxy_port = free_port_number()
    gh = start_gatehouse(
        [{"name": "example.test", "backend": f"smtp:127.0.0.1:{inbound.port}", "recipients": "any"}],
        server={"trusted_networks": ["127.0.0.1/32"]},
        sections={"dns": {"nameservers": [f"127.0.0.1:{fixture_dns}"]},
                  "delivery": {"outbound_port": mx.port}},
        listeners=[{"address": f"127.0.0.1:{proxy_port}", "proxy_protocol": True}])
    wait_for_port(proxy_port)

    result = send_message(gh.port, "someone@outbound.test", "outbound via mx", sender="alice@example.test")
    assert result.code == 250, result
    wait_until(lambda: "outbound via mx" in sink_subjects(mx), timeout=15, message="outbound message at the MX")
    assert sink_subjects(inbound) == []
    text = [t for t in mx.texts() if "outbound via mx" in t][0]
    assert "X-Rcpt-Args: <someone@outbound.test>" in text and "X-Mail-Args: <alice@example.test>" in text
    row = gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "delivered")
    assert row["direction"] == "outbound", row

    # The same recipient from an address outside trusted_networks: relay access denied.
    with SmtpConn(proxy_port, greet=False) as conn:
        conn.send(b"PROXY TCP4 192.0.2.55 127.0.0.1 40000 25\r\n")
        assert conn.reply().code == 220
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<alice@example.test>").code == 250
        refused = conn.cmd("RCPT TO:<someone@outbound.test>")
        assert refused.code == 554 and "5.7.1" in refused.text, refused
        conn.cmd("QUIT")
    rows = wait_until(lambda: gh.log_rows("--ip", "192.0.2.55"), timeout=5, message="log row of the refused client")
    assert rows[0]["disposition"] == "reject" and rows[0]["recipients"] == [], rows
