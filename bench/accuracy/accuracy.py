#!/usr/bin/python3
"""bench/accuracy: gatehouse, SpamAssassin and Rspamd side by side on the same split of the
SpamAssassin public corpus. Each filter learns (Bayes / gatehouse's classifier) from the training
split only and is then asked about every held-out message (split.py); the table shows ham rejected,
ham tagged or worse, spam caught (tagged or rejected) and spam rejected, and a JSON report with every
verdict goes to bench/results/.

Usually run through run.sh (which puts it in a private network namespace); see README.md."""
from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runner_gatehouse  # noqa: E402
import runner_rspamd  # noqa: E402
import runner_spamassassin  # noqa: E402
import split  # noqa: E402
from common import ACCEPT, ERROR, REJECT, TAG, Unavailable  # noqa: E402

RUNNERS = {"gatehouse": runner_gatehouse, "spamassassin": runner_spamassassin, "rspamd": runner_rspamd}
RESULTS = Path(__file__).resolve().parents[1] / "results"
QUICK_TRAIN, QUICK_HELD = 250, 50   # per label; 250 > the 200 learned messages each Bayes waits for


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def summarise(verdicts) -> dict:
    counts = {label: collections.Counter(v.outcome for v in verdicts if v.label == label) for label in split.LABELS}
    ham, spam = counts["ham"], counts["spam"]
    n_ham, n_spam = sum(ham.values()), sum(spam.values())

    def share(count: int, total: int) -> dict:
        return {"count": count, "total": total, "percent": round(100.0 * count / total, 2) if total else None}

    return {
        "ham_rejected": share(ham[REJECT], n_ham),
        "ham_tagged_or_worse": share(ham[TAG] + ham[REJECT], n_ham),
        "spam_caught": share(spam[TAG] + spam[REJECT], n_spam),
        "spam_rejected": share(spam[REJECT], n_spam),
        "errors": {"ham": ham[ERROR], "spam": spam[ERROR]},
        "actions": {label: dict(collections.Counter(v.action or v.outcome for v in verdicts if v.label == label))
                    for label in split.LABELS},
    }


def mistakes(verdicts, limit: int = 60) -> dict:
    def row(v):
        return {"message": v.relative, "outcome": v.outcome, "score": v.score, "action": v.action,
                "rules": v.rules[:12], **({"error": v.error} if v.error else {})}

    return {
        "ham_not_accepted": [row(v) for v in verdicts if v.label == "ham" and v.outcome != ACCEPT][:limit],
        "spam_accepted": [row(v) for v in verdicts if v.label == "spam" and v.outcome in (ACCEPT, ERROR)][:limit],
    }


def table(results: dict) -> str:
    header = f"{'':24}" + "".join(f"{name:>22}" for name in results)
    lines = [header, "-" * len(header)]

    def cell(entry, key):
        if "unavailable" in entry:
            return "—"
        s = entry["summary"][key]
        return f"{s['count']}/{s['total']} {s['percent']:.2f}%"

    for key, title in (("ham_rejected", "ham rejected"), ("ham_tagged_or_worse", "ham tagged or worse"),
                       ("spam_caught", "spam caught"), ("spam_rejected", "spam rejected")):
        lines.append(f"{title:24}" + "".join(f"{cell(e, key):>22}" for e in results.values()))

    def extra(entry, what):
        if "unavailable" in entry:
            return "—"
        if what == "errors":
            e = entry["summary"]["errors"]
            return f"{e['ham'] + e['spam']}"
        if what == "time":
            i = entry["info"]
            return f"{i.get('train_seconds', 0):.0f} s + {i.get('scan_seconds', 0):.0f} s"
        return entry["info"].get("version", "?")

    lines.append(f"{'errors (not judged)':24}" + "".join(f"{extra(e, 'errors'):>22}" for e in results.values()))
    lines.append(f"{'time learn + judge':24}" + "".join(f"{extra(e, 'time'):>22}" for e in results.values()))
    lines.append(f"{'version':24}" + "".join(f"{extra(e, 'version')[:21]:>22}" for e in results.values()))
    for name, entry in results.items():
        if "unavailable" in entry:
            lines.append(f"{name}: {entry['unavailable']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="gatehouse,spamassassin,rspamd",
                        help="comma-separated filters to run (default: all three)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a sample: {QUICK_TRAIN} training and {QUICK_HELD} held-out messages per label")
    parser.add_argument("--jobs", type=int, default=2, help="messages judged at once, per filter (default 2)")
    parser.add_argument("--corpus", default=str(split.DEFAULT_CORPUS))
    parser.add_argument("--out", help="JSON report path (default bench/results/accuracy-<date>-<time>.json)")
    parser.add_argument("--work", help="work directory (default: a new one under /tmp, removed unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs, databases)")
    parser.add_argument("--gatehouse-config", help="gatehouse configuration to use instead of the generated one")
    args = parser.parse_args(argv)

    chosen = [name.strip().lower() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:
        parser.error(f"unknown filter(s): {', '.join(unknown)}; choose from {', '.join(RUNNERS)}")
    messages = split.load_corpus(args.corpus)
    train, held = split.training(messages), split.held_out(messages)
    if args.quick:
        train, held = split.sample(train, QUICK_TRAIN), split.sample(held, QUICK_HELD)
    log(f"split: training {len(train)} ({sum(m.label == 'ham' for m in train)} ham), "
        f"held out {len(held)} ({sum(m.label == 'ham' for m in held)} ham)")

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gatehouse-accuracy-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    started_all = time.monotonic()
    out = Path(args.out) if args.out else RESULTS / f"accuracy-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        for name in chosen:
            runner = RUNNERS[name]
            log(f"== {runner.NAME}")
            started = time.monotonic()
            try:
                kwargs = {"config_file": args.gatehouse_config} if name == "gatehouse" and args.gatehouse_config else {}
                verdicts, info = runner.run(train, held, work / name, max(1, args.jobs), log, **kwargs)
            except Unavailable as why:
                log(f"{runner.NAME}: {why}")
                results[runner.NAME] = {"unavailable": str(why)}
                continue
            info["total_seconds"] = round(time.monotonic() - started, 1)
            results[runner.NAME] = {"info": info, "summary": summarise(verdicts), "mistakes": mistakes(verdicts),
                                    "verdicts": [{"message": v.relative, "label": v.label, "outcome": v.outcome,
                                                  "score": v.score, "action": v.action} for v in verdicts]}
            write_report(args, out, train, held, results, started_all)  # after each filter: partial results survive
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    write_report(args, out, train, held, results, started_all)
    print(table(results))
    print(f"\nreport: {out}" + (f"; work directory kept: {work}" if args.keep or args.work else ""))
    return 0 if any("unavailable" not in e for e in results.values()) else 1


def write_report(args, out: Path, train, held, results: dict, started_all: float) -> None:
    report = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "corpus": str(Path(args.corpus).resolve()),
        "split": "held out: file name's MD5 starts with 0-3; trained on the rest",
        "quick": args.quick,
        "training": {label: sum(m.label == label for m in train) for label in split.LABELS},
        "held_out": {label: sum(m.label == label for m in held) for label in split.LABELS},
        "seconds": round(time.monotonic() - started_all, 1),
        "filters": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
