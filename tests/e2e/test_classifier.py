"""The adaptive classifier end to end: `gatehouse learn` on part of the SpamAssassin public corpus's
training split (files whose MD5 does not begin with 0-3; the held-out part is never read here),
then unseen training-split spam through the gateway is refused or tagged with the classifier in
the explanation (or refused on cheaper evidence before the classifier is needed) while unseen ham
is accepted; `gatehouse release` teaches ham; a local user's reply
(from a trusted network) teaches that the message it answers is ham; a confidently rejected message
is learned as spam by itself. The corpus is read from ../shared, never copied."""
import json
import re
import smtplib
import uuid

import pytest

from conftest import SHARED, send_message, sink_subjects, wait_until

CORPUS = SHARED / "corpora" / "spam" / "spamassassin-public"
LEARNED_PER_KIND = 250      # above min_learned (200); keeps `gatehouse learn` to a few seconds
UNSEEN_PER_KIND = 10

pytestmark = pytest.mark.skipif(not (CORPUS / "labels.tsv").exists(), reason="SpamAssassin corpus not available")


def training_split(folders):
    """Training-split message files of these corpus folders, in name order."""
    files = []
    for folder in folders:
        for path in sorted((CORPUS / folder).iterdir()):
            digest = path.name.split(".")[-1]
            if digest[0] not in "0123":
                files.append(path)
    return files


def without_mbox_line(path):
    data = path.read_bytes()
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[1]
    return data


def log_row(gh, transaction_id):
    """The log row of a transaction. Read leniently: corpus Subjects carry 8-bit bytes, which the
    log's JSON passes through as they are."""
    def ready():
        out = gh.cli("log", "search", "--json", "--id", transaction_id).stdout.decode("utf-8", "replace")
        rows = json.loads(out)
        return rows[0] if rows else None
    return wait_until(ready, timeout=15, interval=0.1, message=f"log row {transaction_id}")


def classifier_detail(row):
    for check in row["checks"]:
        if check["name"] == "classifier":
            return check["detail"]
    return ""


@pytest.fixture
def trained(smtp_sink, start_gatehouse):
    ham = training_split(["easy_ham"])
    spam = training_split(["spam", "spam_2"])
    sink = smtp_sink()
    gh = start_gatehouse([{"name": "example.test", "backend": f"smtp:127.0.0.1:{sink.port}", "recipients": "any"}],
                         server={"trusted_networks": ["127.0.0.2/32"]},
                         sections={"classifier": {"autolearn_spam_margin": 0.0}}, start=False)
    args = ["learn", "--quiet"]
    for path in ham[:LEARNED_PER_KIND]:
        args += ["--ham", str(path)]
    for path in spam[:LEARNED_PER_KIND]:
        args += ["--spam", str(path)]
    out = gh.cli(*args, timeout=300).stdout.decode()
    assert f"{LEARNED_PER_KIND} spam and {LEARNED_PER_KIND} ham" in out, out
    gh.start()
    unseen_ham = ham[LEARNED_PER_KIND:LEARNED_PER_KIND + UNSEEN_PER_KIND]
    unseen_spam = spam[LEARNED_PER_KIND:LEARNED_PER_KIND + UNSEEN_PER_KIND]
    return gh, sink, unseen_ham, unseen_spam


