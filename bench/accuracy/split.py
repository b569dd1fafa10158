#!/usr/bin/python3
"""The training / held-out split of the SpamAssassin public corpus that bench/accuracy uses.

Every file is named NNNNN.<md5>, the MD5 of the file's bytes (mbox "From " line included; the
corpus's ORIGIN.txt: 6045 of 6046 names match, hard_ham/00230 does not). A message is held out when
that hash part of its *name* starts with 0, 1, 2 or 3 (a quarter of the corpus); everything else is
for training. The name, not a recomputed digest, decides, so the split never depends on how the
bytes were stored.

Other scripts import it:

    from split import load_corpus, training, held_out
    for message in held_out(load_corpus()): print(message.path, message.label)

Listing:   split.py [--corpus DIR] list {train|held-out|all} [--label ham|spam] [--sample N]
Summary:   split.py [--corpus DIR] summary
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

# bench/accuracy -> bench -> main -> (the folder holding main and shared)
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "spam" / "spamassassin-public"
HELD_OUT_PREFIXES = frozenset("0123")
LABELS = ("ham", "spam")


@dataclass(frozen=True)
class Message:
    path: Path        # absolute path of the message file
    relative: str     # path as labels.tsv writes it, e.g. "easy_ham/00001.7c53…"
    label: str        # "ham" or "spam"
    md5: str          # the hash part of the file name

    @property
    def held_out(self) -> bool:
        return is_held_out(self.md5)


def name_md5(file_name: str) -> str:
    """The hash part of a corpus file name "NNNNN.<md5>"; ValueError if the name has none."""
    parts = file_name.split(".")
    if len(parts) != 2 or len(parts[1]) != 32 or any(c not in "0123456789abcdef" for c in parts[1]):
        raise ValueError(f"not a corpus file name NNNNN.<md5>: {file_name!r}")
    return parts[1]


def is_held_out(md5: str) -> bool:
    return md5[:1] in HELD_OUT_PREFIXES


def load_corpus(corpus: Path | str = DEFAULT_CORPUS) -> list[Message]:
    """Every message of labels.tsv (header line skipped), in the file's order."""
    corpus = Path(corpus).resolve()
    labels = corpus / "labels.tsv"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels}: no labels.tsv (is the corpus at {corpus}?)")
    messages = []
    with labels.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line or (number == 1 and line.startswith("path\t")):
                continue
            relative, _, label = line.partition("\t")
            if label not in LABELS:
                raise ValueError(f"{labels}:{number}: label {label!r} is neither ham nor spam")
            messages.append(Message(corpus / relative, relative, label, name_md5(Path(relative).name)))
    return messages


def training(messages: list[Message]) -> list[Message]:
    return [m for m in messages if not m.held_out]


def held_out(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.held_out]


def sample(messages: list[Message], per_label: int, seed: int = 1) -> list[Message]:
    """At most per_label messages of each label, chosen reproducibly (same seed, same sample),
    kept in corpus order."""
    rng = random.Random(seed)
    chosen = set()
    for label in LABELS:
        of_label = [m.relative for m in messages if m.label == label]
        chosen.update(of_label if len(of_label) <= per_label else rng.sample(of_label, per_label))
    return [m for m in messages if m.relative in chosen]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="corpus directory (has labels.tsv)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print one path per line (tab, label with --labels)")
    listing.add_argument("part", choices=("train", "held-out", "all"))
    listing.add_argument("--label", choices=LABELS)
    listing.add_argument("--sample", type=int, metavar="N", help="at most N messages per label")
    listing.add_argument("--labels", action="store_true", help="print path<TAB>label")
    commands.add_parser("summary", help="messages per part and label")
    args = parser.parse_args(argv)

    messages = load_corpus(args.corpus)
    if args.command == "summary":
        for part, chosen in (("train", training(messages)), ("held-out", held_out(messages))):
            counts = {label: sum(1 for m in chosen if m.label == label) for label in LABELS}
            print(f"{part:9} ham {counts['ham']:5}  spam {counts['spam']:5}  total {len(chosen):5}")
        return 0
    chosen = {"train": training, "held-out": held_out, "all": list}[args.part](messages)
    if args.label:
        chosen = [m for m in chosen if m.label == args.label]
    if args.sample is not None:
        chosen = sample(chosen, args.sample)
    for m in chosen:
        print(f"{m.path}\t{m.label}" if args.labels else m.path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
