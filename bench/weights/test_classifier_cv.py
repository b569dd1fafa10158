"""Tests of bench/weights/classifier_cv.py's arithmetic (no gatehouse, no corpus): it must judge as
src/classifier/classifier.cpp does (tests/unit/classifier_test.cpp checks the same values there),
and its cross-validation must never judge a message with counts that include it.
/usr/bin/python3 -m pytest -q bench/weights/test_classifier_cv.py"""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classifier_cv as cv  # noqa: E402


def test_combining_is_confident_only_when_the_evidence_agrees():
    assert cv.combine([0.95] * 20)[0] > 0.999
    assert cv.combine([0.05] * 20)[0] < 0.001
    assert abs(cv.combine([0.99] * 70 + [0.01] * 70)[0] - 0.5) < 0.01
    assert cv.combine([])[0] == 0.5
    # The spam tail of overwhelming evidence is far below the "certain" line, that of a little is not.
    assert cv.combine([0.999] * 150)[1] / math.log(10) < cv.Parameters().certain
    assert cv.combine([0.9] * 5)[1] / math.log(10) > cv.Parameters().certain


def test_bands_follow_the_check():
    p = cv.Parameters()
    assert cv.band_of(0.9995, -200, p) == "spam_certain"
    assert cv.band_of(0.9995, -10, p) == "spam_999"
    assert cv.band_of(0.7, 0, p) == "spam_50"
    assert cv.band_of(0.5, 0, p) == "unsure"
    assert cv.band_of(0.005, 0, p) == "ham_99"


def test_out_of_fold_judging_never_sees_the_message_itself():
    # Each message has one word of its own and nothing else: with its own counts removed the
    # word is unknown, so every message must come out as 0.5 (no opinion), never as its label.
    labels = [i % 2 for i in range(40)]
    md5s = [f"{i:032x}" for i in range(40)]
    rows = [[i] for i in range(40)]
    results = cv.cross_validate(labels, md5s, rows, 4, cv.Parameters())
    assert all(probability == 0.5 for probability, _ in results)


def test_a_shared_spam_word_is_learned_from_the_other_folds():
    labels = [1] * 20 + [0] * 20
    md5s = [f"{i:032x}" for i in range(40)]
    rows = [[0, 10 + i] if label else [1, 10 + i] for i, label in enumerate(labels)]   # word 0 spam, 1 ham
    results = cv.cross_validate(labels, md5s, rows, 4, cv.Parameters())
    assert all((probability > 0.9) == bool(label) for (probability, _), label in zip(results, labels))
