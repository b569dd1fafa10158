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
