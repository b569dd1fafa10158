"""The recovery pages in a real browser (tests/browser/recovery_ui.mjs, Debian's chromium under
playwright-core) against the real daemon: a message the back-end refused is released from its
detail page and arrives at the (fixed) back-end, a replay is counted, run and followed to the end
(the back-end receives every message again), the Queue page shows a message whose back-end is
down and deletes it after a confirmation. Screenshots (desktop and phone width) go to
build/artifacts/screenshots/recovery-*.png."""
import uuid

import pytest

from conftest import send_message, sink_subjects, wait_for_port, wait_until
from test_web_browser import DIST, PASSWORD, SCREENSHOTS, _browser_missing, run_browser_script


def test_browser_release_replay_and_queue(tmp_path, free_port, smtp_sink, start_gatehouse):
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    assert (DIST / "index.html").is_file(), "web/dist is not built: scripts/build.sh runs npm run build in web/"
    refusing = smtp_sink(["-f", "."], name="refusing")
    port = refusing.port
    replay_sink = smtp_sink(name="replay")
    down = free_port()
    gh = start_gatehouse([
        {"name": "example.test", "backend": f"smtp:127.0.0.1:{port}", "recipients": "any"},
        {"name": "replay.test", "backend": f"smtp:127.0.0.1:{replay_sink.port}", "recipients": "any"},
        {"name": "down.test", "backend": f"smtp:127.0.0.1:{down}", "recipients": "any"},
    ], sections={"web": {"static_dir": str(DIST)}, "delivery": {"retry_schedule": ["1h"]}})
    password_file = tmp_path / "root.password"
    password_file.write_text(PASSWORD + "\n")
    gh.cli("admin", "add", "root", "--password-file", str(password_file))
    wait_for_port(gh.web_port, timeout=10)

    tag = uuid.uuid4().hex[:6]
    rejected = send_message(gh.port, "alice@example.test", f"browser-release-{tag}")
    assert rejected.code >= 500 and rejected.id, rejected
    replayed = [f"browser-replay-{i}-{tag}" for i in range(5)]
    for subject in replayed:
        assert send_message(gh.port, "bob@replay.test", subject).code == 250
    queued = send_message(gh.port, "carol@down.test", f"browser-queued-{tag}")
    assert queued.code == 250
    gh.wait_for_row(rejected.id)
    gh.wait_for_row(queued.id, lambda r: r["delivery_status"] == "queued")
    wait_until(lambda: len([r for r in gh.log_rows("--domain", "replay.test")]) == 5, timeout=10, message="5 rows")
    assert sorted(sink_subjects(replay_sink)) == sorted(replayed)
    # The mail server of example.test is fixed: a sink that accepts, on the same address.
    refusing.stop()
    good = smtp_sink(port=port, name="good")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("recovery-*.png"):
        old.unlink()
    run_browser_script("recovery_ui.mjs", gh, REJECTED_ID=rejected.id, REPLAY_DOMAIN="replay.test", REPLAY_COUNT="5",
                       QUEUED_ID=queued.id)

    # What the browser did reached the back-ends and the log.
    assert sink_subjects(good) == [f"browser-release-{tag}"], "the released message arrived, once"
    gh.wait_for_row(rejected.id, lambda r: r["delivery_status"] == "released")
    assert sorted(sink_subjects(replay_sink)) == sorted(replayed * 2), "every message of the window again"
    gh.wait_for_row(queued.id, lambda r: r["delivery_status"] == "deleted")
    shots = {p.name for p in SCREENSHOTS.glob("recovery-*.png")}
    for name in ("01-released-detail", "02-released-detail-phone", "03-replay-preview", "04-replay-finished",
                 "05-replay-finished-phone", "06-queue", "07-queue-phone", "08-queue-delete-confirmation",
                 "09-queue-empty", "10-queue-empty-phone"):
        assert f"recovery-{name}.png" in shots, (name, sorted(shots))
