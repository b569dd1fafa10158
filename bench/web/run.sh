#!/usr/bin/env bash
# The web benchmark (bench/web/README.md): a store of 1,000,000 realistic log rows made through the
# real Store code (log_generator), the real daemon started on it, and the API's searches and
# dashboard queries timed over HTTP on 127.0.0.1 (measure.py), with the daemon's RSS.
#
#   BENCH_ROWS      rows to generate (default 1000000)
#   BENCH_RUNS      runs of each query (default 7)
#   BENCH_DIR       work directory (default: a new one under /tmp; kept, with the store, for reruns)
#   BENCH_REUSE=1   reuse BENCH_DIR's store instead of generating it again
#   GATEHOUSE_BUILD the build directory (default build/); log_generator is built there with -j2
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${GATEHOUSE_BUILD:-$root/build}
rows=${BENCH_ROWS:-1000000}
runs=${BENCH_RUNS:-7}
work=${BENCH_DIR:-$(mktemp -d /tmp/gatehouse-web-bench-XXXXXX)}
mkdir -p "$work/state"

ninja -C "$build" -j2 gatehouse log_generator >/dev/null

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
smtp_port=$(free_port)
web_port=$(free_port)
cat >"$work/gatehouse.toml" <<TOML
[server]
hostname = "gw.bench.test"
listen = ["127.0.0.1:$smtp_port"]
state_dir = "$work/state"
[store]
retention_days = 400   # keep the 30 days generated (the default, 14, would prune half at start)
[dns]
nameservers = ["127.0.0.1:9"]
[web]
listen = ["127.0.0.1:$web_port"]
[[domain]]
name = "example.org"
backend = "smtp:127.0.0.1:9"
recipients = "any"
TOML

if [[ ${BENCH_REUSE:-0} != 1 || ! -f "$work/state/gatehouse.db" ]]; then
  rm -f "$work/state/gatehouse.db"*
  echo "generating $rows rows into $work/state/gatehouse.db …" >&2
  start=$(date +%s.%N)
  "$build/log_generator" "$work/state/gatehouse.db" --rows "$rows"
  end=$(date +%s.%N)
  printf 'generated in %.0f s (%s bytes)\n' "$(echo "$end - $start" | bc)" "$(stat -c %s "$work/state/gatehouse.db")" >&2
fi
printf 'bench password 1234\n' >"$work/password"
"$build/gatehouse" admin add bench --password-file "$work/password" --config "$work/gatehouse.toml" >/dev/null 2>&1 || true

"$build/gatehouse" serve --config "$work/gatehouse.toml" >"$work/gatehouse.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
/usr/bin/python3 "$here/measure.py" --port "$web_port" --pid "$pid" --runs "$runs" --user bench --password "bench password 1234"
echo "work directory (store kept for BENCH_REUSE=1 BENCH_DIR=$work): $work" >&2
