#!/usr/bin/env bash
# The README's run command: installs dependencies, builds, and starts gatehouse in the foreground
# with etc/gatehouse.toml (SMTP on 127.0.0.1:2525, domain example.test delivered into the Maildir
# var/maildir/example.test/<address>/new/). Try it from another terminal:
#   swaks --server 127.0.0.1:2525 --to alice@example.test
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
NINJA_TARGETS=gatehouse bash scripts/build.sh
echo "gatehouse: SMTP on 127.0.0.1:2525; mail for alice@example.test arrives in var/maildir/example.test/alice@example.test/new/"
# The demo's DNS resolver (etc/demo-dns.conf on 127.0.0.1:2553 — not 5353, which mDNS daemons hold —
# the [dns] of etc/gatehouse.toml), stopped with gatehouse.
bash tests/fixtures/dns/run-unbound.sh 2553 etc/demo-dns.conf &
dns_pid=$!
trap 'kill "$dns_pid" 2>/dev/null || true' EXIT INT TERM
sleep 1
if ! kill -0 "$dns_pid" 2>/dev/null; then
  echo "scripts/run.sh: the demo DNS resolver did not start (is 127.0.0.1:2553 in use?); see its message above" >&2
  exit 1
fi
build/gatehouse serve --config etc/gatehouse.toml
