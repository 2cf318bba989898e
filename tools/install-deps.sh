#!/bin/sh
# Install the Debian packages kvcheck needs, when missing.
# As root: runs apt-get. Otherwise: prints the exact command and fails.
set -u
need=""
command -v pkg-config >/dev/null 2>&1 || need="pkg-config"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v clang >/dev/null 2>&1 || need="$need clang"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists criterion || need="$need libcriterion-dev"
  pkg-config --exists gsl       || need="$need libgsl-dev"
  pkg-config --exists libcjson  || need="$need libcjson-dev"
else
  need="$need libcriterion-dev libgsl-dev libcjson-dev"
fi
command -v xmllint >/dev/null 2>&1 || need="$need libxml2-utils"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
# libFuzzer's runtime (the fuzz builds and the planted-bug proofs)
if ! command -v clang >/dev/null 2>&1 ||
   [ ! -f "$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]; then
  need="$need libclang-rt-dev"
fi
[ -z "$need" ] && exit 0
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$need"
if [ "$(id -u)" = 0 ]; then
  echo "kvcheck: installing missing packages:$need" >&2
  sh -c "$cmd" || { echo "kvcheck: package install failed; run: $cmd" >&2; exit 1; }
else
  echo "kvcheck: missing packages:$need" >&2
  echo "kvcheck: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
