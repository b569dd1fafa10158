"""The sender checks end to end: DNS block/allow lists, white/black lists, No Host Checks, HELO,
reverse DNS, spam traps and reputation, mixed-policy recipients, custom reply texts, and a DNS
outage giving 4xx (never 5xx). A real unbound on loopback serves tests/fixtures/dns/local-data.conf;
clients connect from chosen 127.0.0.x source addresses, which the fixture zones list or not."""
import re
import socket
import time

import pytest

from conftest import SmtpConn, free_port_number, wait_until

ADDRESSES = ["alice@example.test", "bob@example.test", "postmaster@example.test"]

ZEN = {"zone": "zen.dnsbl.test", "other": 1.0, "result": [
    {"codes": "127.0.0.2", "meaning": "SBL", "action": "reject"},
    {"codes": "127.0.0.4-127.0.0.7", "meaning": "XBL", "action": "reject"},
    {"codes": "127.0.0.10-127.0.0.11", "meaning": "PBL", "action": 3.5}]}
DNSWL = {"zone": "list.dnswl.test", "result": [{"codes": "127.0.10.0-127.0.10.255", "meaning": "DNSWL", "action": -4}]}


def domain(sink, name="example.test", addresses=ADDRESSES, **extra):
    d = {"name": name, "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list", "addresses": list(addresses)}
    d.update(extra)
    return d


def start(start_gatehouse, sink, dns_port, sections=None, domains=None):
    merged = {"dns": {"nameservers": [f"127.0.0.1:{dns_port}"], "timeout": "1s"}, "dnsbl": [ZEN, DNSWL]}
    merged.update(sections or {})
    return start_gatehouse(domains or [domain(sink)], sections=merged)


def connect(gh, source="127.0.0.26"):
    sock = socket.create_connection(("127.0.0.1", gh.port), timeout=10, source_address=(source, 0))
    return SmtpConn(gh.port, sock=sock)


def attempt(gh, source, rcpt="alice@example.test", sender="carol@open.test", helo="mail.friendly.test",
            subject="hello", header_from=None):
    """One transaction from `source`; returns (RCPT reply, final reply or None, transaction ID)."""
    with connect(gh, source) as conn:
        assert conn.cmd(f"EHLO {helo}").code == 250
        mail = conn.cmd(f"MAIL FROM:<{sender}>")
        assert mail.code == 250, mail
        tid = re.search(r"\(ID:(\w+)\)", mail.text).group(1)
        rcpt_reply = conn.cmd(f"RCPT TO:<{rcpt}>")
        final = None
        if rcpt_reply.code == 250:
            assert conn.cmd("DATA").code == 354
            conn.send(f"From: <{header_from or sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
                      f"Message-ID: <{tid}@friendly.test>\r\n\r\nHello.\r\n.\r\n")
            final = conn.reply()
        conn.cmd("QUIT")
    return rcpt_reply, final, tid


def checks_of(row):
    return {(c["name"], c["detail"].split(":")[0]): c["score"] for c in row["checks"]}


def test_dnsbl_listing_rejects_with_zone_and_ip_and_clean_client_passes(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns)
    rcpt, _, tid = attempt(gh, "127.0.0.20")
    assert rcpt.code == 550 and rcpt.text.startswith("5.7.1 RBL Block: zen.dnsbl.test 127.0.0.20"), rcpt
    assert f"(ID:{tid})" in rcpt.text
    row = gh.wait_for_row(tid)
    assert row["disposition"] == "reject" and row["reason"] == "dnsbl"
    assert any(c["name"] == "dnsbl" and "SBL" in c["detail"] for c in row["checks"]), row["checks"]

    rcpt, final, tid = attempt(gh, "127.0.0.26")
    assert rcpt.code == 250 and final.code == 250, (rcpt, final)
    wait_until(lambda: sink.messages(), message="clean message delivered")
    text = sink.texts()[0]
    assert "Authentication-Results: gw.example.test;" in text and "X-Gatehouse-Score:" in text


