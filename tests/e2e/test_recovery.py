"""Recovery from the command line, the reason there is no quarantine: `release` of a message the
back-end refused after DATA, `resend`, `replay` of a time window (per domain), and the queue
commands `list`, `flush`, `delete` against a running daemon."""
import datetime
import re
import time
import uuid

from conftest import queue_ids, send_message, sink_subjects, wait_until


def utc_now_text(offset_seconds=0):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def domain(name, port, recipients="any", **extra):
    return {"name": name, "backend": f"smtp:127.0.0.1:{port}", "recipients": recipients, **extra}


def test_release_of_message_refused_by_backend_after_data(smtp_sink, start_gatehouse):
    refusing = smtp_sink(["-f", "."], name="refusing")  # 5xx for the final dot
    gh = start_gatehouse([domain("example.test", refusing.port)])
    subject = f"release-{uuid.uuid4().hex[:8]}"
    result = send_message(gh.port, "alice@example.test", subject)
    assert 500 <= result.code < 600, f"the back-end's 5xx must be passed to the client: {result}"
    assert result.id, result
    row = gh.wait_for_row(result.id)
    assert row["disposition"] == "reject" and row["has_message"], row

    # The mail server is fixed (a sink that accepts, on the same address); the admin releases it.
    port = refusing.port
    refusing.stop()
    good = smtp_sink(port=port, name="good")
    out = gh.cli("release", result.id).stdout.decode()
    assert "released" in out, out
    assert sink_subjects(good) == [subject], "release must deliver the message exactly once"
    row = gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "released")
    assert row["disposition"] == "reject"  # the original decision stays on record

    # An accepted message is not "released": that is what resend is for.
    accepted = send_message(gh.port, "alice@example.test", subject + "-ok")
    assert accepted.code == 250
    gh.wait_for_row(accepted.id)  # rows are committed in batches (a few ms); the admin acts later
    refused = gh.cli("release", accepted.id, check=False)
    assert refused.returncode != 0 and b"resend" in refused.stderr, refused


def test_release_waits_for_the_backend_reports_failure_while_it_still_refuses(smtp_sink, start_gatehouse):
    refusing = smtp_sink(["-f", "."], name="refusing")
    gh = start_gatehouse([domain("example.test", refusing.port)])
    result = send_message(gh.port, "alice@example.test", "still-refused")
    assert result.code >= 500
    gh.wait_for_row(result.id)
    attempt = gh.cli("release", result.id, check=False)
    assert attempt.returncode != 0, "release must report that the back-end still refuses"
    assert b"FAILED" in attempt.stdout or b"not delivered" in attempt.stdout, attempt.stdout
    row = gh.wait_for_row(result.id)
    assert row["delivery_status"] != "released", row


def test_resend_delivers_an_accepted_message_again(smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([domain("example.test", sink.port)])
    subject = f"resend-{uuid.uuid4().hex[:8]}"
    result = send_message(gh.port, "alice@example.test", subject)
    assert result.code == 250
    assert sink_subjects(sink) == [subject]
    gh.wait_for_row(result.id)
    gh.cli("resend", result.id)
    assert sink_subjects(sink) == [subject, subject]
    gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "resent")
    missing = gh.cli("resend", "00000000000000", check=False)
    assert missing.returncode != 0


def test_replay_window_and_domain_to_fresh_backend(smtp_sink, start_gatehouse):
    original = smtp_sink(name="original")
    port = original.port
    gh = start_gatehouse([domain("a.test", port), domain("b.test", port)])
    tag = uuid.uuid4().hex[:6]
    assert send_message(gh.port, "x@a.test", f"before-{tag}").code == 250
    time.sleep(1.2)
    since = utc_now_text()
    window_a = [f"win-a{i}-{tag}" for i in range(3)]
    window_b = [f"win-b{i}-{tag}" for i in range(2)]
    for s in window_a:
        assert send_message(gh.port, "x@a.test", s).code == 250
    for s in window_b:
        assert send_message(gh.port, "y@b.test", s).code == 250
    # Not accepted: must never be replayed.
    refused = send_message(gh.port, "z@elsewhere.test", f"relay-{tag}")
    assert refused.code == 554
    time.sleep(1.2)
    until = utc_now_text()
    time.sleep(1.2)
    assert send_message(gh.port, "x@a.test", f"after-{tag}").code == 250
    assert len(original.messages()) == 7
    # The rows must be committed before replay reads them.
    wait_until(lambda: len(gh.log_rows("--since", since, "--until", until, "--disposition", "accept")) == 5, timeout=10,
               message="5 accepted rows in the window")

    # The mail server was restored from a backup: a fresh, empty back-end on the same address.
    original.stop()
    fresh = smtp_sink(port=port, name="fresh")
    dry = gh.cli("replay", "--since", since, "--until", until, "--domain", "a.test", "--dry-run").stdout.decode()
    assert re.search(r"replay: 3 message\(s\)", dry), dry
    assert fresh.messages() == []
    out = gh.cli("replay", "--since", since, "--until", until, "--domain", "a.test").stdout.decode()
    assert re.search(r"replay: 3 message\(s\)", out) and "3/3 done, 0 failed" in out, out
    assert sorted(sink_subjects(fresh)) == sorted(window_a), "exactly a.test's accepted messages of the window"

    fresh.stop()
    fresh2 = smtp_sink(port=port, name="fresh2")
    out = gh.cli("replay", "--since", since, "--until", until).stdout.decode()
    assert "5/5 done, 0 failed" in out, out
    assert sorted(sink_subjects(fresh2)) == sorted(window_a + window_b)


def test_queue_list_flush_delete(free_port, smtp_sink, start_gatehouse):
    port = free_port()  # back-end down
    gh = start_gatehouse([domain("example.test", port)], sections={"delivery": {"retry_schedule": ["1h"]}})
    assert gh.cli("queue", "list").stdout.decode().strip() == "The queue is empty."
    keep = send_message(gh.port, "alice@example.test", "queued-keep")
    drop = send_message(gh.port, "bob@example.test", "queued-drop")
    assert keep.code == 250 and drop.code == 250
    gh.wait_for_row(keep.id)
    gh.wait_for_row(drop.id)
    listing = gh.cli("queue", "list").stdout.decode()
    assert keep.id in listing and drop.id in listing and "2 message(s) queued" in listing, listing
    assert f"smtp:127.0.0.1:{port}" in listing and "alice@example.test" in listing

    out = gh.cli("queue", "delete", drop.id).stdout.decode()
    assert drop.id in out
    assert queue_ids(gh) == [keep.id]
    gh.wait_for_row(drop.id, lambda r: r["delivery_status"] == "deleted")
    assert gh.cli("queue", "delete", drop.id, check=False).returncode != 0, "deleting twice must fail"

    sink = smtp_sink(port=port)
    time.sleep(2)
    assert sink.messages() == [], "retry_schedule is 1h: nothing is delivered before flush"
    flushed = gh.cli("queue", "flush").stdout.decode()
    assert f"pid {gh.process.pid}" in flushed, flushed
    wait_until(lambda: sink_subjects(sink) == ["queued-keep"], timeout=10, message="flushed message delivered")
    gh.wait_for_row(keep.id, lambda r: r["delivery_status"] == "delivered")
    wait_until(lambda: queue_ids(gh) == [], timeout=5, message="queue empty")
    time.sleep(1)
    assert sink_subjects(sink) == ["queued-keep"], "the deleted message must never be delivered"

    gh.stop()
    stopped = gh.cli("queue", "flush", check=False)
    assert stopped.returncode != 0 and b"not running" in stopped.stderr, stopped
