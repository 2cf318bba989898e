#!/bin/sh
# tools/run-gates.sh — `make test`: every gate runs, one after another,
# each timed; then one line per gate saying passed or FAILED and how long
# it took, and Criterion's closing line last. Exit 0 only when every gate
# passed. Run by the Makefile after the build (MAKE and TESTS come from it).
set -u
cd "$(dirname "$0")/.." || exit 3
MAKE=${MAKE:-make}
TESTS=${TESTS:-build/tests/kvcheck_tests}
T=$(mktemp -d "${TMPDIR:-/tmp}/kvc-gates.XXXXXX") || exit 3
trap 'rm -rf "$T"' EXIT
: > "$T/table"
failed=0

# gate NAME COMMAND...: run it, keep its result and time.
gate() {
    name=$1
    shift
    echo "=== gate: $name"
    start=$(date +%s)
    if "$@"; then result=passed; else result=FAILED; failed=$((failed + 1)); fi
    secs=$(( $(date +%s) - start ))
    printf 'gate %-16s %-6s %4d s\n' "$name" "$result" "$secs" >> "$T/table"
}

criterion() {
    "$TESTS" --jobs 2 2> "$T/criterion.err"
    rc=$?
    cat "$T/criterion.err" >&2
    return $rc
}

gate golden          $MAKE --no-print-directory golden-check
gate valgrind        $MAKE --no-print-directory check-valgrind
gate sanitizers      $MAKE --no-print-directory check-asan
gate corpora         sh fuzz/ci-replay.sh
gate planted-proofs  env FUZZ_PROVE_LIMIT=120 sh fuzz/prove-planted.sh
gate examples        sh examples/check.sh
gate mutants         $MAKE --no-print-directory mutants-ci
gate criterion       criterion

echo
echo "=== make test: $(grep -c passed "$T/table") of $(wc -l < "$T/table") gates passed"
cat "$T/table"
# Criterion's own closing line closes the output.
grep 'Synthesis' "$T/criterion.err" | tail -1 >&2
[ "$failed" -eq 0 ]
