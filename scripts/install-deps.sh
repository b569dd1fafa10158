#!/usr/bin/env bash
# Installs what gatehouse needs from Debian bookworm's packages. `--test` adds what the tests and
# benchmarks use (real SMTP clients and servers, a DNS server, nmap). Skips apt when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libsqlite3-dev libzstd-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev libc-ares-dev libpsl-dev publicsuffix
  libgmime-3.0-dev libgumbo-dev libidn2-dev libmagic-dev libarchive-dev libicu-dev libre2-dev
  libsodium-dev
  libtesseract-dev libleptonica-dev tesseract-ocr-eng
  swaks openssl sqlite3 unbound
)
# Node.js and npm build the browser interface (web/); Debian's only when there is no node at all
# (a newer Node.js installed otherwise is kept: Vite 8 needs 20.19 or later).
command -v node >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev python3 python3-pytest python3-yaml postfix unbound nmap procps dovecot-lmtpd iproute2 libnet-ssleay-perl
             clamav-daemon clamav clamdscan clang-14 libclang-rt-14-dev
             python3-pil fonts-dejavu-core  # python3-pil, fonts-dejavu-core: images with text for the OCR tests; clamd: the antivirus tests; libnet-ssleay-perl: swaks --tls
             chromium)  # the browser tests: playwright-core drives /usr/bin/chromium (never a downloaded browser)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  # Postfix, Dovecot and ClamAV are only used as test peers: no system configuration, no services.
  # In particular no system clamd or freshclam: the tests start their own clamd on a local database
  # (tests/fixtures/clamav/run-clamd.sh) and freshclam would download signatures. Package scripts
  # start services through invoke-rc.d, which asks policy-rc.d first (exit 101: not now).
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  policy_rc=/usr/sbin/policy-rc.d
  made_policy_rc=no
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\n# Written by gatehouse scripts/install-deps.sh while installing; removed after.\nexit 101\n' |
      $SUDO tee "$policy_rc" >/dev/null
    $SUDO chmod 755 "$policy_rc"
    made_policy_rc=yes
    trap '$SUDO rm -f "$policy_rc"' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ $made_policy_rc == yes ]]; then
    $SUDO rm -f "$policy_rc"
    trap - EXIT
  fi
  # Nor at the next boot, when this run installed them.
  if [[ " ${missing[*]} " == *" clamav-daemon "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now clamav-daemon.service clamav-daemon.socket clamav-freshclam.service >/dev/null 2>&1 || true
  fi
fi
