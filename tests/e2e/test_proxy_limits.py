"""HAProxy PROXY protocol v1/v2 on a listener that enables it (the logged client_ip is the header's
address; a connection without a valid header is closed), and the connection limits: per-IP
concurrency (421 4.7.0) and the command timeout (421 4.4.2)."""
import re
import socket
import struct
import time

import pytest

from conftest import SmtpConn, free_port_number, wait_until

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src, dst, sport, dport):
    if ":" in src:
        family, addresses = 0x21, socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    else:
        family, addresses = 0x11, socket.inet_aton(src) + socket.inet_aton(dst)
    block = addresses + struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(block)) + block


def domain(sink):
    return {"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
            "addresses": ["alice@example.test"]}


# The session's fixture DNS server (conftest): the made-up client addresses have no PTR (NXDOMAIN).
DNS = {}


@pytest.fixture
def proxy_gateway(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    proxy_port = free_port_number()
    gh = start_gatehouse([domain(sink)], sections=DNS,
                         listeners=[{"address": f"127.0.0.1:{proxy_port}", "proxy_protocol": True}])
    gh.proxy_port = proxy_port
    return sink, gh


def deliver_through_proxy(port, header, subject, split=False):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if split:  # the header in two TCP writes
        sock.sendall(header[:7])
        time.sleep(0.2)
        sock.sendall(header[7:])
    else:
        sock.sendall(header)
    with SmtpConn(port, sock=sock) as conn:
        assert conn.greeting.code == 220, conn.greeting
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send(f"Subject: {subject}\r\nFrom: <sender@remote.test>\r\n\r\nbody\r\n.\r\n")
        reply = conn.reply()
        assert reply.code == 250, reply
        return re.search(r"\(ID:([0-9A-Z]{14})\)", reply.text).group(1)


@pytest.mark.parametrize("version,address", [("v1", "192.0.2.7"), ("v1", "2001:db8::7"), ("v2", "198.51.100.9"),
                                             ("v2", "2001:db8::9")])
def test_proxy_protocol_client_ip_logged(proxy_gateway, version, address):
    sink, gh = proxy_gateway
    if version == "v1":
        family = "TCP6" if ":" in address else "TCP4"
        dst = "::1" if ":" in address else "127.0.0.1"
        header = f"PROXY {family} {address} {dst} 40001 25\r\n".encode()
    else:
        header = proxy_v2(address, "::1" if ":" in address else "127.0.0.1", 40002, 25)
    transaction_id = deliver_through_proxy(gh.proxy_port, header, f"proxied {version}", split=version == "v2")
    row = gh.wait_for_row(transaction_id)
    assert row["client_ip"] == address, f"logged client_ip {row['client_ip']!r}, PROXY header said {address}"
    rows = gh.log_rows("--ip", address)
    assert [r["id"] for r in rows] == [transaction_id]
    wait_until(lambda: sink.messages(), message="message at the sink")
    assert f"[{address}]" in sink.texts()[0]  # our Received header names the real client


def test_proxy_v2_local_keeps_peer_address(proxy_gateway):
    sink, gh = proxy_gateway
    header = V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)  # LOCAL: health check
    transaction_id = deliver_through_proxy(gh.proxy_port, header, "local command")
    assert gh.wait_for_row(transaction_id)["client_ip"] == "127.0.0.1"


@pytest.mark.parametrize("first_bytes", [
    b"EHLO client.test\r\n",
    b"PROXY TCP4 not-an-ip 127.0.0.1 1 25\r\n",
    b"PROXY TCP4 192.0.2.1 127.0.0.1 99999 25\r\n",
    b"PROXY TCP4 192.0.2.1 127.0.0.1 1 25\n",
    V2_SIGNATURE + bytes([0x21, 0x77]) + struct.pack("!H", 12) + b"\x00" * 12,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,  # a TLS ClientHello
], ids=["smtp", "bad-ip", "bad-port", "bare-lf", "v2-bad-family", "tls"])
def test_connection_without_valid_proxy_header_closed(proxy_gateway, first_bytes):
    sink, gh = proxy_gateway
    sock = socket.create_connection(("127.0.0.1", gh.proxy_port), timeout=10)
    sock.sendall(first_bytes)
    conn = SmtpConn(gh.proxy_port, sock=sock, greet=False)
    assert conn.wait_closed(timeout=5), "connection without a valid PROXY header not closed"
    assert not conn.buffer.startswith(b"220"), f"SMTP greeting sent without a PROXY header: {conn.buffer!r}"
    conn.close()
    # The plain listener does not expect a header.
    with SmtpConn(gh.port) as plain:
        assert plain.greeting.code == 220
        plain.ehlo()


