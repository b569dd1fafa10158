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
# The demo's DNS resolver (etc/demo-dns.conf on 127.0.0.1:5353, [dns] of etc/gatehouse.toml), stopped
# with gatehouse.
bash tests/fixtures/dns/run-unbound.sh 5353 etc/demo-dns.conf &
dns_pid=$!
trap 'kill "$dns_pid" 2>/dev/null || true' EXIT INT TERM
build/gatehouse serve --config etc/gatehouse.toml
