"""The basic promise end to end: a message sent with swaks to a served address reaches the
back-end (Postfix's smtp-sink), with our Received header and the transaction ID in the reply."""
import re
import subprocess


def swaks(port, *args, timeout=30):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--timeout", "20", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_delivery_to_smtp_backend(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "list",
                           "addresses": ["alice@example.test"]}])
    result = swaks(gh.port, "--to", "alice@example.test", "--from", "sender@remote.test", "--header", "Subject: hello")
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"250 2\.0\.0 Ok: queued \(ID:([0-9A-Z]{14})\)", result.stdout)
    assert match, result.stdout
    texts = sink.texts()
    assert len(texts) == 1
    assert "Subject: hello" in texts[0]
    assert f"id {match.group(1)}" in texts[0]  # our Received header
    row = gh.wait_for_row(match.group(1))
    assert row["disposition"] == "accept" and row["delivery_status"] == "delivered"
    assert row["subject"] == "hello"
