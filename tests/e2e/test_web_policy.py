"""Policy changed through the web administration, against the real daemon and a real back-end
(src/web/api_domains.cpp, api_lists.cpp; engine/runtime_policy.hpp): a domain's reject threshold
lowered and the very next message refused with the domain's own reject text; an address imported
from CSV accepted at RCPT at once; a sender black-listed from its message and its next message
refused; a trusted network; settings kept across a restart; a domain administrator held to her
domain; and, in a real browser (tests/browser/policy_ui.mjs), the Domains, Lists and Settings pages
doing the same with screenshots."""
import json

import pytest

from conftest import send_message, wait_for_port
from test_web_api import EVE_PASSWORD, PASSWORD, Client, web  # noqa: F401 (the fixture)
from test_web_browser import DIST, SCREENSHOTS, _browser_missing, run_browser_script


@pytest.fixture
def gateway(web):
    """test_web_api's gateway: example.test and other.test, `root`, and `eve` of other.test."""
    return web


def logged_in(gh, user="root", password=PASSWORD):
    client = Client(gh.web_port)
    assert client.login(user, password).status == 200
    return client


def test_lower_reject_threshold_rejects_the_next_message_with_the_domains_text(gateway):
    client = logged_in(gateway)
    first = send_message(gateway.port, "alice@example.test", subject="before the change")
    assert first.code == 250, first
    status, domains = client.json("GET", "/api/v1/domains")
    assert status == 200
    assert [d["name"] for d in domains["domains"]] == ["example.test", "other.test"]
    response = client.request("PUT", "/api/v1/domains/example.test",
                              {"tag_threshold": -60, "reject_threshold": -50,
                               "reject_text": "Refused by example.test policy, call 555-0100 (ID:{id})"})
    assert response.status == 200, response.data
    # No restart, no wait: the next transaction is judged with the new threshold.
    second = send_message(gateway.port, "alice@example.test", subject="after the change")
    assert second.code // 100 == 5, second
    assert "Refused by example.test policy, call 555-0100 (ID:" in second.text, second.text
    row = gateway.wait_for_row(second.id)
    assert row["disposition"] == "reject"
    # other.test kept the file's thresholds.
    assert send_message(gateway.port, "carol@other.test", subject="other domain").code == 250
    # The change is in the audit log, by name.
    status, audit = client.json("GET", "/api/v1/audit")
    assert any(e["action"] == "domain.change" and "reject -50" in e["detail"] for e in audit["entries"]), audit


def test_csv_import_accepts_new_addresses_at_once_and_exports(gateway):
    client = logged_in(gateway)
    assert send_message(gateway.port, "bob@example.test").code == 550   # unknown so far
    csv = "address\r\nbob@example.test\r\ndan@example.test\r\nnot-an-address\r\n"
    response = client.request("POST", "/api/v1/domains/example.test/addresses", csv, headers={"Content-Type": "text/csv"})
    assert response.status == 200, response.data
    result = json.loads(response.data)
    assert result["added"] == 2 and len(result["refused"]) == 1 and result["refused"][0]["line"] == 4
    sent = send_message(gateway.port, "bob@example.test", subject="now known")
    assert sent.code == 250, sent
    exported = client.request("GET", "/api/v1/domains/example.test/addresses?format=csv")
    assert exported.status == 200 and exported.getheader("Content-Type").startswith("text/csv")
    assert exported.data.decode().splitlines() == ["address,source", "alice@example.test,file", "bob@example.test,web",
                                                   "dan@example.test,web"]
    assert client.request("DELETE", "/api/v1/addresses/bob@example.test").status == 204
    assert send_message(gateway.port, "bob@example.test").code == 550


def test_black_listing_a_sender_from_its_message(gateway):
    client = logged_in(gateway)
    sent = send_message(gateway.port, "alice@example.test", sender="pest@nuisance.test", subject="first")
    assert sent.code == 250, sent
    gateway.wait_for_row(sent.id)
    response = client.request("POST", f"/api/v1/messages/{sent.id}/sender-list", {"list": "blacklist"})
    assert response.status == 200, response.data
    again = send_message(gateway.port, "alice@example.test", sender="pest@nuisance.test", subject="second")
    assert again.code // 100 == 5 and "Blacklisted" in again.text, again
    assert send_message(gateway.port, "alice@example.test", sender="friend@nuisance.test").code == 250
    status, lists = client.json("GET", "/api/v1/lists")
    assert lists["lists"]["blacklist"]["web"] == ["pest@nuisance.test"]
    # Taken off the list again: accepted again.
    assert client.request("PUT", "/api/v1/lists/blacklist", {"entries": []}).status == 200
    assert send_message(gateway.port, "alice@example.test", sender="pest@nuisance.test").code == 250