def test_learn_reports_progress_errors_and_does_not_count_twice(tmp_path, start_gatehouse):
    gh = start_gatehouse([{"name": "example.test", "backend": "maildir:" + str(tmp_path / "md"), "recipients": "any"}],
                         start=False)
    ham = training_split(["easy_ham"])[:3]
    first = gh.cli("learn", "--ham", str(ham[0]), "--ham", str(ham[1]))
    assert b"2 learned" in first.stdout and b"learning 2/2" in first.stderr, first
    again = gh.cli("learn", "--ham", str(ham[0]), "--spam", str(ham[1]), "--ham", str(ham[2]))
    out = again.stdout.decode()
    assert "1 learned, 1 moved to the other kind, 1 already known" in out, out
    assert "1 spam and 2 ham" in out, out
    missing = gh.cli("learn", "--ham", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode == 2 and b"nowhere" in missing.stderr, missing
    forgotten = gh.cli("learn", "--forget", "--ham", str(ham[0]))
    assert b"1 forgotten" in forgotten.stdout and b"1 spam and 1 ham" in forgotten.stdout, forgotten


def test_unseen_spam_is_refused_or_tagged_and_unseen_ham_accepted(trained):
    gh, sink, unseen_ham, unseen_spam = trained
    caught = []
    decided_before = []   # refused on cheaper evidence alone: the engine skips the classifier then
    for path in unseen_spam:
        result = send_message(gh.port, "alice@example.test", message=without_mbox_line(path))
        assert result.id, result
        row = log_row(gh, result.id)
        detail = classifier_detail(row)
        if row["disposition"] in ("reject", "tag") and detail.startswith("spam_"):
            caught.append((path.name, row["disposition"], detail))
        elif row["disposition"] == "reject" and not detail:
            decided_before.append(path.name)
    assert len(caught) + len(decided_before) >= UNSEEN_PER_KIND - 2, f"spam caught by the classifier: {caught}"
    assert len(caught) >= UNSEEN_PER_KIND // 2, f"spam caught by the classifier: {caught}; before it: {decided_before}"
    assert any(disposition == "reject" for _, disposition, _ in caught), caught
    assert all("probability" in detail and "spam-like" in detail for _, _, detail in caught), caught

    clean = 0
    for path in unseen_ham:
        result = send_message(gh.port, "alice@example.test", message=without_mbox_line(path))
        assert result.code == 250, f"{path.name}: ham refused: {result}"
        row = log_row(gh, result.id)
        detail = classifier_detail(row)
        assert not detail.startswith("spam_99"), f"{path.name}: {detail}"
        clean += row["disposition"] == "accept"
    assert clean >= UNSEEN_PER_KIND - 1, "ham must be delivered untagged"


def test_release_and_replies_teach_ham_and_confident_rejections_teach_spam(trained):
    gh, sink, unseen_ham, unseen_spam = trained
    # A confidently rejected spam is learned as spam on its own (autolearn_spam_margin = 0 here).
    rejected = []
    for path in unseen_spam:
        result = send_message(gh.port, "alice@example.test", message=without_mbox_line(path))
        if 500 <= result.code < 600:
            rejected.append((path, result.id))
    assert len(rejected) >= 2, rejected
    wait_until(lambda: gh.log().count("as spam (autolearn)") >= len(rejected), timeout=30,
               message="automatic spam lessons")
    known = gh.cli("learn", "--spam", str(rejected[0][0])).stdout.decode()
    assert "1 already known" in known, known

    # The administrator releases one: delivered, and learned as ham instead of spam.
    path, transaction_id = rejected[1]
    released = gh.cli("release", transaction_id).stdout.decode()
    assert "released" in released and "learned as ham" in released, released
    moved = gh.cli("learn", "--ham", str(path)).stdout.decode()
    assert "1 already known" in moved, f"the release must have taught ham: {moved}"

    # A local user (trusted network 127.0.0.2) answers an inbound message: that message is ham.
    message_id = f"<{uuid.uuid4().hex}@remote.test>"
    original = (f"From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: lunch on friday\r\n"
                f"Message-ID: {message_id}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n"
                "Shall we meet at noon by the usual place? I can book a table.\r\n")
    inbound = send_message(gh.port, "alice@example.test", sender="bob@remote.test", message=original.encode())
    assert inbound.code == 250, inbound
    gh.wait_for_row(inbound.id)
    reply = (f"From: Alice <alice@example.test>\r\nTo: carol@example.test\r\nSubject: Re: lunch on friday\r\n"
             f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\nIn-Reply-To: {message_id}\r\n"
             f"References: {message_id}\r\nDate: Fri, 27 Nov 2026 10:05:00 +0000\r\n\r\nNoon is fine.\r\n")
    with smtplib.SMTP("127.0.0.1", gh.port, local_hostname="workstation.example.test", timeout=30,
                      source_address=("127.0.0.2", 0)) as smtp:
        smtp.sendmail("alice@example.test", ["carol@example.test"], reply.encode())
    wait_until(lambda: "answered by a local user" in gh.log(), timeout=30, message="ham lesson from the reply")
    assert re.search(rf"id={inbound.id} answered by a local user: ham", gh.log()), gh.log()[-2000:]
