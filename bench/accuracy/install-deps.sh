#!/usr/bin/env bash
# Installs what the accuracy benchmark (bench/accuracy) compares gatehouse with: Debian bookworm's
# SpamAssassin (spamassassin and sa-learn; spamd and spamc are packaged apart), Rspamd, and a Redis
# server for Rspamd's Bayes.
# A bench-only dependency, not gatehouse's: scripts/install-deps.sh does not install these.
# Skips apt when everything is there. No system service is started: the benchmark runs private
# instances (its own configuration, loopback ports, a temporary directory) and stops them itself.
set -euo pipefail

packages=(spamassassin spamc spamd rspamd redis-server python3)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "Installing: ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
# Packaged daemons (spamd, rspamd, redis) must not start as system services: rspamd's stock
# configuration would use the system resolver. policy-rc.d answering 101 tells invoke-rc.d "no".
policy=/usr/sbin/policy-rc.d
added_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { [[ -n $added_policy ]] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
