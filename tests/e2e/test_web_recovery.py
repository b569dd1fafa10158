"""The web API's recovery routes against the real daemon and real back-ends (smtp-sink): release of
a message the back-end refused arrives at the back-end once it is fixed (and the answer is shown and
logged), a domain administrator cannot release another domain's message, a change without the CSRF
header is refused, the delivery queue listed / retried / deleted while the back-end is down then up,
a replay previewed (count) and run with its progress followed to the end, and every route of this
slice documented in the OpenAPI document."""
import json
import time
import uuid

import pytest

import test_web_api as web_api
from conftest import send_message, sink_subjects, wait_for_port, wait_until

PASSWORD = web_api.PASSWORD
EVE_PASSWORD = web_api.EVE_PASSWORD

ROUTES = {("POST", "/api/v1/messages/{id}/release"), ("POST", "/api/v1/messages/{id}/resend"),
          ("POST", "/api/v1/messages/{id}/train"), ("GET", "/api/v1/jobs/{id}"), ("POST", "/api/v1/replay/preview"),
          ("POST", "/api/v1/replay"), ("GET", "/api/v1/replay"), ("GET", "/api/v1/queue"),
          ("POST", "/api/v1/queue/retry"), ("POST", "/api/v1/queue/{id}/retry"), ("DELETE", "/api/v1/queue/{id}")}


def add_accounts(gh, tmp_path, eve_domain="other.test"):
    password_file = tmp_path / "root.password"
    password_file.write_text(PASSWORD + "\n")
    gh.cli("admin", "add", "root", "--password-file", str(password_file))
    gh.cli("admin", "add", "eve", "--domain", eve_domain, input=(EVE_PASSWORD + "\n").encode())
    wait_for_port(gh.web_port, timeout=10)


def logged_in(gh, user="root", password=PASSWORD):
    client = web_api.Client(gh.web_port)
    assert client.login(user, password).status == 200
    return client


def follow(client, job, timeout=30):
    """Polls a job until it has finished; returns its states as seen."""
    seen = [job]
    deadline = time.time() + timeout
    while job["state"] == "running":
        assert time.time() < deadline, f"job did not finish: {job}"
        time.sleep(0.2)
        status, job = client.json("GET", job["url"])
        assert status == 200, job
        seen.append(job)
    return seen


def test_routes_are_documented_and_need_a_session(tmp_path, smtp_sink, start_gatehouse):
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}])
    wait_for_port(gh.web_port, timeout=10)
    client = web_api.Client(gh.web_port)
    listed = {(method, path) for method, path, _ in web_api.openapi_operations(client)}
    assert ROUTES <= listed, ROUTES - listed
    for method, path in ROUTES:
        response = client.request(method, path.replace("{id}", "ANYID"), body={} if method == "POST" else None)
        assert response.status == 401, (method, path, response.status)


