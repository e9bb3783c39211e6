"""Offline stand-in for @rules_shell//shell:sh_test.bzl on Bazel 4.2.3.

Newer Bazel moved sh_test out of the core into rules_shell (and buildifier asks for the
load); Bazel 4.2.3 still has it built in, so this re-exports the native rule.
"""

sh_test = native.sh_test
