#!/usr/bin/env bash
# tools/setup.sh: installs everything Multitask needs on Debian 12. Idempotent.
#
#   tools/setup.sh            # as root, or as a user with sudo
#
# Installs with apt-get only what is missing (Bazel 4.2.3, the system GoogleTest,
# Benchmark, Abseil, gflags, OpenSSL, clang-format, clang + libFuzzer, python3), and
# buildifier from the npm registry into /usr/local. Prints what it did; exits non-zero
# with a clear message on failure.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "run as root, or install sudo: apt-get needs root"
fi

[[ -r /etc/debian_version ]] || die "this script is for Debian 12 (no /etc/debian_version)"

PACKAGES=(
  bazel-bootstrap    # Bazel 4.2.3 (/usr/bin/bazel), with a headless JDK
  bazel-rules-java   # @rules_java, which the WORKSPACE points at
  g++                # the compiler (g++ 12)
  libabsl-dev        # Abseil 20220623
  libgflags-dev      # gflags 2.2
  libgtest-dev       # GoogleTest 1.12
  libgmock-dev       # GoogleMock 1.12
  libbenchmark-dev   # Google Benchmark 1.7
  libssl-dev         # libcrypto, for HMAC in the manager lesson
  clang-format       # formatting check (Google style)
  clang              # clang++ for the libFuzzer target (tools/fuzz_manager.sh)
  libclang-rt-14-dev # libFuzzer and clang's sanitizer runtimes
  python3            # /usr/bin/python3: the Python originals, scripts, README checks
  npm                # to install buildifier
  procps             # ps, for the lessons that show process states
)
# Strip the comments to get the names.
names=()
for p in "${PACKAGES[@]}"; do names+=("${p%% *}"); done

missing=()
for p in "${names[@]}"; do
  # A tool that is already on PATH (e.g. python3 from pyenv, node's npm) is enough.
  case "$p" in
    npm|g++|clang-format) command -v "$p" >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  say "installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq || die "apt-get update failed (is Debian's archive reachable?)"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
else
  say "apt packages: all present"
fi

# buildifier: npm's @bazel/buildifier ships the binary; install it once into /usr/local.
BUILDIFIER_PREFIX=/usr/local/lib/multitask-npm
if command -v buildifier >/dev/null 2>&1; then
  say "buildifier: present ($(command -v buildifier))"
else
  say "installing buildifier from npm into $BUILDIFIER_PREFIX"
  "${SUDO[@]}" npm install --silent --no-audit --no-fund --prefix "$BUILDIFIER_PREFIX" \
    @bazel/buildifier >/dev/null 2>&1 || die "npm install @bazel/buildifier failed"
  "${SUDO[@]}" ln -sf "$BUILDIFIER_PREFIX/node_modules/.bin/buildifier" /usr/local/bin/buildifier
  command -v buildifier >/dev/null 2>&1 || die "buildifier not on PATH after install"
fi

for tool in bazel g++ clang-format buildifier python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is still missing"
done
say "ready: $(g++ --version | head -n1); bazel $(dpkg-query -W -f='${Version}' bazel-bootstrap)"
