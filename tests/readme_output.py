#!/usr/bin/env python3
"""Checks that the expected output shown in lesson READMEs is what the programs print.

A README marks a block of real output with an HTML comment naming the target and flags,
followed by a ```text block:

    <!-- output: //lessons/fork --ping_pong_limit=5 -->
    ```text
    == 1. fork() returns twice (seed 001) ==
    ...
    ```

Usage: readme_output.py README.md LABEL=BINARY [LABEL=BINARY ...]
Runs each marked BINARY with the flags, normalises both texts, and compares them line by
line. Normalisation rules (so that run-dependent values do not count):
  1. every integer of 300 or more becomes <N>: pids (Linux hands out pids from 300 up
     once they wrap at pid_max) and large counts; smaller numbers (exit codes 0..255,
     signal numbers, small counts) must match exactly;
  2. every decimal number (digits.digits) becomes <X> (times, ratios, rates);
  3. runs of spaces become one space (column widths follow the numbers' widths), trailing
     spaces are dropped, and so are blank lines at the start and end of a block;
  4. a README line that is exactly "..." matches any number of output lines (zero or more).
Exits 0 if every block matches, 1 with a diff-like report otherwise.
"""

import re
import subprocess
import sys

MARK = re.compile(r"<!--\s*output:\s*(//\S+)(.*?)-->\s*\n```text\n(.*?)```", re.S)


def normalise(text):
    lines = []
    for line in text.splitlines():
        line = re.sub(r"\d+\.\d+", "<X>", line)
        line = re.sub(r"\d+", lambda m: "<N>" if int(m.group()) >= 300 else m.group(),
                      line)
        lines.append(re.sub(r" +", " ", line).rstrip())
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected, actual):
    """Line-by-line match where an expected '...' line swallows zero or more lines."""
    memo = {}

    def go(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(expected):
            result = j == len(actual)
        elif expected[i] == "...":
            result = any(go(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            result = j < len(actual) and expected[i] == actual[j] and go(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return go(0, 0)


def main():
    readme_path, *bindings = sys.argv[1:]
    binaries = dict(b.split("=", 1) for b in bindings)
    text = open(readme_path, encoding="utf-8").read()
    blocks = MARK.findall(text)
    if not blocks:
        print(f"{readme_path}: no <!-- output: ... --> block to check")
        return 1
    failures = 0
    for label, flags, block in blocks:
        if label not in binaries:
            print(f"{readme_path}: no binary given for {label}")
            failures += 1
            continue
        run = subprocess.run([binaries[label], *flags.split()], capture_output=True,
                             text=True, timeout=120)
        expected, actual = normalise(block), normalise(run.stdout)
        if run.returncode != 0:
            print(f"{label}{flags}: exit status {run.returncode}\n{run.stderr}")
            failures += 1
        elif not matches(expected, actual):
            failures += 1
            print(f"{readme_path}: the block for `{label}{flags}` does not match its "
                  f"output (after normalising).\n--- README (normalised)")
            print("\n".join(expected))
            print("--- program output (normalised)")
            print("\n".join(actual))
        else:
            print(f"{readme_path}: `{label}{flags}` matches ({len(actual)} lines)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
