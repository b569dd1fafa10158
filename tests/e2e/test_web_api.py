"""The web administration's JSON API against the real daemon (src/web): accounts made with
`gatehouse admin add`, no access without a session (every route of the OpenAPI document that is
not public answers 401), wrong passwords and the login rate limit (429), CSRF-less changes
refused (403), a domain administrator who sees nothing of other domains, a message sent through
the gateway found by search with its score breakdown and raw source, hostile text returned as
escaped JSON, the audit log, /metrics counting the message, and malformed HTTP answered 4xx."""
import http.client
import json
import re
import socket
import ssl
import time
import urllib.parse

import pytest

from conftest import ROOT, build_message, make_self_signed_cert, send_message, wait_for_port, wait_until

PASSWORD = "correct horse battery"
EVE_PASSWORD = "eve's long password"


class Client:
    """A small HTTP client for one daemon's web listener, keeping the session cookie."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, csrf=True, cookie=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if cookie and self.cookie:
            headers["Cookie"] = self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self.csrf
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        response.data = data
        return response

    def json(self, method, path, **kwargs):
        response = self.request(method, path, **kwargs)
        assert response.getheader("Content-Type") == "application/json", response.getheader("Content-Type")
        return response.status, json.loads(response.data)

    def login(self, username, password):
        response = self.request("POST", "/api/v1/session", {"username": username, "password": password})
        if response.status == 200:
            set_cookie = response.getheader("Set-Cookie")
            self.cookie = set_cookie.split(";", 1)[0]
            self.csrf = json.loads(response.data)["csrf_token"]
        return response


@pytest.fixture
def web(smtp_sink, start_gatehouse, tmp_path):
    """A gateway serving example.test and other.test (both to a sink), an administrator `root` and
    a domain administrator `eve` of other.test; the browser interface from web/dist when it is built."""
    sink = smtp_sink()
    backend = f"smtp:127.0.0.1:{sink.port}"
    dist = ROOT / "web" / "dist"
    gh = start_gatehouse([
        {"name": "example.test", "backend": backend, "recipients": "list", "addresses": ["alice@example.test"]},
        {"name": "other.test", "backend": backend, "recipients": "list", "addresses": ["carol@other.test"]},
    ], sections={"web": {"static_dir": str(dist)}} if (dist / "index.html").is_file() else None)
    password_file = tmp_path / "root.password"
    password_file.write_text(PASSWORD + "\n")
    gh.cli("admin", "add", "root", "--password-file", str(password_file))
    # The password on standard input (not a terminal) works too.
    gh.cli("admin", "add", "eve", "--domain", "other.test", input=(EVE_PASSWORD + "\n").encode())
    wait_for_port(gh.web_port, timeout=10)
    gh.sink = sink
    return gh


def openapi_operations(client):
    status, document = client.json("GET", "/api/v1/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.0")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation.get("security", document.get("security")) == []


def test_admin_cli_adds_lists_and_refuses(web, tmp_path):
    listing = web.cli("admin", "list").stdout.decode()
    assert re.search(r"root\s+admin\s+\(all\)", listing), listing
    assert re.search(r"eve\s+domain_admin\s+other\.test", listing), listing
    # Never a password on the command line; a short one is refused; a taken name is refused.
    short = tmp_path / "short"
    short.write_text("short\n")
    result = web.cli("admin", "add", "mallory", "--password-file", str(short), check=False)
    assert result.returncode != 0 and b"at least" in result.stderr, result.stderr
    again = web.cli("admin", "add", "root", input=b"another long password\n", check=False)
    assert again.returncode != 0 and b"already exists" in again.stderr
    result = web.cli("admin", "add", "bad name", input=b"another long password\n", check=False)
    assert result.returncode != 0


def test_openapi_lists_the_routes_and_nothing_is_open_without_login(web):
    client = Client(web.web_port)
    operations = list(openapi_operations(client))
    listed = {(method, path) for method, path, _ in operations}
    assert {("POST", "/api/v1/session"), ("GET", "/api/v1/session"), ("DELETE", "/api/v1/session"),
            ("GET", "/api/v1/messages"), ("GET", "/api/v1/messages/{id}"), ("GET", "/api/v1/messages/{id}/raw"),
            ("GET", "/api/v1/audit"), ("GET", "/api/v1/openapi.json"), ("GET", "/metrics"),
            ("GET", "/api/v1/users"), ("POST", "/api/v1/users"), ("DELETE", "/api/v1/users/{id}")} <= listed
    # (that every route of the daemon is documented, and nothing more, is checked by the unit
    # tests, ApiTest.TheOpenApiDocumentListsExactlyTheRoutes, against the route table itself)
    checked = 0
    for method, path, public in operations:
        if public:
            continue
        response = client.request(method, path.replace("{id}", "ANYID"))
        assert response.status == 401, (method, path, response.status, response.data)
        assert json.loads(response.data) == {"error": "not logged in"}
        checked += 1
    assert checked == sum(1 for _, _, public in operations if not public) >= 9
    # A forged cookie is no better.
    client.cookie = "gatehouse_session=" + "A" * 43
    assert client.request("GET", "/api/v1/messages").status == 401


def test_login_logout_and_wrong_password(web):
    client = Client(web.web_port)
    response = client.login("root", "not the password")
    assert response.status == 401
    assert json.loads(response.data) == {"error": "wrong user name or password"}
    assert client.login("nobody", PASSWORD).status == 401
    response = client.login("root", PASSWORD)
    assert response.status == 200, response.data
    cookie = response.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    body = json.loads(response.data)
    assert body["username"] == "root" and body["role"] == "admin" and body["domains"] == []
    status, who = client.json("GET", "/api/v1/session")
    assert status == 200 and who["username"] == "root" and who["csrf_token"] == client.csrf
    assert client.request("DELETE", "/api/v1/session").status == 204
    assert client.request("GET", "/api/v1/session").status == 401
    assert 'login failed for user "root" from 127.0.0.1: wrong password' in web.log()
    assert 'login failed for user "nobody" from 127.0.0.1: no such user' in web.log()


def test_login_rate_limit(web):
    client = Client(web.web_port)
    for _ in range(5):
        assert client.login("root", "guess").status == 401
    response = client.login("root", PASSWORD)
    assert response.status == 429, response.data
    assert int(response.getheader("Retry-After")) > 0
    assert "error" in json.loads(response.data)
    assert "too many failed attempts" in web.log()


def test_change_without_csrf_token_is_refused(web):
    client = Client(web.web_port)
    assert client.login("root", PASSWORD).status == 200
    response = client.request("DELETE", "/api/v1/session", csrf=False)
    assert response.status == 403
    assert "X-CSRF-Token" in json.loads(response.data)["error"]
    response = client.request("DELETE", "/api/v1/session", csrf=False, headers={"X-CSRF-Token": "forged"})
    assert response.status == 403
    assert client.request("GET", "/api/v1/session").status == 200, "the session survived"
    assert client.request("DELETE", "/api/v1/session").status == 204


def test_message_found_with_score_breakdown_and_raw_source(web):
    subject = "Invoice <script>alert('x')</script> & more"
    message = build_message(subject, sender="billing@remote.test", to="alice@example.test",
                            body="Please find the invoice.\r\n", message_id="<invoice-2026-11@remote.test>")
    sent = send_message(web.port, "alice@example.test", message=message, sender="billing@remote.test")
    assert sent.code == 250 and sent.id, sent
    relay = send_message(web.port, "victim@elsewhere.test", "relay", sender="spammer@bad.test")
    assert relay.code == 554, relay
    web.wait_for_row(sent.id)
    web.wait_for_row(relay.id)

    client = Client(web.web_port)
    assert client.login("root", PASSWORD).status == 200
    query = urllib.parse.urlencode({"subject": "<script>"})
    response = client.request("GET", f"/api/v1/messages?{query}")
    assert response.status == 200
    # Hostile text comes back escaped in JSON: never raw markup, never sniffed as HTML.
    assert b"<script>" not in response.data and b"\\u003cscript\\u003e" in response.data, response.data[:400]
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "default-src 'none'" in response.getheader("Content-Security-Policy")
    page = json.loads(response.data)
    assert [m["id"] for m in page["messages"]] == [sent.id]
    assert page["messages"][0]["subject"] == subject
    assert page["next"] is None

    status, page = client.json("GET", "/api/v1/messages?" + urllib.parse.urlencode(
        {"sender": "billing@remote.test", "recipient": "alice@example.test", "client_ip": "127.0.0.1",
         "from": "-1h"}))
    assert status == 200 and [m["id"] for m in page["messages"]] == [sent.id]
    # Delivered, tagged or not (the score of this test's message is not the point).
    disposition = page["messages"][0]["disposition"]
    assert disposition in ("accept", "tag")
    status, page = client.json("GET", f"/api/v1/messages?disposition={disposition}&from=-1h")
    assert [m["id"] for m in page["messages"]] == [sent.id]
    status, page = client.json("GET", "/api/v1/messages?disposition=reject&reason=relay")
    assert status == 200 and [m["id"] for m in page["messages"]] == [relay.id]
    status, page = client.json("GET", f"/api/v1/messages?id={sent.id.lower()}")
    assert [m["id"] for m in page["messages"]] == [sent.id]
    # Pages of one, with a cursor.
    status, first = client.json("GET", "/api/v1/messages?limit=1")
    assert status == 200 and len(first["messages"]) == 1 and first["next"]
    status, second = client.json("GET", "/api/v1/messages?limit=1&before=" + urllib.parse.quote(first["next"]))
    assert len(second["messages"]) == 1 and second["messages"][0]["id"] != first["messages"][0]["id"]

    status, detail = client.json("GET", f"/api/v1/messages/{sent.id}")
    assert status == 200
    assert detail["mail_from"] == "billing@remote.test" and detail["recipients"] == ["alice@example.test"]
    assert detail["disposition"] == disposition and detail["delivery_status"] == "delivered"
    assert detail["delivery_attempts"] >= 1
    assert isinstance(detail["score"], (int, float))
    assert detail["checks"], "the score breakdown lists the checks that ran"
    for check in detail["checks"]:
        assert set(check) == {"name", "score", "detail"}
    assert sum(c["score"] for c in detail["checks"]) == pytest.approx(detail["score"])
    names = [h["name"] for h in detail["headers"]]
    assert names[0] == "Received" and "Subject" in names and "X-Gatehouse-Score" in names
    tag = "[SPAM?] " if disposition == "tag" else ""
    assert {"name": "Subject", "value": tag + subject} in detail["headers"]

    raw = client.request("GET", detail["raw_url"])
    assert raw.status == 200
    assert raw.getheader("Content-Type") == "message/rfc822"
    assert f'filename="{sent.id}.eml"' in raw.getheader("Content-Disposition")
    # What was sent, below the header fields gatehouse adds (Received on top; score and
    # Authentication-Results below it).
    assert raw.data.startswith(b"Received: from ")
    head, _, body = message.partition(b"\r\n\r\n")
    raw_head, _, raw_body = raw.data.partition(b"\r\n\r\n")
    assert raw_body == body
    for line in head.split(b"\r\n"):
        if line.startswith(b"Subject: ") and tag:
            line = b"Subject: " + tag.encode() + line[9:]
        assert line in raw_head.split(b"\r\n"), line
    added = [line.split(b":")[0] for line in raw_head.split(b"\r\n") if line not in head.split(b"\r\n")
             and not line.startswith((b" ", b"\t", b"Subject: "))]
    assert set(added) <= {b"Received", b"X-Gatehouse-Score", b"X-Gatehouse-Checks", b"Authentication-Results"}, added
    # And the back-end got the same bytes.
    delivered = wait_until(lambda: [t for t in web.sink.texts() if "Invoice" in t], timeout=10, message="delivery")
    assert "Please find the invoice." in delivered[0]

    assert client.request("GET", "/api/v1/messages/NOSUCHID").status == 404
    assert client.request("GET", "/api/v1/messages?limit=9999").status == 400
    assert client.request("GET", "/api/v1/messages?when=now").status == 400


def test_domain_administrator_sees_nothing_of_other_domains(web):
    mine = send_message(web.port, "carol@other.test", "for carol")
    theirs = send_message(web.port, "alice@example.test", "for alice")
    refused = send_message(web.port, "nobody@example.test", "unknown at example.test")
    assert mine.code == 250 and theirs.code == 250 and refused.code == 550, (mine, theirs, refused)
    for sent in (mine, theirs, refused):
        web.wait_for_row(sent.id)

    eve = Client(web.web_port)
    response = eve.login("eve", EVE_PASSWORD)
    assert response.status == 200
    assert json.loads(response.data)["domains"] == ["other.test"]
    status, page = eve.json("GET", "/api/v1/messages")
    assert status == 200 and [m["id"] for m in page["messages"]] == [mine.id]
    for query in ({"recipient": "example.test"}, {"id": theirs.id}, {"id": refused.id}, {"subject": "alice"}):
        status, page = eve.json("GET", "/api/v1/messages?" + urllib.parse.urlencode(query))
        assert status == 200 and page["messages"] == [], query
    for sent in (theirs, refused):
        assert eve.request("GET", f"/api/v1/messages/{sent.id}").status == 404
        assert eve.request("GET", f"/api/v1/messages/{sent.id}/raw").status == 404
    assert eve.request("GET", f"/api/v1/messages/{mine.id}").status == 200
    assert eve.request("GET", f"/api/v1/messages/{mine.id}/raw").status == 200
    assert eve.request("GET", "/api/v1/audit").status == 403

    root = Client(web.web_port)
    assert root.login("root", PASSWORD).status == 200
    status, page = root.json("GET", "/api/v1/messages")
    assert {m["id"] for m in page["messages"]} == {mine.id, theirs.id, refused.id}


def test_audit_log_and_removed_user_is_logged_out(web):
    eve = Client(web.web_port)
    assert eve.login("eve", EVE_PASSWORD).status == 200
    root = Client(web.web_port)
    assert root.login("root", PASSWORD).status == 200
    status, audit = root.json("GET", "/api/v1/audit")
    assert status == 200
    actions = [(e["username"], e["action"]) for e in audit["entries"]]
    assert actions[:2] == [("root", "login"), ("eve", "login")]
    assert ("user.add" in {a for _, a in actions})
    assert all(e["client_ip"] == "127.0.0.1" for e in audit["entries"] if e["action"] == "login")
    cli = [e for e in audit["entries"] if e["action"] == "user.add"]
    assert {e["detail"].split()[0] for e in cli} == {"root", "eve"} and cli[0]["username"].startswith("cli:")

    web.cli("admin", "remove", "eve")
    assert eve.request("GET", "/api/v1/session").status == 401
    status, audit = root.json("GET", "/api/v1/audit?limit=1")
    assert audit["entries"][0]["action"] == "user.remove" and audit["next"]


def test_accounts_through_the_api(web):
    """An administrator adds a domain administrator in the daemon, who logs in and sees only
    their domain; the CLI lists the new account; its removal ends its session; both changes are
    in the audit log. A domain administrator may not manage accounts."""
    root = Client(web.web_port)
    assert root.login("root", PASSWORD).status == 200
    eve = Client(web.web_port)
    assert eve.login("eve", EVE_PASSWORD).status == 200
    assert eve.request("GET", "/api/v1/users").status == 403
    assert eve.request("POST", "/api/v1/users", {"username": "zoe", "password": "zoe's long password"}).status == 403

    status, body = root.json("POST", "/api/v1/users", body={"username": "zoe", "password": "short"})
    assert status == 400 and "password" in body["error"]
    status, account = root.json("POST", "/api/v1/users",
                                body={"username": "zoe", "password": "zoe's long password", "domains": ["example.test"]})
    assert status == 201, account
    assert account["role"] == "domain_admin" and account["domains"] == ["example.test"]
    assert b"zoe" in web.cli("admin", "list").stdout

    zoe = Client(web.web_port)
    assert zoe.login("zoe", "zoe's long password").status == 200
    status, page = zoe.json("GET", "/api/v1/messages")
    assert status == 200
    status, users = root.json("GET", "/api/v1/users")
    assert {u["username"] for u in users["users"]} == {"root", "eve", "zoe"}
    assert b"argon2" not in root.request("GET", "/api/v1/users").data

    assert root.request("DELETE", "/api/v1/users/root").status == 409
    assert root.request("DELETE", "/api/v1/users/zoe").status == 204
    assert zoe.request("GET", "/api/v1/messages").status == 401
    status, audit = root.json("GET", "/api/v1/audit")
    actions = [(e["username"], e["action"], e["detail"]) for e in audit["entries"]]
    assert ("root", "user.remove", "zoe") in actions
    assert ("root", "user.add", "zoe (domain administrator of example.test)") in actions


def test_metrics_count_the_message(web):
    client = Client(web.web_port)
    before = client.request("GET", "/metrics")
    assert before.status == 200, "loopback reads /metrics without logging in"
    assert before.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    sent = send_message(web.port, "alice@example.test", "counted")
    relay = send_message(web.port, "victim@elsewhere.test", "relay", sender="spammer@bad.test")
    assert sent.code == 250 and relay.code == 554
    web.wait_for_row(relay.id)
    text = client.request("GET", "/metrics").data.decode()
    assert re.search(r'^gatehouse_messages_total\{direction="inbound",disposition="(accept|tag)",reason=""\} 1$', text, re.M), text
    assert re.search(r'^gatehouse_messages_total\{direction="inbound",disposition="reject",reason="relay denied"\} 1$',
                     text, re.M), text
    assert re.search(r"^gatehouse_transaction_seconds_count 2$", text, re.M), text
    assert re.search(r'^gatehouse_check_seconds_bucket\{check="[a-z_]+",le="\+Inf"\} \d+$', text, re.M), text
    assert re.search(r"^gatehouse_queue_depth 0$", text, re.M), text
    assert re.search(rf'^gatehouse_backend_up\{{backend="smtp:127.0.0.1:{web.sink.port}"\}} 1$', text, re.M), text
    assert "# TYPE gatehouse_dns_errors_total counter" in text
    assert re.search(r'^gatehouse_http_requests_total\{status="200"\} \d+$', text, re.M), text


def raw_http(port, data, read=65536):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = b""
        try:
            while True:
                chunk = s.recv(read)
                if not chunk:
                    break
                chunks += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return chunks


def test_malformed_and_oversized_requests_get_json_4xx(web):
    garbage = raw_http(web.web_port, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400"), garbage[:200]
    assert b'{"error":' in garbage
    huge_header = raw_http(web.web_port, b"GET /api/v1/session HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert huge_header.startswith(b"HTTP/1.1 431"), huge_header[:200]
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    big_body = raw_http(web.web_port, b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert big_body.startswith(b"HTTP/1.1 413"), big_body[:200]
    client = Client(web.web_port)
    response = client.request("POST", "/api/v1/session", body="username=root", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    assert client.request("GET", "/api/v1/no/such/page").status == 404
    response = client.request("PUT", "/api/v1/messages")
    assert response.status == 405 and response.getheader("Allow") == "GET"
    assert "web: bad request from 127.0.0.1" in web.log()
    # Keep-alive: two requests on one connection.
    connection = http.client.HTTPConnection("127.0.0.1", web.web_port, timeout=10)
    for _ in range(2):
        connection.request("GET", "/api/v1/openapi.json")
        assert connection.getresponse().read().startswith(b"{")
    connection.close()


def test_https_when_a_certificate_is_configured(smtp_sink, start_gatehouse, tmp_path):
    cert, key = make_self_signed_cert(tmp_path)
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"web": {"tls_certificate": str(cert), "tls_key": str(key)}})
    gh.cli("admin", "add", "root", input=(PASSWORD + "\n").encode())
    wait_for_port(gh.web_port, timeout=10)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    connection = http.client.HTTPSConnection("127.0.0.1", gh.web_port, context=context, timeout=20)
    connection.request("POST", "/api/v1/session", body=json.dumps({"username": "root", "password": PASSWORD}),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert "; Secure" in response.getheader("Set-Cookie"), "the cookie is Secure under TLS"
    assert connection.sock.version().startswith("TLSv1."), connection.sock.version()
    connection.close()
    assert "web: listening on https://127.0.0.1:" in gh.log()
    # Plain HTTP to it gets no answer.
    assert not raw_http(gh.web_port, b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_connection_cap(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"web": {"max_connections": 2, "read_timeout": "5s"}})
    wait_for_port(gh.web_port, timeout=10)
    time.sleep(0.3)  # the probe's connection has ended
    idle = [socket.create_connection(("127.0.0.1", gh.web_port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.3)
        refused = raw_http(gh.web_port, b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
        assert b'{"error":' in refused
    finally:
        for s in idle:
            s.close()
    wait_until(lambda: raw_http(gh.web_port, b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
               .startswith(b"HTTP/1.1 200"), timeout=10, message="served again")
    assert "web.max_connections" in gh.log()
