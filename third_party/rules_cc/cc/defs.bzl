"""Offline stand-in for @rules_cc//cc:defs.bzl on Bazel 4.2.3.

Debian's bazel-rules-cc is too new for Bazel 4.2.3, and the real rules_cc cannot be
downloaded here, so this re-exports the native C++ rules under the names BUILD files load.
"""

cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
objc_library = native.objc_library
