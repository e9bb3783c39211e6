#!/usr/bin/env python3
"""Grades the course's exercises and prints a score table.

Usage (from the repository root):
  tools/grade.py                  every lesson's exercises, against the student's files
  tools/grade.py fork locks       only these lessons
  tools/grade.py --solutions      against the reference solutions
  tools/grade.py --prove          CI: every grader passes on its solution AND fails on
                                  its untouched stub (a grader that passes a stub is a bug)

It runs `bazel test --config=grade` (graders are cc_tests tagged "exercise" under
lessons/<lesson>/exercises/), then reads each grader's test.xml from bazel-testlogs and
prints: lesson, exercise, tests passed/total, points (10 per exercise, in proportion to
the tests passed). Exits 1 if any grader test failed (or, with --prove, if any grader
passed a stub), 2 on a usage error.
"""

import argparse
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

POINTS_PER_EXERCISE = 10
ROOT = pathlib.Path(__file__).resolve().parent.parent


def lessons_with_exercises():
    return sorted(p.parent.parent.name for p in ROOT.glob("lessons/*/exercises/BUILD"))


def bazel_test(config, lessons):
    patterns = [f"//lessons/{name}/exercises/..." for name in lessons]
    cmd = ["bazel", "test", f"--config={config}", "--keep_going", *patterns]
    print("grade: " + " ".join(cmd), file=sys.stderr, flush=True)
    # A failing grader makes bazel exit 3; that is a result, not an error.
    code = subprocess.run(cmd, cwd=ROOT, stdout=sys.stderr).returncode
    if code not in (0, 3):
        sys.exit(f"grade: bazel failed to build or run the graders (exit {code})")


def read_results(lessons):
    """Returns [(lesson, exercise, passed, total)] from the graders' test.xml files."""
    rows = []
    for lesson in lessons:
        logs = ROOT / "bazel-testlogs" / "lessons" / lesson / "exercises"
        for xml in sorted(logs.glob("*/test.xml")):
            exercise = xml.parent.name.removesuffix("_grader_test")
            passed = total = 0
            try:
                tree = ET.parse(xml)
            except ET.ParseError:
                rows.append((lesson, exercise, 0, 1))  # crashed before writing results
                continue
            for case in tree.iter("testcase"):
                total += 1
                if case.find("failure") is None and case.find("error") is None:
                    passed += 1
            rows.append((lesson, exercise, passed, total or 1))
    return rows


def print_table(rows, title):
    print(f"\n{title}\n")
    print(f"{'lesson':<14}{'exercise':<28}{'tests':>9}{'points':>9}")
    earned = possible = 0
    for lesson, exercise, passed, total in rows:
        points = POINTS_PER_EXERCISE * passed / total if total else 0
        earned += points
        possible += POINTS_PER_EXERCISE
        print(f"{lesson:<14}{exercise:<28}{f'{passed}/{total}':>9}{points:>9.1f}")
    print(f"{'total':<42}{'':>9}{f'{earned:.1f}/{possible}':>9}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--solutions", action="store_true")
    group.add_argument("--prove", action="store_true")
    args = parser.parse_args()

    known = lessons_with_exercises()
    lessons = args.lessons or known
    unknown = [name for name in lessons if name not in known]
    if unknown:
        print(f"grade: no exercises for {', '.join(unknown)}; "
              f"lessons with exercises: {', '.join(known)}", file=sys.stderr)
        return 2

    if not args.prove:
        bazel_test("solutions" if args.solutions else "grade", lessons)
        rows = read_results(lessons)
        print_table(rows, "Reference solutions" if args.solutions else "Your exercises")
        return 0 if rows and all(p == t for _, _, p, t in rows) else 1

    bazel_test("solutions", lessons)
    on_solutions = read_results(lessons)
    bazel_test("grade", lessons)
    on_stubs = read_results(lessons)
    print_table(on_solutions, "Graders on the reference solutions (must all pass)")
    print_table(on_stubs, "Graders on the untouched stubs (each must fail)")
    bad = [f"{l}/{e} fails its solution" for l, e, p, t in on_solutions if p != t]
    bad += [f"{l}/{e} passes its stub" for l, e, p, t in on_stubs if p == t]
    if len(on_solutions) != len(on_stubs) or not on_solutions:
        bad.append("graders missing from one of the runs")
    for line in bad:
        print(f"grade: DEFECT: {line}")
    print(f"\ngrade: {len(on_solutions) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
