#!/usr/bin/env bash
# Smoke test: the fork lesson's binary runs with small flags, exits 0, and prints the
# lines the README tells the student to look for.
set -euo pipefail
lesson="$1"
out=$("$lesson" --ping_pong_limit=5 --pause_ms=0 2>&1)
status=$?
expect() {
  if ! grep -qE "$1" <<<"$out"; then
    echo "missing line matching: $1"
    echo "---- output ----"
    echo "$out"
    exit 1
  fi
}
[[ $status -eq 0 ]] || { echo "exit status $status"; exit 1; }
expect "fork\(\) returned [0-9]+ to me \(the child's pid\)"
expect "fork\(\) returned 0 to me"
expect "Ping printed 5 times and Pong 5 times: 10 words, not 5\."
expect "the parent's copy is still 0\."
expect "calls _exit\(3\) +-> exited with code 3"
expect "is sent SIGKILL by its parent +-> killed by signal 9 \(SIGKILL\)"
expect "writes through a bad pointer +-> killed by signal 11 \(SIGSEGV\)"
expect "calls std::abort\(\) +-> killed by signal 6 \(SIGABRT\)"
expect "says state Z \(zombie\)"
expect "afterwards /proc/[0-9]+ is gone"
expect "its parent became [0-9]+"
# gflags' --help exits with status 1 by design; we only check it lists our flags.
help=$("$lesson" --help 2>&1 || true)
grep -q "ping_pong_limit" <<<"$help" || { echo "--help lacks the lesson's flags"; exit 1; }
echo "fork smoke test: ok"