def test_domain_administrator_is_held_to_her_domain(gateway):
    eve = logged_in(gateway, "eve", EVE_PASSWORD)
    status, domains = eve.json("GET", "/api/v1/domains")
    assert [d["name"] for d in domains["domains"]] == ["other.test"]
    assert eve.request("PUT", "/api/v1/domains/example.test", {"reject_threshold": -50}).status == 404
    assert eve.request("PUT", "/api/v1/domains/other.test", {"backend": "smtp:203.0.113.1:25"}).status == 403
    assert eve.request("PUT", "/api/v1/lists/blacklist", {"entries": ["x.test"]}).status == 403
    assert eve.request("GET", "/api/v1/settings").status == 403
    # Without the CSRF token even her own domain's change is refused.
    assert eve.request("PUT", "/api/v1/domains/other.test", {"reject_threshold": -50}, csrf=False).status == 403
    assert send_message(gateway.port, "carol@other.test").code == 250
    assert eve.request("PUT", "/api/v1/lists/blacklist", {"domain": "other.test", "entries": ["remote.test"]}).status == 200
    assert send_message(gateway.port, "carol@other.test").code // 100 == 5
    assert send_message(gateway.port, "alice@example.test").code == 250, "not another domain's mail"


def test_settings_survive_a_restart(gateway):
    client = logged_in(gateway)
    response = client.request("PUT", "/api/v1/settings", {"retention_days": 45, "spf": False})
    assert response.status == 200, response.data
    assert json.loads(response.data)["in_force"] == {"spf": False, "antivirus": False, "retention_days": 45}
    assert client.request("PUT", "/api/v1/lists/whitelist", {"entries": ["friends.test"]}).status == 200
    gateway.stop()
    gateway.start()
    wait_for_port(gateway.web_port, timeout=10)
    client = logged_in(gateway)
    status, settings = client.json("GET", "/api/v1/settings")
    assert settings["in_force"]["retention_days"] == 45 and settings["file"]["retention_days"] == 14
    status, lists = client.json("GET", "/api/v1/lists")
    assert lists["lists"]["whitelist"]["web"] == ["friends.test"]
    response = client.request("PUT", "/api/v1/settings", {"retention_days": 0})
    assert response.status == 400 and b"retention_days" in response.data


def test_browser_domains_lists_settings(gateway):
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    assert (DIST / "index.html").is_file(), "web/dist is not built: scripts/build.sh runs npm run build in web/"
    before = send_message(gateway.port, "alice@example.test", subject="before", sender="pest@annoying.test")
    assert before.code == 250, before
    gateway.wait_for_row(before.id)
    run_browser_script("policy_ui.mjs", gateway)
    # What the browser set is in force for the next transactions.
    rejected = send_message(gateway.port, "alice@example.test", subject="after the browser lowered the threshold")
    assert rejected.code // 100 == 5 and "Refused by the browser's policy" in rejected.text, rejected
    # The address added in the browser passes RCPT (and is then refused for the score like all).
    erin = send_message(gateway.port, "erin@example.test", subject="added in the browser")
    assert erin.code // 100 == 5 and "Refused by the browser's policy" in erin.text, erin
    unknown = send_message(gateway.port, "frank@example.test", subject="never added")
    assert unknown.code == 550 and "Refused by the browser's policy" not in unknown.text, unknown
    assert send_message(gateway.port, "carol@other.test", sender="spam@blocked-by-browser.test").code // 100 == 5
    pest = send_message(gateway.port, "carol@other.test", sender="pest@annoying.test")
    assert pest.code // 100 == 5 and "Blacklisted" in pest.text, pest
    shots = {p.name for p in SCREENSHOTS.glob("*.png")}
    assert {"policy-01-domains.png", "policy-02-domain.png", "policy-03-lists.png", "policy-04-settings.png",
            "policy-05-phone-domain.png", "policy-06-phone-lists.png"} <= shots, shots