def test_proxy_header_on_plain_listener_is_not_trusted(proxy_gateway):
    sink, gh = proxy_gateway
    sock = socket.create_connection(("127.0.0.1", gh.port), timeout=10)
    with SmtpConn(gh.port, sock=sock) as conn:
        reply = conn.cmd("PROXY TCP4 203.0.113.5 127.0.0.1 40000 25")
        assert reply.code == 500, reply
        conn.ehlo()
        assert conn.cmd("MAIL FROM:<sender@remote.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("DATA").code == 354
        conn.send("Subject: plain\r\n\r\nbody\r\n.\r\n")
        transaction_id = re.search(r"\(ID:([0-9A-Z]{14})\)", conn.reply().text).group(1)
    assert gh.wait_for_row(transaction_id)["client_ip"] == "127.0.0.1"


# --- connection limits --------------------------------------------------------------------------

def test_max_connections_per_ip(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], server={"max_connections_per_ip": 2}, sections=DNS)

    # The start-up readiness probe's connection may still be counted for a moment: retry until two
    # are admitted together (bounded), then the limit must hold.
    def two_admitted():
        a, b = SmtpConn(gh.port), SmtpConn(gh.port)
        if a.greeting.code == 220 and b.greeting.code == 220:
            return a, b
        a.close()
        b.close()
        return None
    first, second = wait_until(two_admitted, timeout=10, interval=0.2, message="two connections admitted")
    try:
        assert first.greeting.code == 220 and second.greeting.code == 220
        third = SmtpConn(gh.port, greet=False)
        reply = third.reply()
        assert reply.code == 421 and reply.text.startswith("4.7.0"), reply
        assert third.wait_closed(), "third connection not closed after 421"
        third.close()
        # The first two still work.
        first.ehlo()
        second.ehlo()
        # When one ends, a new one is admitted.
        assert first.cmd("QUIT").code == 221
        first.close()

        def admitted():
            with SmtpConn(gh.port) as c:
                return c.greeting.code == 220
        wait_until(admitted, timeout=10, interval=0.2, message="a new connection admitted after one closed")
    finally:
        first.close()
        second.close()


def test_max_connections_per_ip_counts_proxied_address(smtp_sink, start_gatehouse):
    """Behind a load balancer the limit applies to the real client, not the balancer."""
    sink = smtp_sink()
    proxy_port = free_port_number()
    gh = start_gatehouse([domain(sink)], server={"max_connections_per_ip": 1}, sections=DNS,
                         listeners=[{"address": f"127.0.0.1:{proxy_port}", "proxy_protocol": True}])
    conns = []
    try:
        for ip in ("192.0.2.1", "192.0.2.2"):
            sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
            sock.sendall(f"PROXY TCP4 {ip} 127.0.0.1 1000 25\r\n".encode())
            conns.append(SmtpConn(proxy_port, sock=sock))
            assert conns[-1].greeting.code == 220, (ip, conns[-1].greeting)
        sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
        sock.sendall(b"PROXY TCP4 192.0.2.1 127.0.0.1 1001 25\r\n")
        conns.append(SmtpConn(proxy_port, sock=sock))
        assert conns[-1].greeting.code == 421, conns[-1].greeting
    finally:
        for c in conns:
            c.close()


def test_max_connections_total(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], server={"max_connections": 3}, sections=DNS)
    # The start-up probe's connection counts until the server has seen it close: wait (bounded)
    # until three of ours are all greeted.
    for _ in range(25):
        conns = [SmtpConn(gh.port) for _ in range(3)]
        if all(c.greeting.code == 220 for c in conns):
            break
        for c in conns:
            c.close()
        time.sleep(0.2)
    try:
        assert all(c.greeting.code == 220 for c in conns)
        extra = SmtpConn(gh.port, greet=False)
        reply = extra.reply()
        assert reply.code == 421 and reply.text.startswith("4.7.0"), reply
        extra.close()
    finally:
        for c in conns:
            c.close()


def test_command_timeout_421(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], server={"command_timeout": "2s"}, sections=DNS)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        started = time.monotonic()
        reply = conn.reply(timeout=10)
        elapsed = time.monotonic() - started
        assert reply.code == 421 and reply.text.startswith("4.4.2"), reply
        assert 1.5 <= elapsed <= 6, f"timeout after {elapsed:.1f}s, configured 2s"
        assert conn.wait_closed(), "connection not closed after the timeout"
    # An idle client mid-transaction times out too, and its transaction is not delivered.
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        conn.cmd("MAIL FROM:<sender@remote.test>")
        conn.cmd("RCPT TO:<alice@example.test>")
        reply = conn.reply(timeout=10)
        assert reply.code == 421, reply
    time.sleep(0.3)
    assert sink.messages() == []


def test_data_timeout_421(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], server={"data_timeout": "2s"}, sections=DNS)
    with SmtpConn(gh.port) as conn:
        conn.ehlo()
        conn.cmd("MAIL FROM:<sender@remote.test>")
        conn.cmd("RCPT TO:<alice@example.test>")
        assert conn.cmd("DATA").code == 354
        conn.send("Subject: never finished\r\n\r\npartial")
        reply = conn.reply(timeout=10)
        assert reply.code == 421 and reply.text.startswith("4.4.2"), reply
    time.sleep(0.5)
    assert sink.messages() == [], "a message whose DATA timed out was delivered"
