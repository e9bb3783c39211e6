"""The compiler flags every target in the course uses, in one place.

Usage in a BUILD file:

    load("//tools:copts.bzl", "MT_COPTS")
    cc_library(name = "foo", srcs = ["foo.cc"], copts = MT_COPTS)

C++20 itself is set for everything in .bazelrc; this file holds the warnings.
"""

MT_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
]

# Warnings are errors in CI (--config=ci), and warnings only on a student's machine,
# so that a newer compiler's new warning never stops a lesson from building.
MT_COPTS = MT_WARNINGS + select({
    "//tools:werror": ["-Werror"],
    "//conditions:default": [],
})

# Tests that compare a benchmark or demo binary against GoogleTest matchers may need
# the same flags; kept as an alias so the name says what it is for.
MT_TEST_COPTS = MT_COPTS
