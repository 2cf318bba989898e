#!/bin/sh
# tests/gate-valgrind.sh KVCHECK MISBEHAVE_SO — the gate under valgrind:
# each misbehaviour of the planted library (tests/misbehave_lib.c) is, under
# valgrind --error-exitcode=99 too, its own verdict for the case it hit
# (case 2 of seed 1, paged), and the run exits 1, never 0 or 99.
set -u
KVCHECK=$1
LIB=$2
fail=0
check() { # misbehaviour verdict
    out=$(KVC_MISBEHAVE=$1 valgrind -q --error-exitcode=99 "$KVCHECK" run \
          --cases 3 --kernel paged --kernel-lib "$LIB" --no-report \
          --no-progress --jobs 2 --timeout 10 2>/dev/null)
    rc=$?
    if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q "^FAIL case 2 \[paged\] $2:"; then
        echo "valgrind gate: $1 -> $2 (exit 1)"
    else
        echo "valgrind gate: $1: want verdict $2 and exit 1, got exit $rc:"
        printf '%s\n' "$out" | head -20
        fail=1
    fi
}
check crash crash
check abort crash
check exit0 exit
check _exit0 exit
check hang timeout
check uninit memory
check out_end bounds
check lse_end bounds
check out_before bounds
check write_q input-written
exit $fail