def test_release_of_a_rejected_message_arrives_at_the_backend(tmp_path, smtp_sink, start_gatehouse):
    refusing = smtp_sink(["-f", "."], name="refusing")  # 5xx for the final dot
    port = refusing.port
    gh = start_gatehouse([
        {"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
        {"name": "other.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
    ])
    add_accounts(gh, tmp_path)
    subject = f"web-release-{uuid.uuid4().hex[:8]}"
    result = send_message(gh.port, "alice@example.test", subject)
    assert 500 <= result.code < 600 and result.id, result
    before = gh.wait_for_row(result.id, lambda r: r["disposition"] == "reject" and r["has_message"])

    root = logged_in(gh)
    # While the back-end still refuses, the release fails and says why; the row records it.
    status, job = root.json("POST", f"/api/v1/messages/{result.id}/release")
    assert status == 202, job
    assert job["kind"] == "release" and job["message"] == result.id
    final = follow(root, job)[-1]
    assert final["state"] == "failed" and final["delivered"] is False, final
    assert final["detail"], "the back-end's refusal must be shown"
    gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "released failed")

    # The mail server is fixed: the release arrives, once.
    refusing.stop()
    good = smtp_sink(port=port, name="good")
    status, job = root.json("POST", f"/api/v1/messages/{result.id}/release")
    assert status == 202, job
    final = follow(root, job)[-1]
    assert final["state"] == "done" and final["delivered"] is True, final
    assert final["backend"] == f"smtp:127.0.0.1:{port}"
    assert "250" in final["detail"], final
    assert sink_subjects(good) == [subject]
    # As `gatehouse release` does ([classifier] learn_on_release): the wrongly rejected message is ham.
    assert final["learned_as_ham"] is True, final
    wait_until(lambda: "classifier: learned a message as ham (release)" in gh.log(), timeout=10, message="ham lesson")
    row = gh.wait_for_row(result.id, lambda r: r["delivery_status"] == "released")
    assert row["disposition"] == "reject" and row["delivery_attempts"] == before["delivery_attempts"] + 2, row
    # The detail page's data shows it too.
    status, detail = root.json("GET", f"/api/v1/messages/{result.id}")
    assert status == 200 and detail["delivery_status"] == "released", detail

    # Resend delivers it again; release refuses an accepted message.
    status, job = root.json("POST", f"/api/v1/messages/{result.id}/resend")
    assert status == 202 and follow(root, job)[-1]["state"] == "done"
    assert sink_subjects(good) == [subject, subject]
    accepted = send_message(gh.port, "alice@example.test", subject + "-ok")
    assert accepted.code == 250
    gh.wait_for_row(accepted.id)
    status, body = root.json("POST", f"/api/v1/messages/{accepted.id}/release")
    assert status == 409 and "resend" in body["error"], body

    # Training: the daemon's classifier learns the stored message (on its own thread).
    status, body = root.json("POST", f"/api/v1/messages/{accepted.id}/train", body={"as": "spam"})
    assert status == 202 and body == {"message": accepted.id, "as": "spam", "queued": True}, body
    wait_until(lambda: "classifier: learned a message as spam (web)" in gh.log(), timeout=10, message="spam lesson")
    status, body = root.json("POST", f"/api/v1/messages/{accepted.id}/train", body={"as": "maybe"})
    assert status == 400

    status, audit = root.json("GET", "/api/v1/audit")
    actions = [(e["username"], e["action"]) for e in audit["entries"]]
    assert actions.count(("root", "message.release")) == 2 and ("root", "message.resend") in actions, actions
    assert ("root", "message.train") in actions, actions
    assert f"release of {result.id} by \"root\"" in gh.log()


def test_domain_admin_cannot_release_another_domains_message_nor_post_without_csrf(tmp_path, smtp_sink, start_gatehouse):
    refusing = smtp_sink(["-f", "."], name="refusing")
    port = refusing.port
    gh = start_gatehouse([
        {"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
        {"name": "other.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
    ])
    add_accounts(gh, tmp_path)
    theirs = send_message(gh.port, "alice@example.test", "not-eves")
    mine = send_message(gh.port, "carol@other.test", "eves")
    assert theirs.code >= 500 and mine.code >= 500
    gh.wait_for_row(theirs.id)
    gh.wait_for_row(mine.id)
    refusing.stop()
    good = smtp_sink(port=port, name="good")

    eve = logged_in(gh, "eve", EVE_PASSWORD)
    for action in ("release", "resend"):
        status, body = eve.json("POST", f"/api/v1/messages/{theirs.id}/{action}")
        assert status == 404 and body == {"error": "no such message"}, body
    status, body = eve.json("POST", f"/api/v1/messages/{theirs.id}/train", body={"as": "spam"})
    assert status == 404
    # Without the CSRF header nothing happens, even to her own message.
    response = eve.request("POST", f"/api/v1/messages/{mine.id}/release", csrf=False)
    assert response.status == 403 and b"CSRF" in response.data
    time.sleep(1)
    assert good.messages() == [], "no delivery may have happened"
    row = gh.wait_for_row(theirs.id)
    assert "released" not in row["delivery_status"], row
    # Her own domain's message she may release.
    status, job = eve.json("POST", f"/api/v1/messages/{mine.id}/release")
    assert status == 202 and follow(eve, job)[-1]["state"] == "done"
    assert sink_subjects(good) == ["eves"]


def test_queue_list_retry_and_delete_with_a_backend_down_then_up(tmp_path, free_port, smtp_sink, start_gatehouse):
    port = free_port()  # back-end down
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"}],
                         sections={"delivery": {"retry_schedule": ["1h"]}})
    add_accounts(gh, tmp_path, eve_domain="other.test")
    root = logged_in(gh)
    status, listing = root.json("GET", "/api/v1/queue")
    assert status == 200 and listing == {"messages": [], "total": 0}

    keep = send_message(gh.port, "alice@example.test", "web-queued-keep")
    drop = send_message(gh.port, "bob@example.test", "web-queued-drop")
    assert keep.code == 250 and drop.code == 250
    gh.wait_for_row(keep.id)
    gh.wait_for_row(drop.id)

    def waiting():
        status, listing = root.json("GET", "/api/v1/queue")
        assert status == 200, listing
        # Both there, each waiting for its next retry in about an hour (retry_schedule).
        ready = len(listing["messages"]) == 2 and all(
            m["next_attempt"] and m["next_attempt"] > time.time() * 1000 + 3000 * 1000 for m in listing["messages"])
        return listing if ready else None

    wait_until(waiting, timeout=10, message="two messages queued for an hour")
    by_id = {m["id"]: m for m in waiting()["messages"]}
    assert by_id[keep.id]["recipients"] == ["alice@example.test"]
    assert by_id[keep.id]["backend"] == f"smtp:127.0.0.1:{port}"
    assert by_id[keep.id]["last_error"] and by_id[keep.id]["in_flight"] is False, by_id[keep.id]
    assert by_id[keep.id]["subject"] == "web-queued-keep"
    # A domain administrator of another domain sees none of it, and cannot delete it.
    eve = logged_in(gh, "eve", EVE_PASSWORD)
    assert eve.json("GET", "/api/v1/queue")[1]["messages"] == []
    assert eve.request("DELETE", f"/api/v1/queue/{drop.id}").status == 404
    # Without the CSRF header: refused.
    assert root.request("DELETE", f"/api/v1/queue/{drop.id}", csrf=False).status == 403

    status, body = root.json("DELETE", f"/api/v1/queue/{drop.id}")
    assert status == 200 and "stays stored" in body["note"], body
    gh.wait_for_row(drop.id, lambda r: r["delivery_status"] == "deleted")
    assert root.json("DELETE", f"/api/v1/queue/{drop.id}")[0] == 404, "deleting twice"
    assert [m["id"] for m in root.json("GET", "/api/v1/queue")[1]["messages"]] == [keep.id]

    sink = smtp_sink(port=port)
    time.sleep(1.5)
    assert sink.messages() == [], "retry_schedule is 1h: nothing is delivered before a retry"
    status, body = root.json("POST", f"/api/v1/queue/{keep.id}/retry")
    assert status == 202, body
    wait_until(lambda: sink_subjects(sink) == ["web-queued-keep"], timeout=10, message="retried message delivered")
    gh.wait_for_row(keep.id, lambda r: r["delivery_status"] == "delivered")
    wait_until(lambda: root.json("GET", "/api/v1/queue")[1]["total"] == 0, timeout=5, message="queue empty")
    # Retry all with an empty queue retries nothing; the deleted one is never delivered.
    status, body = root.json("POST", "/api/v1/queue/retry")
    assert status == 202 and body == {"retrying": 0}
    time.sleep(1)
    assert sink_subjects(sink) == ["web-queued-keep"]
    status, audit = root.json("GET", "/api/v1/audit")
    actions = [e["action"] for e in audit["entries"]]
    assert {"queue.delete", "queue.retry", "queue.retry_all"} <= set(actions), actions


def test_replay_preview_and_run_with_progress_to_completion(tmp_path, smtp_sink, start_gatehouse):
    original = smtp_sink(name="original")
    port = original.port
    gh = start_gatehouse([
        {"name": "a.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
        {"name": "b.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
    ])
    add_accounts(gh, tmp_path, eve_domain="b.test")
    tag = uuid.uuid4().hex[:6]
    since = int(time.time() * 1000) - 1000
    window_a = [f"web-win-a{i}-{tag}" for i in range(12)]
    window_b = [f"web-win-b{i}-{tag}" for i in range(2)]
    for s in window_a:
        assert send_message(gh.port, "x@a.test", s).code == 250
    for s in window_b:
        assert send_message(gh.port, "y@b.test", s).code == 250
    assert send_message(gh.port, "z@elsewhere.test", f"relay-{tag}").code == 554
    root = logged_in(gh)
    window = {"since": str(since), "domain": "a.test"}
    wait_until(lambda: root.json("POST", "/api/v1/replay/preview", body=window)[1]["count"] == 12, timeout=10,
               message="12 rows of a.test committed")
    status, preview = root.json("POST", "/api/v1/replay/preview", body={"since": str(since)})
    assert status == 200 and preview["count"] == 14, preview
    status, body = root.json("POST", "/api/v1/replay/preview", body={"since": "last tuesday"})
    assert status == 400 and "since" in body["error"]

    # The mail server was restored from a backup: a fresh, empty back-end on the same address.
    original.stop()
    fresh = smtp_sink(port=port, name="fresh")
    status, job = root.json("POST", "/api/v1/replay", body=window)
    assert status == 202, job
    assert job["total"] == 12 and job["state"] == "running"
    status, busy = root.json("POST", "/api/v1/replay", body=window)
    assert status == 409 and "running" in busy["error"], busy
    seen = follow(root, job)
    final = seen[-1]
    assert final["state"] == "done" and final["done"] == 12 and final["failed"] == 0, final
    assert [s["done"] for s in seen] == sorted(s["done"] for s in seen), "progress only goes forward"
    assert sorted(sink_subjects(fresh)) == sorted(window_a), "exactly a.test's accepted messages"
    status, last = root.json("GET", "/api/v1/replay")
    assert status == 200 and last["running"] is False and last["job"]["id"] == job["id"]

    # A domain administrator replays her domain only.
    eve = logged_in(gh, "eve", EVE_PASSWORD)
    assert eve.json("POST", "/api/v1/replay/preview", body=window)[0] == 403
    assert eve.json("GET", "/api/v1/replay")[1]["job"] is None, "root's replay is not hers to see"
    status, job = eve.json("POST", "/api/v1/replay", body={"since": str(since), "domain": "b.test"})
    assert status == 202 and job["total"] == 2
    assert follow(eve, job)[-1]["done"] == 2
    assert sorted(sink_subjects(fresh)) == sorted(window_a + window_b)
    wait_until(lambda: sum(1 for r in gh.log_rows("--disposition", "accept") if r["delivery_status"] == "replayed") == 14,
               timeout=10, message="the log rows say replayed")


def test_a_slow_backend_does_not_hold_up_the_api(tmp_path, smtp_sink, start_gatehouse):
    """The delivery runs on the daemon's event loop: the request answers at once, and the API keeps
    answering while the back-end takes its time (smtp-sink -w 3: three seconds before the DATA reply)."""
    fast = smtp_sink(name="fast")
    port = fast.port
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"}])
    add_accounts(gh, tmp_path)
    sent = send_message(gh.port, "alice@example.test", "slow-resend")
    assert sent.code == 250
    gh.wait_for_row(sent.id)
    fast.stop()
    slow = smtp_sink(["-w", "3"], port=port, name="slow")
    root = logged_in(gh)
    started = time.monotonic()
    status, job = root.json("POST", f"/api/v1/messages/{sent.id}/resend")
    answered = time.monotonic() - started
    assert status == 202 and job["state"] == "running", job
    assert answered < 1.0, f"the request waited for the back-end: {answered:.2f}s"
    # Meanwhile the API answers, several requests at once.
    for _ in range(5):
        began = time.monotonic()
        assert root.json("GET", "/api/v1/messages?limit=5")[0] == 200
        assert time.monotonic() - began < 1.0
    final = follow(root, job)[-1]
    took = (final["finished"] - final["started"]) / 1000
    assert final["state"] == "done" and took >= 2.5, final
    assert sink_subjects(slow) == ["slow-resend"]
    print(f"resend answered in {answered * 1000:.0f} ms; the slow back-end took {took:.1f} s")
