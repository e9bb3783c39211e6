#!/usr/bin/env bash
# Smoke test: runs the compare lesson with small flags and checks its key lines.
set -euo pipefail

binary="$1"
out="$("$binary" --creates=5 --messages=1000 --round_trips=200 --idle=5 \
  --tasks=8 --task_ms=1 --max_workers=4 2>&1)" || {
  echo "compare failed: $out"
  exit 1
}
echo "$out"
for line in \
  "create + join: std::thread | fork()+waitpid()" \
  "create + join: std::thread | fork()+exec(/bin/true)" \
  "create + join: std::thread | posix_spawn(/bin/true)" \
  "ping-pong round trip over a pipe" \
  "ping-pong round trip over a futex" \
  "memory per idle one: PSS" \
  "The shared counter ended at 2000 (threads) and 2000 (processes)" \
  "its whole process was killed by signal 11 (SIGSEGV)" \
  "its other thread, busy counting" \
  "the child was killed by signal 11 (SIGSEGV); this parent" \
  "compute tasks/s"; do
  grep -qF "$line" <<<"$out" || {
    echo "missing line: $line"
    exit 1
  }
done
help="$("$binary" --help 2>&1 || true)"
grep -qF "Measures processes against threads" <<<"$help" || {
  echo "--help does not describe the lesson"
  exit 1
}
echo "PASS"
