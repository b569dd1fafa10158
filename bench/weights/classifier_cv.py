"""bench/weights/classifier_cv.py: cross-validates the adaptive classifier on the training split of
the SpamAssassin public corpus, outside the program, so that its parameters (Robinson's s and x,
the most clues used, the least |f - 0.5| used, the "certain" tail) and tokenizer changes can be
compared in seconds instead of one `gatehouse learn` + `gatehouse check` per fold and setting.

1. Features (--dump): `gatehouse classify --features` prints, for every training message, the
   features the program's own tokenizer finds (the same code `gatehouse learn` and the check use).
   They are cached in WORK/features.jsonl.
2. Cross-validation: the training split is cut into --folds parts by the hash in the file name (as
   fit.py does); each part is judged with counts learned from the others, by the same arithmetic
   as src/classifier/classifier.cpp (f(w), the strongest clues, Fisher/Robinson combining with the
   tail balance). The held-out split is never read.

Usage, from the repository root:
    /usr/bin/python3 bench/weights/classifier_cv.py --gatehouse build-acc/gatehouse --work /tmp/cv --dump
    /usr/bin/python3 bench/weights/classifier_cv.py --work /tmp/cv --grid s=0.45,1 clues=150,400
It prints, per setting, how the out-of-fold probabilities fall into the check's bands, ham and spam.
A benchmark tool, not a test."""
from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "accuracy"))

import split  # noqa: E402
from common import nice  # noqa: E402

CONFIG = '[server]\nhostname = "cv.bench.test"\nlisten = ["127.0.0.1:1"]\nstate_dir = "{state}"\n'


@dataclass
class Parameters:
    s: float = 0.1                  # Robinson's strength of the prior
    x: float = 0.5                  # Robinson's prior probability
    min_strength: float = 0.1       # |f - 0.5| below this: not a clue
    clues: int = 150                # the most clues used
    certain: float = -80.0          # log10 of the spam tail below which p >= 0.999 is "certain"
    min_count: int = 1              # features seen in fewer learned messages are not clues


def dump(gatehouse: Path, work: Path, jobs: int) -> None:
    train = split.training(split.load_corpus())
    work.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="cv-state-"))
    config = state / "gatehouse.toml"
    config.write_text(CONFIG.format(state=state))
    by_path = {str(m.path): m for m in train}
    chunks = [train[i::jobs] for i in range(jobs)]
    running = [subprocess.Popen(nice([str(gatehouse), "classify", "--config", str(config), "--features",
                                      *[str(m.path) for m in chunk]]), stdout=subprocess.PIPE, text=True,
                                 errors="surrogateescape")
               for chunk in chunks]
    with (work / "features.jsonl").open("w") as out:
        for process in running:
            for line in process.stdout:
                record = json.loads(line)
                message = by_path[record["path"]]
                out.write(json.dumps({"relative": message.relative, "label": message.label, "md5": message.md5,
                                      "features": record["features"]}) + "\n")
            if process.wait() != 0:
                raise SystemExit(f"gatehouse classify --features failed ({process.returncode})")


def load(work: Path, drop_prefixes: tuple = ()) -> tuple[list, list, list, list]:
    """(relative names, labels 1 spam/0 ham, md5s, feature-id lists); features whose text starts with
    one of drop_prefixes are left out (to measure what a kind of feature is worth)."""
    ids: dict = {}
    names, labels, md5s, rows = [], [], [], []
    with (work / "features.jsonl").open() as lines:
        for line in lines:
            record = json.loads(line)
            names.append(record["relative"])
            labels.append(1 if record["label"] == "spam" else 0)
            md5s.append(record["md5"])
            row = set()
            for text in record["features"]:
                if drop_prefixes and text.startswith(drop_prefixes):
                    continue
                row.add(ids.setdefault(text, len(ids)))
            rows.append(sorted(row))
    return names, labels, md5s, rows


