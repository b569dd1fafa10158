"""Tests of the benchmark's own logic (the split, the envelope read back from Received fields, the
parsing of SpamAssassin's report, the summary): fast, no filter needed. Not part of CI (bench/ is
not collected); run with
    /usr/bin/python3 -m pytest -q -p no:cacheprovider bench/accuracy/test_accuracy_parts.py"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402
import envelope  # noqa: E402
import runner_gatehouse  # noqa: E402
import runner_spamassassin  # noqa: E402
import split  # noqa: E402
from common import ACCEPT, REJECT, TAG, Verdict, by_thresholds  # noqa: E402

corpus_present = pytest.mark.skipif(not (split.DEFAULT_CORPUS / "labels.tsv").is_file(),
                                    reason="SpamAssassin public corpus not in ../shared")


def test_held_out_is_decided_by_the_first_hex_digit_of_the_name_md5():
    assert split.name_md5("00001.7c53336b37003a9286aba55d2945844c") == "7c53336b37003a9286aba55d2945844c"
    assert split.is_held_out("0abc") and split.is_held_out("3fff")
    assert not split.is_held_out("4000") and not split.is_held_out("f000") and not split.is_held_out("a000")
    with pytest.raises(ValueError):
        split.name_md5("cmds")


@corpus_present
def test_split_of_the_corpus_is_a_quarter_held_out_and_disjoint():
    messages = split.load_corpus()
    train, held = split.training(messages), split.held_out(messages)
    assert len(messages) == 6046 and len(train) + len(held) == len(messages)
    assert not {m.relative for m in train} & {m.relative for m in held}
    assert sum(m.label == "ham" for m in held) == 1016 and sum(m.label == "spam" for m in held) == 480
    assert all(m.md5[0] in "0123" for m in held) and all(m.md5[0] not in "0123" for m in train)


@corpus_present
def test_quick_sample_is_reproducible_and_capped_per_label():
    held = split.held_out(split.load_corpus())
    first, again = split.sample(held, 20), split.sample(held, 20)
    assert [m.relative for m in first] == [m.relative for m in again]
    assert sum(m.label == "ham" for m in first) == 20 and sum(m.label == "spam" for m in first) == 20


@pytest.mark.parametrize("field, expected", [
    # sendmail / Postfix: from HELO (rdns [ip])
    ("from mail1.insuranceiq.com (host66.insuranceiq.com [65.217.159.66]) by dogma.slashnull.org",
     ("65.217.159.66", "mail1.insuranceiq.com", "host66.insuranceiq.com")),
    # no reverse DNS
    ("from relay.example (unknown [66.35.250.150]) by mx.example (Postfix) with ESMTP id 1",
     ("66.35.250.150", "relay.example", "")),
    # exim: from rdns ([ip] helo=HELO)
    ("from mx.sender.example ([193.172.5.4] helo=laptop) by mail.example with esmtp (Exim 3.35)",
     ("193.172.5.4", "laptop", "mx.sender.example")),
    # qmail: from rdns (HELO name) (ip)
    ("from unknown (HELO friend) (192.0.2.44) by mail.example with SMTP; 1 Aug 2002",
     None),  # 192.0.2.0/24 is documentation space, not public: skipped
    ("from unknown (HELO friend) (8.8.4.4) by mail.example with SMTP; 1 Aug 2002",
     ("8.8.4.4", "friend", "")),
    # the collector's own hops are private or loopback: skipped
    ("from localhost (localhost [127.0.0.1]) by phobos.labs.example (Postfix)", None),
    ("from gate (gate [10.0.0.1]) by inside (8.11.6)", None),
])
def test_received_fields_give_client_helo_and_reverse_name(field, expected):
    assert envelope.parse_received(field) == expected


def test_envelope_skips_the_mbox_line_and_takes_the_first_public_hop(tmp_path):
    message = tmp_path / "m"
    message.write_bytes(
        b"From someone@example  Thu Aug 22 12:36:23 2002\n"
        b"Return-Path: <list-admin@lists.example>\n"
        b"Received: from localhost (localhost [127.0.0.1]) by box.example (Postfix)\n"
        b"Received: from out.lists.example (out.lists.example [8.8.8.8])\n\tby box.example (8.11.6)\n"
        b"Received: from x (y [9.9.9.9]) by out.lists.example\n"
        b"Subject: hi\n\nbody\n")
    assert envelope.read_envelope(message) == envelope.Envelope("list-admin@lists.example", "8.8.8.8",
                                                                "out.lists.example", "out.lists.example")


def test_envelope_passes_over_the_collecting_sites_own_relays(tmp_path):
    """mandark.labs.netnoteinc.com passed the collector's mail on to dogma.slashnull.org; the client
    a gateway would have talked to is the sender below it."""
    message = tmp_path / "m"
    message.write_bytes(
        b"Return-Path: <offers@sender.example>\n"
        b"Received: from mandark.labs.netnoteinc.com ([213.105.180.140]) by\n    dogma.slashnull.org (8.11.6/8.11.6)\n"
        b"Received: from mydomain.com (213-96-189-190.uc.nombres.ttd.es [213.96.189.190])\n"
        b"    by mandark.labs.netnoteinc.com (8.11.6/8.11.6); Fri, 23 Aug 2002 21:24:39 -0400 (EDT)\n"
        b"Subject: hi\n\nbody\n")
    found = envelope.read_envelope(message)
    assert found == envelope.Envelope("offers@sender.example", "213.96.189.190", "mydomain.com",
                                      "213-96-189-190.uc.nombres.ttd.es", "2002-08-24T01:24:39Z")
    argv = runner_gatehouse.envelope_argv(found)
    assert argv[argv.index("--ptr") + 1] == "213-96-189-190.uc.nombres.ttd.es"
    assert argv[argv.index("--ip") + 1] == "213.96.189.190" and argv[argv.index("--helo") + 1] == "mydomain.com"
    assert argv[argv.index("--arrival") + 1] == "2002-08-24T01:24:39Z"
    # No name recorded for the client: no --ptr (no evidence either way); no public hop: the neutral client.
    assert "--ptr" not in runner_gatehouse.envelope_argv(envelope.Envelope("a@b.example", "8.8.8.8", "x.example", ""))
    assert runner_gatehouse.envelope_argv(envelope.Envelope("", None, "", ""))[-4:] == [
        "--ip", runner_gatehouse.NEUTRAL_CLIENT[0], "--helo", runner_gatehouse.NEUTRAL_CLIENT[1]]


def test_arrival_of_mail_without_a_public_hop_is_when_the_collector_filed_it(tmp_path):
    message = tmp_path / "m"
    message.write_bytes(b"From tim@example.net  Fri Sep  6 11:51:20 2002\n"
                        b"Received: from localhost (localhost [127.0.0.1]) by box.example; 6 Sep 2002 10:00:01 -0000\n"
                        b"Subject: hi\n\nbody\n")
    assert envelope.read_envelope(message).arrival == "2002-09-06T10:00:01Z"   # a Received time first
    message.write_bytes(b"From tim@example.net  Fri Sep  6 11:51:20 2002\nSubject: hi\n\nbody\n")
    assert envelope.read_envelope(message).arrival == "2002-09-06T11:51:20Z"
    message.write_bytes(b"Return-Path: tim@example.net\nDelivery-Date: Fri Sep  6 03:14:07 2002\nSubject: hi\n\nbody\n")
    assert envelope.read_envelope(message).arrival == "2002-09-06T03:14:07Z"
    message.write_bytes(b"Subject: hi\n\nbody\n")
    assert envelope.read_envelope(message).arrival == ""
    assert "--arrival" not in runner_gatehouse.envelope_argv(envelope.read_envelope(message))


def test_spamc_report_gives_score_and_rules():
    report = ("7.2/5.0\nSpam detection software ...\n\nContent analysis details:   (7.2 points, 5.0 required)\n\n"
              " pts rule name              description\n"
              "---- ---------------------- --------------------------------------------------\n"
              " 3.5 BAYES_99               BODY: Bayes spam probability is 99 to 100%\n"
              "                            [score: 1.0000]\n"
              "-1.0 MAILING_LIST_MULTI     Multiple indicators imply a widely-seen list\n")
    score, rules = runner_spamassassin.parse_report(report)
    assert score == 7.2 and rules == ["BAYES_99=3.5", "MAILING_LIST_MULTI=-1"]


def test_thresholds_and_summary_count_tagged_or_worse_and_caught():
    assert by_thresholds(4.9, 5, 10) == ACCEPT and by_thresholds(5, 5, 10) == TAG and by_thresholds(10, 5, 10) == REJECT
    verdicts = [Verdict("h1", "ham", ACCEPT), Verdict("h2", "ham", TAG), Verdict("h3", "ham", REJECT),
                Verdict("h4", "ham", ACCEPT), Verdict("s1", "spam", TAG), Verdict("s2", "spam", REJECT),
                Verdict("s3", "spam", ACCEPT), Verdict("s4", "spam", "error")]
    summary = accuracy.summarise(verdicts)
    assert summary["ham_rejected"]["count"] == 1 and summary["ham_tagged_or_worse"]["count"] == 2
    assert summary["spam_caught"]["percent"] == 50.0 and summary["spam_rejected"]["count"] == 1
    assert summary["errors"] == {"ham": 0, "spam": 1}
