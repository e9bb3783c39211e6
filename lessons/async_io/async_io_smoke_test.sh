#!/usr/bin/env bash
# Smoke test: runs the async_io lesson with small flags and checks its key lines.
set -euo pipefail

binary="$1"
out="$("$binary" --connections=5,20 --requests=200 --seconds=5 2>&1)" || {
  echo "async_io failed: $out"
  exit 1
}
echo "$out"
for line in \
  "event loop (epoll, callbacks)" \
  "event loop + coroutines" \
  "thread per connection" \
  "process per connection" \
  "Every server shut down cleanly"; do
  grep -qF "$line" <<<"$out" || {
    echo "missing line: $line"
    exit 1
  }
done
help="$("$binary" --help 2>&1 || true)"
grep -qF "Echo server four ways" <<<"$help" || {
  echo "--help does not describe the lesson"
  exit 1
}
echo "PASS"
