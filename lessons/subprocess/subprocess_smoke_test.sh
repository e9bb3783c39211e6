#!/bin/sh
# Smoke test: the lesson binary runs with small flags and prints its key lines.
set -eu
bin="$1"
out="$("$bin" --child_bytes=262144 --input_mib=1 --timeout_ms=100 2>&1)"
echo "$out"
check() {
  if ! printf '%s\n' "$out" | grep -q -- "$1"; then
    echo "MISSING: $1" >&2
    exit 1
  fi
}
check "exit code: 3"
check "NOT_FOUND: cannot execute nslookup-xyz"
check "exited with code 127"
check "HELLO FROM THE SCRIPT"
check "killed it -> killed by signal 9 (SIGKILL)"
check "head: read all 262144 bytes"
check "identical"
check "started by Subprocess:         0 1 2$"
"$bin" --help 2>&1 | grep -q "child_bytes"
echo PASS
