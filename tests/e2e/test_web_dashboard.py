"""The dashboard (issue 5) against the real daemon: GET /api/v1/stats counts real messages sent
through the gateway (accepted, tagged, rejected, deferred by an unreachable back-end) in the hour
now running, for 24 h, 7 d and 30 d; its top reasons, client IPs and sender domains; the queue and
the back-ends' state; 401 without a session; a domain administrator's figures cover only their
domain. Then, in a real browser (tests/browser/dashboard_ui.mjs, Debian's chromium under
playwright-core), the dashboard is the first page after login, shows those numbers, switches
between 24 h / 7 d / 30 d, updates live when another message arrives, and a top-reason link opens
the message log filtered by it; screenshots at desktop and phone width go to
build/artifacts/screenshots/dashboard-*.png."""
import json

import pytest

from conftest import ROOT, free_port_number, send_message, wait_for_port, wait_until

from test_web_api import EVE_PASSWORD, PASSWORD
from test_web_api import Client as ApiClient
from test_web_browser import DIST, SCREENSHOTS, _browser_missing, run_browser_script

# Findings of the header checks (From shows another address, a malformed Message-ID): enough to tag
# at example.test's tag threshold of 2, far below its reject threshold.
TAGGED = (b"From: \"service@bank.test\" <offers@remote.test>\r\nTo: undisclosed-recipients:;\r\n"
          b"Subject: account notice\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <broken>\r\n\r\n"
          b"Please confirm your account.\r\n")


class Client(ApiClient):
    """test_web_api's client, answering (status, JSON) for a GET and logging in fluently."""

    def get(self, path):
        return self.json("GET", path)

    def login(self, username, password):
        assert super().login(username, password).status == 200
        return self


@pytest.fixture
def gateway(smtp_sink, start_gatehouse, tmp_path):
    """example.test (tags at 2 points) and other.test to a sink, down.test to a closed port; the
    administrator root and eve, domain administrator of other.test."""
    sink = smtp_sink()
    backend = f"smtp:127.0.0.1:{sink.port}"
    closed = f"smtp:127.0.0.1:{free_port_number()}"
    gh = start_gatehouse([
        {"name": "example.test", "backend": backend, "recipients": "list", "addresses": ["alice@example.test"],
         "filter": {"tag_threshold": 2.0, "reject_threshold": 20.0}},
        {"name": "other.test", "backend": backend, "recipients": "list", "addresses": ["carol@other.test"]},
        {"name": "down.test", "backend": closed, "recipients": "list", "addresses": ["dan@down.test"]},
    ], sections={"web": {"static_dir": str(DIST)}} if (DIST / "index.html").is_file() else None)
    password_file = tmp_path / "root.password"
    password_file.write_text(PASSWORD + "\n")
    gh.cli("admin", "add", "root", "--password-file", str(password_file))
    gh.cli("admin", "add", "eve", "--domain", "other.test", input=(EVE_PASSWORD + "\n").encode())
    wait_for_port(gh.web_port, timeout=10)
    gh.backend, gh.closed = backend, closed
    return gh


def mix(port):
    """Two accepted, one tagged, two rejected (a relay attempt, an unknown user of other.test), one
    for the unreachable back-end: their end-of-DATA (or refusal) replies."""
    return {
        "accepted": send_message(port, "alice@example.test", subject="hello", sender="news@remote.test"),
        "accepted_other": send_message(port, "carol@other.test", subject="hi carol", sender="friend@friends.test"),
        "tagged": send_message(port, "alice@example.test", sender="offers@remote.test", message=TAGGED),
        "relay": send_message(port, "victim@elsewhere.test", subject="relay", sender="spammer@bad.test"),
        "unknown": send_message(port, "nobody@other.test", subject="guess", sender="spammer@bad.test"),
        "down": send_message(port, "dan@down.test", subject="to a dead back-end", sender="news@remote.test"),
    }


def send_the_mix(gh):
    """mix(), checked; returns the replies once every transaction is in the log."""
    sent = mix(gh.port)
    assert sent["accepted"].code == 250 and sent["accepted_other"].code == 250, sent
    assert sent["tagged"].code == 250, sent["tagged"]
    assert sent["relay"].code == 554 and sent["unknown"].code == 550, sent
    for result in sent.values():
        assert result.id, result
        gh.wait_for_row(result.id)
    return sent


