#!/usr/bin/env bash
# Configures (once) and builds gatehouse with CMake + Ninja + ccache into build/, and the browser
# interface (web/, Vite) into web/dist, which the daemon serves at / (docs/web.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE=5G
# ccache caches a compilation that uses the precompiled header only with this sloppiness (without
# it every call was "Could not use precompiled header": each build was cold, about 25 minutes on 2
# cores). The header's .gch is hashed, so a changed header still misses. Measured on two fresh build
# directories at the same path: 27 s, then 2 s for the header and two sources.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
build_type="${BUILD_TYPE:-RelWithDebInfo}"
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
fi
ninja -C build "${NINJA_TARGETS:-all}"

# The browser interface: npm ci only when package-lock.json changed since node_modules was made
# (a copy of the lock in node_modules marks it), then the Vite build (about a second).
# GATEHOUSE_SKIP_WEB=1 skips it (the daemon then warns that the interface is missing).
if [[ "${GATEHOUSE_SKIP_WEB:-0}" != 1 ]]; then
  if ! command -v npm >/dev/null; then
    echo "scripts/build.sh: npm is not installed (scripts/install-deps.sh installs Node.js and npm)" >&2
    exit 1
  fi
  (
    cd web
    if ! cmp -s package-lock.json node_modules/.gatehouse-package-lock.json; then
      npm ci --no-audit --no-fund --loglevel=error
      cp package-lock.json node_modules/.gatehouse-package-lock.json
    fi
    npm run --silent build >/dev/null
  )
fi