def test_dnsbl_scores_partial_listings_ignores_non_loopback_answers_and_allow_list_subtracts(
        fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns)
    # PBL: scored, not rejected.
    rcpt, final, tid = attempt(gh, "127.0.0.21")
    assert rcpt.code == 250 and final.code == 250
    row = gh.wait_for_row(tid)
    assert checks_of(row).get(("dnsbl", "PBL")) == 3.5, row["checks"]
    # Several answers: the strongest (XBL → reject) wins.
    rcpt, _, _ = attempt(gh, "127.0.0.22")
    assert rcpt.code == 550 and "RBL Block: zen.dnsbl.test 127.0.0.22" in rcpt.text
    # An answer outside 127.0.0.0/8 is no listing.
    rcpt, final, tid = attempt(gh, "127.0.0.25")
    assert rcpt.code == 250 and final.code == 250
    assert [c["detail"] for c in gh.wait_for_row(tid)["checks"] if c["name"] == "dnsbl"] == \
        ["not listed: zen.dnsbl.test, list.dnswl.test"]
    # The allow list subtracts.
    rcpt, final, tid = attempt(gh, "127.0.0.23")
    assert final.code == 250
    assert checks_of(gh.wait_for_row(tid)).get(("dnsbl", "DNSWL")) == -4


def test_dnsbl_exempts_postmaster_and_no_host_checks(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns, sections={"lists": {"no_host_checks": ["127.0.0.22"]}})
    rcpt, final, tid = attempt(gh, "127.0.0.20", rcpt="postmaster@example.test")
    assert rcpt.code == 250 and final.code == 250, rcpt
    assert any(c["name"] == "dnsbl" and "exempt" in c["detail"] for c in gh.wait_for_row(tid)["checks"])
    rcpt, final, tid = attempt(gh, "127.0.0.22")
    assert rcpt.code == 250 and final.code == 250, rcpt
    assert any(c["name"] == "dnsbl" and "No Host Checks" in c["detail"] for c in gh.wait_for_row(tid)["checks"])


def test_dnsbl_ipv6_client_uses_nibble_name(fixture_dns, smtp_sink, start_gatehouse):
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    sink = smtp_sink()
    # A listener on ::1 next to the IPv4 one.
    port6 = free_port_number()
    gh = start_gatehouse([domain(sink)], sections={"dns": {"nameservers": [f"127.0.0.1:{fixture_dns}"]}, "dnsbl": [ZEN]},
                         listeners=[{"address": f"[::1]:{port6}"}])
    sock = socket.create_connection(("::1", port6), timeout=10)
    with SmtpConn(port6, sock=sock) as conn:
        conn.cmd("EHLO mail.friendly.test")
        assert conn.cmd("MAIL FROM:<carol@friendly.test>").code == 250
        rcpt = conn.cmd("RCPT TO:<alice@example.test>")
    assert rcpt.code == 550 and "RBL Block: zen.dnsbl.test ::1" in rcpt.text, rcpt