def log_chi2_survival(x2: float, degrees: int) -> float:
    m = x2 / 2.0
    if m <= 0:
        return 0.0
    log_m = math.log(m)
    terms = [i * log_m - math.lgamma(i + 1.0) for i in range(max(degrees // 2, 1))]
    largest = max(terms)
    return min(0.0, -m + largest + math.log(sum(math.exp(t - largest) for t in terms)))


def combine(probabilities: list) -> tuple[float, float]:
    """(probability, ln S) as classifier.cpp's combine() and classify()."""
    if not probabilities:
        return 0.5, 0.0
    sum_log_f = sum_log_not_f = 0.0
    for f in probabilities:
        f = min(max(f, 1e-9), 1 - 1e-9)
        sum_log_f += math.log(f)
        sum_log_not_f += math.log(1.0 - f)
    degrees = 2 * len(probabilities)
    log_h = log_chi2_survival(-2.0 * sum_log_f, degrees)
    log_s = log_chi2_survival(-2.0 * sum_log_not_f, degrees)
    h, s = math.exp(log_h), math.exp(log_s)
    robinson = min(max((1.0 + h - s) / 2.0, 0.0), 1.0)
    blend = min(max(1.0 - max(h, s) / 0.01, 0.0), 1.0)
    if blend == 0.0:
        return robinson, log_s
    balance = log_s / (log_h + log_s)
    return min(max(robinson + blend * (balance - 0.5), 0.0), 1.0), log_s


def fold_of(md5: str, folds: int) -> int:
    return int(md5[-2:], 16) % folds


def cross_validate(labels: list, md5s: list, rows: list, folds: int, p: Parameters) -> list:
    """Out-of-fold (probability, log10 spam tail) of every message."""
    n_features = 1 + max((r[-1] for r in rows if r), default=0)
    total_spam = [0] * n_features
    total_ham = [0] * n_features
    all_spam = sum(labels)
    all_ham = len(labels) - all_spam
    for row, label in zip(rows, labels):
        counts = total_spam if label else total_ham
        for c in row:
            counts[c] += 1
    fold = [fold_of(m, folds) for m in md5s]
    out = [None] * len(rows)
    for k in range(folds):
        spam = list(total_spam)
        ham = list(total_ham)
        n_spam, n_ham = all_spam, all_ham
        for i, row in enumerate(rows):
            if fold[i] != k:
                continue
            counts = spam if labels[i] else ham
            for c in row:
                counts[c] -= 1
            if labels[i]:
                n_spam -= 1
            else:
                n_ham -= 1
        for i, row in enumerate(rows):
            if fold[i] != k:
                continue
            candidates = []
            for c in row:
                b, g = spam[c], ham[c]
                n = b + g
                if n == 0 or n < p.min_count:
                    continue
                sr = min(1.0, b / n_spam)
                hr = min(1.0, g / n_ham)
                f = (p.s * p.x + n * (sr / (sr + hr))) / (p.s + n)
                if abs(f - 0.5) >= p.min_strength:
                    candidates.append(f)
            candidates.sort(key=lambda f: -abs(f - 0.5))
            probability, log_s = combine(candidates[:p.clues])
            out[i] = (probability, log_s / math.log(10))
    return out


BANDS = ["ham_99", "ham_95", "unsure", "spam_50", "spam_80", "spam_95", "spam_99", "spam_999", "spam_certain"]


def band_of(probability: float, log10_tail: float, p: Parameters) -> str:
    if probability >= 0.999 and log10_tail <= p.certain:
        return "spam_certain"
    if probability >= 0.999:
        return "spam_999"
    if probability >= 0.99:
        return "spam_99"
    if probability >= 0.95:
        return "spam_95"
    if probability >= 0.80:
        return "spam_80"
    if probability > 0.5:
        return "spam_50"
    if probability <= 0.01:
        return "ham_99"
    if probability <= 0.05:
        return "ham_95"
    return "unsure"


def report(labels: list, results: list, p: Parameters) -> str:
    counts = {b: [0, 0] for b in BANDS}
    for label, (probability, tail) in zip(labels, results):
        counts[band_of(probability, tail, p)][label] += 1
    ham_tails = sorted(t for label, (pr, t) in zip(labels, results) if not label and pr >= 0.5)
    strongest_ham = f"{ham_tails[0]:.0f}" if ham_tails else "-"
    spam_low = sum(1 for label, (pr, t) in zip(labels, results) if label and pr <= 0.5)
    # One ranking of "how spam-like": the probability, and beyond 0.999 the spam tail.
    def key(result):
        probability, tail = result
        return (min(probability, 0.999), -tail if probability >= 0.999 else 0.0)
    ham_keys = sorted((key(r) for label, r in zip(labels, results) if not label), reverse=True)
    spam_keys = [key(r) for label, r in zip(labels, results) if label]

    def above(k: int) -> int:   # spam ranked above the (k+1)-th most spam-like ham
        return sum(1 for s in spam_keys if s > ham_keys[k])
    return (" ".join(f"{b}={counts[b][0]}/{counts[b][1]}" for b in BANDS)
            + f" | spam<=0.5: {spam_low}, ham>0.5: {sum(counts[b][0] for b in BANDS[3:])},"
              f" ham's lowest log10 tail at p>=0.5: {strongest_ham}"
              f" | spam above the most spam-like ham: {above(0)}, above the 3rd: {above(2)},"
              f" above the 16th (0.5 %): {above(15)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gatehouse", type=Path, default=HERE.parents[1] / "build-acc" / "gatehouse")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--dump", action="store_true", help="(re)write WORK/features.jsonl first")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--drop", default="", help="comma-separated feature prefixes to leave out")
    parser.add_argument("--grid", nargs="*", default=[],
                        help="NAME=V1,V2,... for s, x, min_strength, clues, certain, min_count (every combination)")
    parser.add_argument("--save", type=Path, help="write the out-of-fold results of the first setting here")
    args = parser.parse_args(argv)
    if args.dump:
        dump(args.gatehouse.resolve(), args.work, args.jobs)
    names, labels, md5s, rows = load(args.work, tuple(p for p in args.drop.split(",") if p))
    print(f"{len(rows)} training messages ({sum(labels)} spam), {args.folds} folds", file=sys.stderr)
    axes = {}
    for item in args.grid:
        name, _, values = item.partition("=")
        kind = int if name in ("clues", "min_count") else float
        axes[name] = [kind(v) for v in values.split(",")]
    settings = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())] or [{}]
    for i, setting in enumerate(settings):
        p = Parameters(**setting)
        results = cross_validate(labels, md5s, rows, args.folds, p)
        print(f"{setting or 'defaults'}: {report(labels, results, p)}", flush=True)
        if args.save and i == 0:
            with args.save.open("w") as out:
                for name, label, (probability, tail) in zip(names, labels, results):
                    out.write(json.dumps({"relative": name, "label": label, "probability": probability,
                                          "log10_spam_tail": tail}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
