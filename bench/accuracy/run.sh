#!/usr/bin/env bash
# bench/accuracy: gatehouse, SpamAssassin and Rspamd side by side on the SpamAssassin public
# corpus's held-out split. Arguments go to accuracy.py:
#   bash bench/accuracy/run.sh                          all three, full split (about 35 minutes)
#   bash bench/accuracy/run.sh --quick                  a small sample, to try it out
#   bash bench/accuracy/run.sh --only spamassassin,rspamd
# As root (with unshare), the whole run is in a private network namespace with only a loopback
# interface: whatever a filter tries, no packet leaves the machine. BENCH_NETNS=0 turns that off.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ "${BENCH_NETNS:-1}" != 0 && $(id -u) -eq 0 ]] && command -v unshare >/dev/null && command -v ip >/dev/null \
   && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec /usr/bin/python3 "$0" "$@"' "$here/accuracy.py" "$@"
fi
# accuracy.py runs the heavy parts (sa-learn, spamd, rspamd, redis, gatehouse) under nice -n 10 itself.
exec /usr/bin/python3 "$here/accuracy.py" "$@"
