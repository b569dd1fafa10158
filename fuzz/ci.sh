#!/bin/sh
# The bounded fuzzing step of the test command (scripts/test.sh): builds the content-analysis targets
# with AddressSanitizer/UBSan, runs the MIME reader once over every message of
# ../shared/corpora/mime (no error, no leak: LeakSanitizer checks at exit), then fuzzes each target
# for FUZZ_SECONDS (default 60). Exits non-zero on any crash, leak or invariant violation.
set -eu
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS="mime html_urls"
sh fuzz/build.sh $TARGETS

corpus=../shared/corpora/mime
if [ -d "$corpus" ]; then
  inputs=build-fuzz/mime-corpora
  rm -rf "$inputs"
  mkdir -p "$inputs"
  # The setting byte 0x04: default limits, LF written as CRLF (as after DATA).
  find "$corpus" -type f \( -name '*.eml' -o -name '*.msg' \) | {
    n=0
    while IFS= read -r file; do
      n=$((n + 1))
      { printf '\004'; cat "$file"; } > "$inputs/$n"
    done
    echo "MIME corpora: $n messages"
  }
  if ! build-fuzz/mime -runs=0 "$inputs" > build-fuzz/mime-corpora.log 2>&1; then
    grep -v GLib-CRITICAL build-fuzz/mime-corpora.log | tail -40
    echo "the MIME reader failed on a corpus message (build-fuzz/mime-corpora.log)" >&2
    exit 1
  fi
  tail -1 build-fuzz/mime-corpora.log
else
  echo "MIME corpora not found at $corpus (the shared test material sits next to the project)" >&2
  exit 1
fi
fuzz/run.sh "$SECONDS_PER_TARGET" $TARGETS
