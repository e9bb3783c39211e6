#!/usr/bin/env bash
# Runs the lesson with no flags (master + 2 worker processes on 127.0.0.1,
# port 0) and checks the lines the README promises.
set -euo pipefail
bin="$1"
out=$("$bin" --tasks=6 --work_ms=10 2>&1)
echo "$out"
grep -q "serving get_task_queue and get_result_queue on 127.0.0.1:" <<<"$out"
test "$(grep -c '^result: ' <<<"$out")" -eq 6
grep -q "every task answered exactly once: yes" <<<"$out"
grep -q "2 of 2 workers exited with code 0" <<<"$out"
help=$("$bin" --help 2>&1 || true)
grep -q -- "-role (demo" <<<"$help"
if "$bin" --role=worker --server=127.0.0.1:1 >/dev/null 2>&1; then
  echo "a worker with no master should fail"
  exit 1
fi
echo "smoke test passed"