def test_stats_count_real_messages_and_scope_a_domain_administrator(gateway):
    gh = gateway
    anonymous = Client(gh.web_port)
    status, body = anonymous.get("/api/v1/stats")
    assert status == 401 and body == {"error": "not logged in"}

    root = Client(gh.web_port).login("root", PASSWORD)
    status, empty = root.get("/api/v1/stats")
    assert status == 200 and empty["totals"]["all"] == 0 and empty["top_reasons"] == [] and empty["top_ips"] == []
    assert len(empty["buckets"]) == 24 and all(b["counts"] == {} for b in empty["buckets"])

    sent = send_the_mix(gh)
    down = gh.wait_for_row(sent["down"].id)
    # The gateway's row says what happened to the message for the unreachable back-end (deferred at
    # DATA, or accepted and queued); the counts must say the same.
    expected = {"accept": 2, "tag": 1, "reject": 2}
    expected[down["disposition"]] = expected.get(down["disposition"], 0) + 1

    status, stats = root.get("/api/v1/stats")
    assert status == 200
    for disposition, count in expected.items():
        assert stats["totals"][disposition] == count, (disposition, stats["totals"])
    assert stats["totals"]["all"] == 6
    now_bucket = stats["buckets"][-1]
    assert sum(now_bucket["counts"].values()) == 6, "all in the hour now running"
    assert now_bucket["start"] <= stats["generated"] < now_bucket["start"] + 3600 * 1000
    reasons = {(r["disposition"], r["reason"]): r["count"] for r in stats["top_reasons"]}
    assert reasons.get(("reject", "relay denied")) == 1, reasons
    assert sum(c for (d, _), c in reasons.items() if d == "reject") == 2
    ips = {e["ip"]: e for e in stats["top_ips"]}
    assert ips["127.0.0.1"]["total"] == 6 and ips["127.0.0.1"]["rejected"] == 2, ips
    domains = {e["domain"]: e for e in stats["top_sender_domains"]}
    assert domains["remote.test"]["total"] == 3 and domains["remote.test"]["rejected"] == 0, domains
    assert domains["bad.test"] == {"domain": "bad.test", "total": 2, "rejected": 2}
    assert stats["top_rejected_sender_domains"][0]["domain"] == "bad.test"
    assert isinstance(stats["queue"]["size"], int)
    backends = {b["backend"]: b for b in stats["backends"]}
    assert backends[gh.backend]["state"] == "up" and sorted(backends[gh.backend]["domains"]) == ["example.test", "other.test"]
    assert backends[gh.closed]["state"] == "down" and backends[gh.closed]["failures"] >= 1, backends[gh.closed]

    for range_, buckets, seconds in (("7d", 168, 3600), ("30d", 120, 6 * 3600)):
        status, longer = root.get(f"/api/v1/stats?range={range_}")
        assert status == 200 and len(longer["buckets"]) == buckets and longer["bucket_seconds"] == seconds
        assert longer["totals"] == stats["totals"], range_
        assert {e["ip"]: e["total"] for e in longer["top_ips"]} == {"127.0.0.1": 6}

    # One more message moves the counts.
    assert send_message(gh.port, "alice@example.test", subject="one more", sender="news@remote.test").code == 250
    wait_until(lambda: root.get("/api/v1/stats")[1]["totals"]["accept"] == expected["accept"] + 1,
               message="the new message counted")

    # eve sees other.test only: carol's message and the unknown user refused there; no queue; her back-end.
    eve = Client(gh.web_port).login("eve", EVE_PASSWORD)
    status, mine = eve.get("/api/v1/stats")
    assert status == 200
    assert mine["domains"] == ["other.test"]
    assert mine["totals"]["all"] == 2 and mine["totals"]["accept"] == 1 and mine["totals"]["reject"] == 1, mine["totals"]
    assert mine["totals"]["tag"] == 0
    assert [r["reason"] for r in mine["top_reasons"]] != [] and all(r["reason"] != "relay denied" for r in mine["top_reasons"])
    assert {e["domain"] for e in mine["top_sender_domains"]} == {"friends.test", "bad.test"}
    assert mine["queue"] is None
    assert [b["domains"] for b in mine["backends"]] == [["other.test"]]
    status, refused = eve.get("/api/v1/stats?domain=example.test")
    assert status == 403 and "not one of your domains" in refused["error"]
    status, bad = root.get("/api/v1/stats?range=1y")
    assert status == 400


def test_dashboard_in_a_browser(gateway):
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    assert (DIST / "index.html").is_file(), "web/dist is not built: scripts/build.sh runs npm run build in web/"
    gh = gateway
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The browser starts on a new installation's empty dashboard and runs these to send mail while
    # it watches: the mix (printing the replies' codes and IDs as JSON), then one more message.
    helper = ("import json, sys; sys.path.insert(0, sys.argv[1]); from conftest import send_message; "
              "from test_web_dashboard import mix; port = int(sys.argv[2]); ")
    e2e = str(ROOT / "tests" / "e2e")
    mix_command = json.dumps([
        "/usr/bin/python3", "-c",
        helper + "print(json.dumps({k: [r.code, r.id] for k, r in mix(port).items()}))", e2e, str(gh.port)])
    send_command = json.dumps([
        "/usr/bin/python3", "-c",
        helper + "r = send_message(port, 'alice@example.test', subject='live update', sender='news@remote.test'); "
        "sys.exit(0 if r.code == 250 else 1)", e2e, str(gh.port)])
    run_browser_script("dashboard_ui.mjs", gh, MIX_COMMAND=mix_command, SEND_COMMAND=send_command)
