"""The browser interface (web/, built into web/dist) served by the real daemon, and driven in a real
browser: Debian's chromium under playwright-core (tests/browser/web_ui.mjs) logs in (a wrong
password first), finds a message sent through the gateway in the same test by its subject, opens
it and sees the score breakdown, pages through the log by the API's cursor, sees a Subject of
`<script>alert(1)</script>` as text with no dialog, and saves screenshots of every page under
build/artifacts/screenshots/. Without a browser: the daemon's static file serving (Content-Type,
Cache-Control, index.html for the interface's routes, no way out of the directory) and the
start-up error for a [web] static_dir without files."""
import http.client
import os
import pathlib
import shutil
import socket
import subprocess

import pytest

from conftest import ROOT, send_message, wait_for_port

PASSWORD = "correct horse battery"
WEB = ROOT / "web"
DIST = WEB / "dist"
SCREENSHOTS = ROOT / "build" / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def raw_get(port, target, method="GET", headers=()):
    """One request with the target exactly as given (no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers, "", ""]
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed = {}
    for field in fields:
        name, _, value = field.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, body


@pytest.fixture
def site(tmp_path):
    """A static directory of our own, with a secret beside it that must never be served."""
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>gatehouse test index</title>")
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('app');\n")
    (root / "assets" / "style-9f8e.css").write_text("body{}\n")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (root / ".hidden").write_text("hidden file\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-OUTSIDE\n")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    os.symlink(tmp_path, root / "up")
    return root


def test_static_files_served_with_types_caching_and_no_traversal(smtp_sink, start_gatehouse, site):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"web": {"static_dir": str(site)}})
    wait_for_port(gh.web_port, timeout=10)
    port = gh.web_port
    assert f"web: the browser interface from {site}" in gh.log()

    status, headers, body = raw_get(port, "/")
    assert status == 200 and b"gatehouse test index" in body
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    # Revalidation: the ETag answers 304 without a body.
    status, again, body = raw_get(port, "/", headers=[f"If-None-Match: {headers['etag']}"])
    assert status == 304 and body == b""

    # The interface's own routes get index.html (a reload of /messages/ID works).
    for target in ("/messages", "/messages/0123ABCD", "/login?next=%2Fmessages"):
        status, headers, body = raw_get(port, target)
        assert status == 200 and b"gatehouse test index" in body, target

    status, headers, body = raw_get(port, "/assets/app-1a2b3c.js")
    assert status == 200 and body == b"console.log('app');\n"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    status, headers, _ = raw_get(port, "/assets/style-9f8e.css")
    assert status == 200 and headers["content-type"] == "text/css; charset=utf-8"
    status, headers, _ = raw_get(port, "/robots.txt")
    assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
    status, headers, body = raw_get(port, "/robots.txt", method="HEAD")
    assert status == 200 and body == b""

    # Missing files of the types the interface serves: 404, never index.html served as a script.
    for target in ("/assets/missing.js", "/assets/other", "/favicon.ico", "/missing.png"):
        status, headers, body = raw_get(port, target)
        assert status == 404, target
        assert b"gatehouse test index" not in body
    # A page whose last part has a dot that is no file type (a domain's page) is a page.
    status, headers, body = raw_get(port, "/domains/example.test")
    assert status == 200 and b"gatehouse test index" in body

    # Nothing outside the directory, however it is spelled; no hidden files; no links out.
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/assets/..%2f..%2fsecret.txt",
                   "/assets/../../secret.txt", "/..%5csecret.txt", "/.hidden", "/%2ehidden", "/link.txt",
                   "/up/secret.txt", "/up/gatehouse0.toml", "//etc/passwd", "/%00index.html", "/assets/%2e%2e/%2e%2e/secret.txt"):
        status, headers, body = raw_get(port, target)
        assert status in (400, 404), (target, status)
        assert b"TOP-SECRET" not in body and b"hidden file" not in body and b"root:" not in body, target

    status, headers, body = raw_get(port, "/", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    # The API and /metrics are not files.
    status, headers, body = raw_get(port, "/api/v1/no/such/route")
    assert status == 404 and headers["content-type"] == "application/json"
    status, headers, _ = raw_get(port, "/api/v1/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    status, headers, _ = raw_get(port, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")


def test_static_dir_without_files_is_a_start_error(smtp_sink, start_gatehouse, tmp_path):
    sink = smtp_sink()
    missing = tmp_path / "no-such-dist"
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         sections={"web": {"static_dir": str(missing)}}, start=False)
    result = subprocess.run([gh.binary, "serve", "--config", str(gh.config_path)], capture_output=True, text=True,
                            timeout=30, cwd=str(tmp_path))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    line = next(i for i, text in enumerate(gh.config_path.read_text().splitlines(), 1) if text.startswith("static_dir"))
    assert f"{gh.config_path}:{line}" in output and "web.static_dir" in output and "index.html" in output, output


def run_browser_script(script, gh, **environment):
    """Runs tests/browser/SCRIPT (tests/browser/harness.mjs) against the daemon `gh`, logged in as
    root with PASSWORD, and fails the test with its output and the daemon's log unless every step
    passed. Extra environment variables as keywords."""
    environment = dict(os.environ, GATEHOUSE_URL=f"http://127.0.0.1:{gh.web_port}", GATEHOUSE_USER="root",
                       GATEHOUSE_PASSWORD=PASSWORD, SCREENSHOT_DIR=str(SCREENSHOTS), CHROMIUM=CHROMIUM, **environment)
    result = subprocess.run(["node", str(ROOT / "tests" / "browser" / script)], env=environment,
                            capture_output=True, text=True, timeout=240, cwd=str(ROOT))
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, f"browser test failed:\n{result.stdout}\n{result.stderr}\n--- daemon log:\n{gh.log()[-3000:]}"
    assert "all steps passed" in result.stdout
    return result.stdout


def _browser_missing():
    if not os.access(CHROMIUM, os.X_OK):
        return f"no browser at {CHROMIUM} (scripts/install-deps.sh --test installs Debian's chromium)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "web/node_modules has no playwright-core (scripts/build.sh runs npm ci in web/)"
    if not shutil.which("node"):
        return "node is not installed"
    return None


def test_browser_login_log_detail_hostile_subject(smtp_sink, start_gatehouse, tmp_path):
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    assert (DIST / "index.html").is_file(), "web/dist is not built: scripts/build.sh runs npm run build in web/"
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}],
                         sections={"web": {"static_dir": str(DIST)}})
    password_file = tmp_path / "root.password"
    password_file.write_text(PASSWORD + "\n")
    gh.cli("admin", "add", "root", "--password-file", str(password_file))
    wait_for_port(gh.web_port, timeout=10)

    subject = f"Invoice 4711 for order {os.getpid()}"
    hostile = "<script>alert(1)</script>"
    sent = send_message(gh.port, "alice@example.test", subject=subject, sender="billing@remote.test",
                        body="Please find the invoice.\r\n")
    assert sent.code == 250, sent
    bad = send_message(gh.port, "alice@example.test", subject=hostile, sender="mallory@remote.test",
                       body="<img src=x onerror=alert(2)>\r\n")
    assert bad.code == 250, bad
    for transaction in (sent.id, bad.id):
        gh.wait_for_row(transaction, lambda row: row.get("delivery_status") == "delivered")

    # This test's own screenshots (NN-name.png) from an earlier run go; other tests' stay.
    for old in SCREENSHOTS.glob("[0-9][0-9]-*.png"):
        old.unlink()
    run_browser_script("web_ui.mjs", gh, SUBJECT=subject, HOSTILE_SUBJECT=hostile)
    shots = sorted(p.name for p in SCREENSHOTS.glob("*.png"))
    assert {"01-login.png", "03-message-log.png", "05-message-detail.png", "06-paged-older.png",
            "08-hostile-detail.png", "11-phone-message-log.png", "12-phone-message-detail.png"} <= set(shots), shots
    # The daemon logged the wrong password the browser typed.
    assert 'web: login failed for user "root"' in gh.log()
