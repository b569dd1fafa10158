"""Tests of bench/weights/fit.py's arithmetic on small made-up data (no gatehouse, no corpus):
/usr/bin/python3 -m pytest -q bench/weights/test_fit.py"""
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit  # noqa: E402


def dataset(rows, labels, features, offsets=None):
    return fit.Dataset(features, rows, offsets or [0.0] * len(rows), labels)


def synthetic(seed=3, n=2000):
    """Feature 0 is a strong spam sign, feature 1 a weak one, feature 2 noise, feature 3 the
    classifier's ham band (a ham sign)."""
    rng = random.Random(seed)
    features = [("a", "strong"), ("a", "weak"), ("a", "noise"), ("classifier", "ham_99")]
    rows, labels = [], []
    for _ in range(n):
        spam = rng.random() < 0.4
        row = []
        if rng.random() < (0.8 if spam else 0.02):
            row.append(0)
        if rng.random() < (0.3 if spam else 0.15):
            row.append(1)
        if rng.random() < 0.3:
            row.append(2)
        if rng.random() < (0.05 if spam else 0.9):
            row.append(3)
        rows.append(row)
        labels.append(1 if spam else 0)
    return dataset(rows, labels, features)


def test_regression_orders_the_signs_and_respects_directions():
    data = synthetic()
    w, intercept, _ = fit.fit_logistic(data, l2=1.0)
    strong, weak, noise, ham = w
    assert strong > weak > 0
    assert abs(noise) < 0.3
    assert ham < 0
    # A spam sign that the data make look like ham is held at 0, never fitted negative.
    flipped = dataset([[0]] * 50 + [[]] * 50, [0] * 50 + [1] * 50, [("a", "spam_sign")])
    assert fit.fit_logistic(flipped, l2=1.0)[0][0] == 0.0


def test_rates_count_tag_and_reject_lines():
    data = dataset([[0], [0, 1], [], [1]], [1, 1, 0, 0], [("a", "x"), ("a", "y")], offsets=[0, 0, 0, 4.5])
    r = fit.rates(data, [6.0, 4.0])
    assert (r.spam_caught, r.spam_rejected) == (2, 1)     # 6 tags, 10 rejects
    assert (r.ham_tagged, r.ham_rejected) == (1, 0)       # 4 + 4.5 offset tags


def test_chosen_scale_keeps_ham_within_budget():
    data = synthetic()
    w, _, _ = fit.fit_logistic(data, l2=1.0)
    scale, cap, r = fit.choose_scale(data, w, [6, 8, 10], 4.0, max_ham_tagged=1.0)
    assert r.ham_rejected == 0
    assert r.percent(r.ham_tagged, r.ham) <= 1.0
    assert r.spam_caught > 0
    points, refined = fit.refine(data, w, fit.points_for(w, scale, cap, 4.0, data), cap, 4.0, 1.0)
    assert fit.within_budget(refined, 1.0)
    assert refined.spam_caught >= r.spam_caught
    assert refined.ham_near_reject <= r.ham_near_reject   # no ham brought nearer the reject line


def test_the_cap_is_chosen_by_the_refined_points():
    data = synthetic()
    w, _, _ = fit.fit_logistic(data, l2=1.0)
    scale, cap, scaled, first, points, refined = fit.fit_points(data, w, [6, 8, 10], 4.0, max_ham_tagged=1.0)
    assert fit.within_budget(refined, 1.0)
    assert scaled == fit.points_for(w, scale, cap, 4.0, data)
    for other in (6, 8, 10):   # no cap refines to more spam caught plus rejected
        s, c, _ = fit.choose_scale(data, w, [other], 4.0, max_ham_tagged=1.0)
        _, r = fit.refine(data, w, fit.points_for(w, s, c, 4.0, data), c, 4.0, 1.0)
        assert r.spam_caught + r.spam_rejected <= refined.spam_caught + refined.spam_rejected
    # Points in use that do better than any fitted start are kept (and searched from).
    in_use = list(points)
    again = fit.fit_points(data, w, [6, 8, 10], 4.0, max_ham_tagged=1.0, in_use=in_use)
    assert again[5].spam_caught + again[5].spam_rejected >= refined.spam_caught + refined.spam_rejected
    # Points in use beyond the budget are not a start.
    everything_spam = [10.0 if f not in fit.HAM_SIGNS else 0.0 for f in data.features]
    assert not fit.within_budget(fit.rates(data, everything_spam), 1.0)
    assert fit.fit_points(data, w, [6, 8, 10], 4.0, 1.0, in_use=everything_spam)[0] > 0


def test_bands_are_made_monotone():
    features = [("classifier", "spam_50"), ("classifier", "spam_80"), ("classifier", "spam_95")]
    data = dataset([], [], features)
    assert fit.make_monotone(data, [4.0, 2.0, 6.0]) == [3.0, 3.0, 6.0]
    assert fit.is_monotone(data, [3.0, 3.0, 6.0])
    assert not fit.is_monotone(data, [4.0, 2.0, 6.0])
