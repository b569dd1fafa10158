#!/usr/bin/env bash
# gatehouse benchmark: smtp-source -> {gatehouse checks off | checks on | a private Postfix relay} -> smtp-sink,
# on 127.0.0.1.
# See bench/README.md. Builds nothing unless BENCH_BUILD=1.
#
#   GATEHOUSE_BIN          gatehouse binary (default /work/main/build-bench/gatehouse)
#   BENCH_MESSAGES         messages per smtp-source run (default 8000: long enough for steady state)
#   BENCH_LATENCY_MESSAGES transactions per latency run (default 400)
#   BENCH_REPEAT           repetitions of every configuration (default 3)
#   BENCH_SIZES            message body sizes in bytes (default 10240,102400)
#   BENCH_CONCURRENCY      concurrent sessions (default 1,20,100)
#   BENCH_IDLE             idle connections for the memory test (default 10000; 0 skips it)
#   BENCH_CHECKS           gatehouse configurations: off (the plain gateway: sender and content checks off),
#                          content (content analysis only), on (everything: DNS lists, HELO, reverse DNS, SPF,
#                          sender verification and the content analysis), as a list (default off,content,on):
#                          each one more run per configuration
#   BENCH_OUT              report file (default bench/results/<date>.md)
#   BENCH_BUILD=1          configure and build build-bench first (Release)
#   BENCH_KEEP=1           keep the temporary work directory (configs, logs)
# Needs root (the Postfix instance), postfix (smtp-source, smtp-sink) and unbound installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${GATEHOUSE_BIN:-/work/main/build-bench/gatehouse}

if [[ ${BENCH_BUILD:-0} == 1 ]]; then
  (cd "$root" && export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true \
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime && cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGATEHOUSE_TESTS=OFF >/dev/null && ninja -j2 -C build-bench gatehouse)
  bin=${GATEHOUSE_BIN:-$root/build-bench/gatehouse}
fi

# 10,000 idle connections need as many descriptors in the client and in gatehouse.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p "$here/results"
out=${BENCH_OUT:-$here/results/$(date +%Y-%m-%d-%H%M).md}

# The Python driver stops what it starts in its own `finally`; this trap is the second line of defence
# for its process group if the driver itself is killed.
child=
cleanup() {
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$child" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

python3 "$here/smtp_bench.py" run \
  --gatehouse "$bin" \
  --messages "${BENCH_MESSAGES:-8000}" \
  --latency-messages "${BENCH_LATENCY_MESSAGES:-400}" \
  --repeat "${BENCH_REPEAT:-3}" \
  --sizes "${BENCH_SIZES:-10240,102400}" \
  --concurrency "${BENCH_CONCURRENCY:-1,20,100}" \
  --idle "${BENCH_IDLE:-10000}" \
  --checks "${BENCH_CHECKS:-off,content,on}" \
  --out "$out" \
  --command "${BENCH_COMMAND:-bash bench/run.sh}" \
  ${BENCH_KEEP:+--keep} &
child=$!
status=0
wait "$child" || status=$?
child=
echo "report: $out"
exit $status