def test_white_and_black_lists_global_and_per_domain(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    other = domain(sink, name="other.test", addresses=["dave@other.test"],
                   lists={"whitelist": ["127.0.0.20"], "blacklist": ["*@friendly.test"]})
    gh = start(start_gatehouse, sink, fixture_dns,
               sections={"lists": {"whitelist": ["friend@listed.test", "2001:db8::/32"],
                                   "blacklist": ["spammer.test", "127.0.0.24"]}},
               domains=[domain(sink), other])
    # Global black list: a domain matches its subdomains; an IP entry matches the client.
    rcpt, _, tid = attempt(gh, "127.0.0.26", sender="x@mail.spammer.test")
    assert rcpt.code == 550 and "Blacklisted: spammer.test" in rcpt.text, rcpt
    rcpt, _, _ = attempt(gh, "127.0.0.24")
    assert rcpt.code == 550 and "Blacklisted: 127.0.0.24" in rcpt.text
    # Global white list beats the DNSBL and skips scoring (but the message is still delivered).
    rcpt, final, tid = attempt(gh, "127.0.0.20", sender="friend@listed.test")
    assert rcpt.code == 250 and final.code == 250, rcpt
    row = gh.wait_for_row(tid)
    assert any(c["name"] == "lists" and "whitelisted" in c["detail"] for c in row["checks"])
    assert not any(c["name"] == "dnsbl" for c in row["checks"]), "white-listed: the block list was not consulted"
    # Per-domain lists apply to that domain only.
    rcpt, _, _ = attempt(gh, "127.0.0.26", rcpt="dave@other.test", sender="carol@friendly.test")
    assert rcpt.code == 550 and "Blacklisted: *@friendly.test" in rcpt.text, rcpt
    rcpt, final, _ = attempt(gh, "127.0.0.26", rcpt="alice@example.test")
    assert rcpt.code == 250 and final.code == 250
    rcpt, final, _ = attempt(gh, "127.0.0.20", rcpt="dave@other.test", sender="someone@elsewhere.test")
    assert rcpt.code == 250 and final.code == 250, "the domain's white-listed IP passes its DNSBL listing"


def test_helo_findings(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns)
    cases = {
        "localhost": ("helo", "not_fqdn"),
        "[127.0.0.99]": ("helo", "literal_mismatch"),
        "bad_name!.test": ("helo", "invalid"),
    }
    for helo, key in cases.items():
        rcpt, final, tid = attempt(gh, "127.0.0.26", helo=helo)
        assert final and final.code == 250, (helo, rcpt, final)
        assert key in checks_of(gh.wait_for_row(tid)), (helo, gh.wait_for_row(tid)["checks"])
    # The right address literal and a proper name find nothing.
    for helo in ("[127.0.0.26]", "mail.friendly.test"):
        _, final, tid = attempt(gh, "127.0.0.26", helo=helo)
        assert [c["detail"] for c in gh.wait_for_row(tid)["checks"] if c["name"] == "helo"] == [f"valid: {helo}"], helo
    # Claiming our own name, or the address the client connected to, rejects.
    rcpt, _, _ = attempt(gh, "127.0.0.26", helo="gw.example.test")
    assert rcpt.code == 550 and "HELO Block: gw.example.test is our own name" in rcpt.text, rcpt
    rcpt, _, _ = attempt(gh, "127.0.0.26", helo="[127.0.0.1]")
    assert rcpt.code == 550 and "HELO Block: [127.0.0.1] is our own address" in rcpt.text, rcpt
    # Changing the name mid-session scores.
    with connect(gh, "127.0.0.26") as conn:
        conn.cmd("EHLO mail.friendly.test")
        conn.cmd("EHLO other.friendly.test")
        tid = re.search(r"\(ID:(\w+)\)", conn.cmd("MAIL FROM:<carol@friendly.test>").text).group(1)
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        conn.cmd("RSET")
    assert ("helo", "changed") in checks_of(gh.wait_for_row(tid))


def test_reverse_dns_findings(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns)
    expected = {"127.0.0.9": "missing", "127.0.0.5": "not_confirmed", "127.0.0.3": "not_confirmed",
                "127.0.0.24": "generic"}
    for source, finding in expected.items():
        _, final, tid = attempt(gh, source)
        assert final and final.code == 250, (source, final)
        assert ("reverse_dns", finding) in checks_of(gh.wait_for_row(tid)), (source, gh.wait_for_row(tid)["checks"])
    _, _, tid = attempt(gh, "127.0.0.26")
    assert not any(c["name"] == "reverse_dns" and c["score"] for c in gh.wait_for_row(tid)["checks"])


def test_score_adds_up_to_tag_and_to_reject_with_custom_reply_and_thresholds(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    # 127.0.0.21: PBL 3.5 + no PTR 2.5 = 6 → tagged at the default thresholds (5/10) ...
    # (The classifier, which could subtract after DATA, is off for it: otherwise the score could
    # still fall below the threshold and the refusal would wait for the end of DATA.)
    strict = domain(sink, name="strict.test", addresses=["erin@strict.test"], tag_threshold=2, reject_threshold=5,
                    filter={"contact": "help@strict.test", "checks": {"classifier": {"enabled": False}},
                            "replies": {"score": "Not accepted ({reason}); call {contact} quoting {id}"}})
    gh = start(start_gatehouse, sink, fixture_dns, sections={"filter": {"subject_tag": "[SPAM?] "}},
               domains=[domain(sink), strict])
    rcpt, final, tid = attempt(gh, "127.0.0.21", subject="offer")
    assert rcpt.code == 250 and final.code == 250
    row = gh.wait_for_row(tid)
    assert row["disposition"] == "tag" and row["score"] == pytest.approx(6.0), row
    wait_until(lambda: sink.messages(), message="tagged message delivered")
    text = sink.texts()[0]
    assert "Subject: [SPAM?] offer" in text and "X-Gatehouse-Score: 6.0 (tag)" in text, text[:600]
    assert "dnsbl=3.5" in text and "reverse_dns=2.5" in text
    # ... and rejected at RCPT for a domain with lower thresholds, with its own reply text.
    rcpt, _, tid = attempt(gh, "127.0.0.21", rcpt="erin@strict.test")
    assert rcpt.code == 550, rcpt
    assert rcpt.text == f"5.7.1 Not accepted (score 6.0); call help@strict.test quoting {tid}", rcpt.text


def test_mixed_policy_recipients_split_with_452(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    strict = domain(sink, name="strict.test", addresses=["erin@strict.test"], tag_threshold=2, reject_threshold=50)
    same = domain(sink, name="same.test", addresses=["frank@same.test"])
    gh = start(start_gatehouse, sink, fixture_dns, domains=[domain(sink), strict, same])
    with connect(gh, "127.0.0.26") as conn:
        conn.cmd("EHLO mail.friendly.test")
        assert conn.cmd("MAIL FROM:<carol@friendly.test>").code == 250
        assert conn.cmd("RCPT TO:<alice@example.test>").code == 250
        assert conn.cmd("RCPT TO:<frank@same.test>").code == 250, "same back-end and policy: one transaction"
        split = conn.cmd("RCPT TO:<erin@strict.test>")
        assert split.code == 452 and split.text.startswith("4.5.3"), split
        assert conn.cmd("DATA").code == 354
        conn.send("From: <carol@friendly.test>\r\nSubject: split\r\n\r\nHello.\r\n.\r\n")
        assert conn.reply().code == 250
        # The sender retries the other recipient in its own transaction.
        assert conn.cmd("MAIL FROM:<carol@friendly.test>").code == 250
        assert conn.cmd("RCPT TO:<erin@strict.test>").code == 250


def test_spam_trap_rejects_and_marks_the_client(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns,
               sections={"traps": {"addresses": ["trap@example.test"], "bad_mark": "1h"}})
    _, final, tid = attempt(gh, "127.0.0.26")
    assert final.code == 250
    assert not any(c["name"] == "reputation" for c in gh.wait_for_row(tid)["checks"])
    rcpt, _, tid = attempt(gh, "127.0.0.26", rcpt="trap@example.test")
    assert rcpt.code == 550 and rcpt.text.startswith("5.7.1 Message refused"), rcpt
    assert "trap" not in rcpt.text.lower(), "the reply does not reveal the trap"
    row = gh.wait_for_row(tid)
    assert row["reason"] == "spam_trap", row
    # The same client's next message carries the bad mark (default 6 → tagged).
    _, final, tid = attempt(gh, "127.0.0.26", subject="after the trap")
    assert final.code == 250
    row = gh.wait_for_row(tid)
    assert checks_of(row).get(("reputation", "marked")) == 6.0 and row["disposition"] == "tag", row
    # Another client is unaffected.
    _, final, tid = attempt(gh, "127.0.0.2", helo="mail.sender.test", sender="x@sender.test")
    assert not any(c["name"] == "reputation" for c in gh.wait_for_row(tid)["checks"])


def test_dns_outage_gives_4xx_never_5xx(smtp_sink, start_gatehouse, tmp_path):
    """The DNS server stops: deciding lookups tempfail (451 4.4.3), nothing is refused with 5xx."""
    from conftest import Process, ROOT
    import signal
    dns_port = free_port_number()
    dns = Process(["bash", str(ROOT / "tests/fixtures/dns/run-unbound.sh"), str(dns_port)], tmp_path / "unbound.log")
    try:
        sink = smtp_sink()
        gh = start(start_gatehouse, sink, dns_port, sections={"dns": {"nameservers": [f"127.0.0.1:{dns_port}"], "timeout": "300ms"}})
        lenient = start(start_gatehouse, sink, dns_port, sections={
            "dns": {"nameservers": [f"127.0.0.1:{dns_port}"], "timeout": "300ms"},
            "filter": {"checks": {"spf": {"temperror": 0}}}})
        wait_until(lambda: attempt(gh, "127.0.0.26", sender="carol@friendly.test")[1] is not None, timeout=15,
                   message="fixture DNS answering")
        rcpt, final, _ = attempt(gh, "127.0.0.26", sender="carol@friendly.test")
        assert rcpt.code == 250 and final.code == 250
        rcpt, _, _ = attempt(gh, "127.0.0.20")
        assert rcpt.code == 550, "listed while the DNS server runs"
    finally:
        dns.stop(signal.SIGTERM, timeout=10)
    # SPF's lookup decides (temperror → tempfail by default): 451 4.4.3. (Answers gatehouse got
    # before the outage are cached for their TTL; these senders' domains were never asked.)
    for source, sender in (("127.0.0.26", "carol@open.test"), ("127.0.0.21", "dave@sender.test")):
        rcpt, _, tid = attempt(gh, source, sender=sender)
        assert rcpt.code == 451 and rcpt.text.startswith("4.4.3"), (source, rcpt)
        assert gh.wait_for_row(tid)["reason"] == "spf"
    # Without a deciding lookup the failures are no evidence: accepted (never 5xx), errors logged.
    rcpt, final, tid = attempt(lenient, "127.0.0.20", sender="carol@friendly.test")
    assert rcpt.code == 250 and final.code == 250, rcpt
    details = [c["detail"] for c in lenient.wait_for_row(tid)["checks"] if c["name"] == "dnsbl"]
    assert details and "error" in details[0], details


def test_mandatory_check_tempfails_on_dns_failure(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    silent = free_port_number()  # nothing answers here
    gh = start(start_gatehouse, sink, silent, sections={
        "dns": {"nameservers": [f"127.0.0.1:{silent}"], "timeout": "300ms"},
        "filter": {"checks": {"dnsbl": {"mandatory": True}, "spf": {"enabled": False}}}})
    rcpt, _, tid = attempt(gh, "127.0.0.20")
    assert rcpt.code == 451 and rcpt.text.startswith("4.4.3") and "dnsbl" in rcpt.text, rcpt


def test_spf_results_map_to_replies_scores_and_authentication_results(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    lenient = domain(sink, name="lenient.test", addresses=["gina@lenient.test"], filter={"checks": {"spf": {"fail": 4.0}}})
    gh = start(start_gatehouse, sink, fixture_dns, domains=[domain(sink), lenient])
    # pass, aligned with the header From: the bonus, and spf=pass in Authentication-Results.
    rcpt, final, tid = attempt(gh, "127.0.0.26", sender="carol@friendly.test", subject="spf pass")
    assert final.code == 250
    row = gh.wait_for_row(tid)
    assert any(c["name"] == "spf_alignment" and c["score"] == -1.0 and c["detail"].startswith("pass_aligned")
               for c in row["checks"]), row["checks"]
    wait_until(lambda: any("spf pass" in t for t in sink.texts()), message="delivered")
    text = next(t for t in sink.texts() if "spf pass" in t)
    assert "spf=pass smtp.mailfrom=carol@friendly.test" in text, text[:800]
    # pass, From header elsewhere: no bonus.
    _, final, tid = attempt(gh, "127.0.0.26", sender="carol@friendly.test", header_from="x@elsewhere.test")
    assert not any(c["score"] < 0 for c in gh.wait_for_row(tid)["checks"])
    # fail: 550 5.7.23 naming the domain and the address.
    rcpt, _, tid = attempt(gh, "127.0.0.21", sender="carol@friendly.test")
    assert rcpt.code == 550 and rcpt.text.startswith("5.7.23 SPF Block: friendly.test does not permit 127.0.0.21"), rcpt
    assert gh.wait_for_row(tid)["reason"] == "spf"
    # The same failure scores for a domain whose policy says so.
    rcpt, final, tid = attempt(gh, "127.0.0.9", sender="carol@friendly.test", rcpt="gina@lenient.test")
    assert rcpt.code == 250 and final.code == 250, (rcpt, final)
    assert checks_of(gh.wait_for_row(tid)).get(("spf", "fail")) == 4.0
    # softfail scores; permerror scores; neutral nothing.
    _, final, tid = attempt(gh, "127.0.0.21", sender="carol@soft.friendly.test")
    assert final.code == 250 and checks_of(gh.wait_for_row(tid)).get(("spf", "softfail")) == 3.0
    _, final, tid = attempt(gh, "127.0.0.26", sender="carol@broken.open.test")
    assert final.code == 250 and checks_of(gh.wait_for_row(tid)).get(("spf", "permerror")) == 1.5
    # Null sender: the HELO identity (RFC 7208 §2.4).
    rcpt, _, _ = attempt(gh, "127.0.0.21", sender="", helo="mail.friendly.test")
    assert rcpt.code == 550 and "5.7.23" in rcpt.text, rcpt
    _, final, _ = attempt(gh, "127.0.0.26", sender="", helo="mail.friendly.test", subject="bounce")
    assert final.code == 250
    wait_until(lambda: any("bounce" in t for t in sink.texts()), message="delivered")
    assert "spf=pass smtp.helo=mail.friendly.test" in next(t for t in sink.texts() if "bounce" in t)


def test_trusted_network_skips_sender_checks(fixture_dns, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain(sink)], server={"trusted_networks": ["127.0.0.20/32"]},
                         sections={"dns": {"nameservers": [f"127.0.0.1:{fixture_dns}"]}, "dnsbl": [ZEN]})
    rcpt, final, tid = attempt(gh, "127.0.0.20", helo="localhost")
    assert rcpt.code == 250 and final.code == 250, rcpt
    row = gh.wait_for_row(tid)
    assert any(c["name"] == "trusted_networks" for c in row["checks"]) and not any(c["name"] == "dnsbl" for c in row["checks"])


def test_check_cli_explains_with_dns(fixture_dns, smtp_sink, start_gatehouse):
    import json
    sink = smtp_sink()
    gh = start(start_gatehouse, sink, fixture_dns)
    message = (b"From: <carol@open.test>\r\nTo: <alice@example.test>\r\nSubject: hi\r\n"
               b"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n")
    out = gh.cli("check", "--ip", "127.0.0.21", "--helo", "mail.friendly.test", "--from", "carol@open.test",
                 "--rcpt", "alice@example.test", "--json", input=message).stdout
    verdict = json.loads(out)
    assert verdict["verdict"] == "tag" and verdict["score"] == pytest.approx(6.0), verdict
    names = {c["name"] for c in verdict["checks"]}
    assert {"dnsbl", "reverse_dns"} <= names, verdict
    listed = json.loads(gh.cli("check", "--ip", "127.0.0.20", "--helo", "mail.friendly.test", "--from", "carol@open.test",
                               "--rcpt", "alice@example.test", "--json", input=message).stdout)
    assert listed["verdict"] == "reject" and listed["reply"].startswith("550 5.7.1 RBL Block: zen.dnsbl.test 127.0.0.20")
