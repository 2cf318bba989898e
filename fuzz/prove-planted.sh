#!/bin/sh
# fuzz/prove-planted.sh — proof that the harnesses bite. Builds the
# harnesses against the planted kernels of fuzz/planted/planted_kernels.c
# and shows that:
#   (1) the cross-check harness (libFuzzer + ASan/UBSan, started from the
#       seed corpus) catches fz_planted_past_end — paged attention whose key
#       loop runs one position too far (j <= hi): it reads the slot past the
#       sequence's end — within 60 s;
#   (2) the contract harness (libFuzzer + ASan/UBSan, started from an EMPTY
#       corpus: no seed points at the bug) catches fz_planted_no_block_check
#       — paged attention that skips the block-id range check — with an
#       AddressSanitizer report within 60 s;
#   (3) the plain replay build of that planted contract harness, run on the
#       input from (2) under valgrind --error-exitcode=99, exits 99
#       (valgrind flags the out-of-bounds read).
# Prints the time each took; exit 0 when all three are caught, 1 otherwise.
# Environment: FUZZ_PROVE_LIMIT (seconds per libFuzzer run, default 60),
# MAKE (default make), VALGRIND (default valgrind).
set -u
cd "$(dirname "$0")/.." || exit 2
LIMIT=${FUZZ_PROVE_LIMIT:-60}
MAKE=${MAKE:-make}
VALGRIND=${VALGRIND:-valgrind}
B=build/fuzz
T=$(mktemp -d "${TMPDIR:-/tmp}/kvc-prove.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT

echo "building the planted harnesses..."
$MAKE --no-print-directory -j2 fuzz-planted > "$T/build.log" 2>&1 || {
    cat "$T/build.log"; echo "prove-planted: build failed" >&2; exit 2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ok=0

# (1) cross-check vs a read one slot past the sequence's end
mkdir -p "$T/cc" "$T/cc-art"
for f in fuzz/corpus/crosscheck/seed-*; do cp "$f" "$T/cc/"; done
t0=$(now)
timeout $((LIMIT + 30)) "$B/libfuzzer/fuzz_crosscheck_planted_past_end" \
    -seed=1 -max_total_time="$LIMIT" -artifact_prefix="$T/cc-art/" "$T/cc" \
    > "$T/cc.log" 2>&1
t1=$(now)
if ls "$T"/cc-art/crash-* >/dev/null 2>&1; then
    what=$(grep -m1 -E 'ERROR: AddressSanitizer|runtime error|==FUZZ== kernel' "$T/cc.log" | cut -c1-160)
    echo "(1) cross-check caught fz_planted_past_end in $(elapsed "$t0" "$t1") s: $what"
else
    echo "(1) cross-check did NOT catch fz_planted_past_end within ${LIMIT}s"
    tail -20 "$T/cc.log"
    ok=1
fi

# (2) contract vs a missing block-id range check, from an empty corpus
mkdir -p "$T/ct" "$T/ct-art"
t0=$(now)
timeout $((LIMIT + 30)) "$B/libfuzzer/fuzz_contract_planted_no_block_check" \
    -seed=1 -max_total_time="$LIMIT" -artifact_prefix="$T/ct-art/" "$T/ct" \
    > "$T/ct.log" 2>&1
t1=$(now)
crash=$(ls "$T"/ct-art/crash-* 2>/dev/null | head -1)
if [ -n "$crash" ] && grep -q 'ERROR: AddressSanitizer' "$T/ct.log"; then
    what=$(grep -m1 'ERROR: AddressSanitizer' "$T/ct.log" | sed 's/^==[0-9]*==//' | cut -c1-120)
    frame=$(grep -m1 -E '#0 .* in ' "$T/ct.log" | sed 's/.* in //' | cut -c1-80)
    echo "(2) contract caught fz_planted_no_block_check in $(elapsed "$t0" "$t1") s: $what at $frame"
else
    echo "(2) contract did NOT get an ASan report for fz_planted_no_block_check within ${LIMIT}s"
    tail -20 "$T/ct.log"
    ok=1
    crash=
fi

# (3) the same input, plain replay build, under valgrind
if [ -n "$crash" ]; then
    t0=$(now)
    $VALGRIND -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$B/replay/fuzz_contract_planted_no_block_check" "$crash" > "$T/vg.log" 2>&1
    rc=$?
    t1=$(now)
    if [ "$rc" -eq 99 ]; then
        what=$(grep -m1 -E 'Invalid (read|write)' "$T/vg.log" | sed 's/^==[0-9]*== //')
        echo "(3) valgrind flagged it (exit 99) in $(elapsed "$t0" "$t1") s: $what"
    else
        echo "(3) valgrind exit $rc, expected 99"
        tail -20 "$T/vg.log"
        ok=1
    fi
else
    echo "(3) skipped: no input from (2)"
    ok=1
fi

[ "$ok" -eq 0 ] && echo "prove-planted: all three planted bugs caught"
exit "$ok"
