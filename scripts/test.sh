#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs the unit tests (CTest) and the
# end-to-end tests (pytest, real binary with real SMTP clients and servers).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test || exit 1
bash scripts/build.sh || exit 1

status=0
echo "== unit tests"
(cd build && ctest --output-on-failure -j2 --timeout 300) || status=1
echo "== end-to-end tests"
# (with the benchmarks' own arithmetic: the accuracy split and report, the weight fitting)
GATEHOUSE_BIN="$PWD/build/gatehouse" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e \
  bench/accuracy/test_accuracy_parts.py bench/weights/test_fit.py bench/weights/test_classifier_cv.py "$@"
rc=$?
# pytest exits 5 when it collected nothing: that is a failure here too.
[[ $rc -ne 0 ]] && status=1
echo "== fuzzing (bounded: MIME corpora once, then each content target for ${FUZZ_SECONDS:-60} s)"
sh fuzz/ci.sh || status=1
exit $status
