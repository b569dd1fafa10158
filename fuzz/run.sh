#!/bin/sh
# Runs every fuzz target built by fuzz/build.sh, one after the other, each for SECONDS seconds
# (libFuzzer -max_total_time), starting from the seeds in fuzz/corpus/<target>/. New inputs go to
# build-fuzz/corpus/<target>/ (the seeds are not modified); crashes go to build-fuzz/artifacts/<target>/.
# Exits non-zero if any target crashed, leaked, timed out or ran out of memory.
# Usage: fuzz/run.sh SECONDS [target...]     Environment: FUZZ_FLAGS (more libFuzzer flags).
set -u

cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
  echo "usage: fuzz/run.sh SECONDS [target...]" >&2
  exit 2
fi
SECONDS_PER_TARGET=$1
shift
OUT=build-fuzz
ALL_TARGETS="proxy_protocol smtp_session data_reader reply_parser command spf_record html_urls mime"
TARGETS=${*:-$ALL_TARGETS}

# Longest input per target: a v2 header may be 16 + 2048 bytes; sessions need room for dialogues;
# an SPF record of several TXT strings (and its macro values) fits in 2048.
max_len_of() {
  case "$1" in
    proxy_protocol) echo 2200 ;;
    smtp_session)   echo 8192 ;;
    data_reader)    echo 8192 ;;
    reply_parser)   echo 8192 ;;
    command)        echo 1024 ;;
    spf_record)     echo 2048 ;;
    html_urls)      echo 16384 ;;
    mime)           echo 65536 ;;
    *)              echo 4096 ;;
  esac
}

failed=""
for target in $TARGETS; do
  if [ ! -x "$OUT/$target" ]; then
    echo "missing $OUT/$target: run fuzz/build.sh first" >&2
    failed="$failed $target"
    continue
  fi
  mkdir -p "$OUT/corpus/$target" "$OUT/artifacts/$target" "fuzz/corpus/$target"
  dict=""
  [ -f "$OUT/$target.dict" ] && dict="-dict=$OUT/$target.dict"
  echo "=== $target: $SECONDS_PER_TARGET s"
  # shellcheck disable=SC2086  # FUZZ_FLAGS and dict are lists of flags
  "$OUT/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len_of "$target")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$target/" $dict ${FUZZ_FLAGS:-} \
    "$OUT/corpus/$target" "fuzz/corpus/$target" > "$OUT/$target.log" 2>&1
  status=$?
  grep -aE '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+[[:space:]]+DONE' "$OUT/$target.log"
  if [ $status -ne 0 ]; then
    echo "*** $target FAILED (exit $status); log: $OUT/$target.log; artifacts: $OUT/artifacts/$target/"
    grep -E 'ERROR: |invariant violated|SUMMARY: ' "$OUT/$target.log" | head -5
    failed="$failed $target"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzzing failed:$failed"
  exit 1
fi
echo "fuzzing passed: $TARGETS"
