#!/usr/bin/env bash
# Installs what gatehouse needs from Debian bookworm's packages. `--test` adds what the tests and
# benchmarks use (real SMTP clients and servers, a DNS server, nmap). Skips apt when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libsqlite3-dev libzstd-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev libc-ares-dev libpsl-dev publicsuffix
  libgmime-3.0-dev libgumbo-dev libidn2-dev libmagic-dev libarchive-dev libicu-dev libre2-dev
  swaks openssl sqlite3 unbound
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev python3 python3-pytest python3-yaml postfix unbound nmap procps dovecot-lmtpd iproute2 libnet-ssleay-perl
             clamav-daemon clamav clamdscan)  # clamd: the antivirus tests; libnet-ssleay-perl: swaks --tls
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  # Postfix and Dovecot are only used as test peers: no system configuration, no services.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
