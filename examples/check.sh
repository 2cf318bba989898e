#!/bin/sh
# examples/check.sh — the CI gate `examples`: each example plugin through
# `kvcheck run --kernel-lib`, with the exit status it must get.
#   wrapper of libkvattn, no flag          0 (claims everything, passes)
#   half-acc kernel, no flag               0 (judged in its declared profile,
#                                             the rest reported not covered)
#   half-acc kernel, --profile fp32        1 (its design costs more than fp32)
#   wrong kernel (causal mask off by one)  1
set -u
cd "$(dirname "$0")/.." || exit 3
B=${BUILD:-build}
K="$B/kvcheck"
CASES=${EXAMPLE_CASES:-1500}
failed=0

expect() {
    want=$1
    shift
    echo "--- $* (must exit $want)"
    CI=true "$@" --cases "$CASES" --no-report --max-failures 2
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "examples: FAILED: exit $rc, want $want: $*"
        failed=$((failed + 1))
    fi
}

expect 0 "$K" run --kernel-lib "$B/examples/libwrap_kvattn.so"
expect 0 "$K" run --kernel-lib "$B/examples/libhalf_acc.so"
expect 1 "$K" run --kernel-lib "$B/examples/libhalf_acc.so" --profile fp32
expect 1 "$K" run --kernel-lib "$B/examples/libwrong.so"
[ "$failed" -eq 0 ]
