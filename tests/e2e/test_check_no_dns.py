"""`gatehouse check --no-dns` (src/cli/check.cpp): without DNS the client's name is never looked
up, so the reverse-DNS check gives no evidence instead of scoring a missing PTR record — what
bench/accuracy relies on to judge corpus messages offline."""
import json


def test_check_no_dns_scores_no_missing_reverse_name(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}",
                           "recipients": "list", "addresses": ["alice@example.test"]}],
                         sections={"dns": {"nameservers": ["127.0.0.1:9"], "timeout": "1s"}})
    message = (b"From: <carol@friendly.test>\r\nTo: <alice@example.test>\r\nSubject: hi\r\n"
               b"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@friendly.test>\r\n\r\nhello\r\n")
    out = gh.cli("check", "--no-dns", "--ip", "8.8.8.8", "--helo", "mail.friendly.test", "--from", "carol@friendly.test",
                 "--rcpt", "alice@example.test", "--json", input=message).stdout
    verdict = json.loads(out)
    reverse = [c for c in verdict["checks"] if c["name"] == "reverse_dns"]
    assert all(c["score"] == 0 for c in reverse), verdict
    assert not any("no PTR record" in c["detail"] for c in verdict["checks"]), verdict
    assert verdict["verdict"] == "accept" and verdict["score"] < 1.0, verdict


def test_check_all_checks_runs_what_would_be_skipped_and_lists_every_finding(smtp_sink, start_gatehouse):
    """--all-checks (what bench/weights fits on): a check the engine would skip because it cannot
    change the verdict runs anyway, and "findings" names every finding with its stage and action."""
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}",
                           "recipients": "list", "addresses": ["alice@example.test"]}],
                         sections={"dns": {"nameservers": ["127.0.0.1:9"], "timeout": "1s"},
                                   "filter": {"tag_threshold": 1.0, "reject_threshold": 1000.0},
                                   # its ham bands could take the score under the tag line
                                   "filter.checks.classifier": {"enabled": False}})
    message = (b"From: <carol@friendly.test>\r\nTo: <alice@example.test>\r\nSubject: hi\r\n"
               b"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@friendly.test>\r\n\r\nhello\r\n")
    # "nofqdn" scores helo not_fqdn (2.5): tagged whatever the checks after it could add or take.
    argv = ["check", "--no-dns", "--ip", "8.8.8.8", "--helo", "nofqdn", "--from", "carol@friendly.test",
            "--rcpt", "alice@example.test", "--json"]
    usual = json.loads(gh.cli(*argv, input=message).stdout)
    assert usual["verdict"] == "tag", usual
    assert "reverse_dns" in usual["skipped"], usual
    every = json.loads(gh.cli(*argv, "--all-checks", input=message).stdout)
    assert every["verdict"] == "tag" and every["skipped"] == [], every
    assert any(c["name"] == "reverse_dns" for c in every["checks"]), every
    assert {"check": "helo", "finding": "not_fqdn", "stage": "helo", "action": "2.5"} in every["findings"], every
