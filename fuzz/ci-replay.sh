#!/bin/sh
# fuzz/ci-replay.sh — the CI hook of the fuzz suite (make fuzz-ci; the
# project's `make test` calls it). No fuzzing engine needed: gcc only.
#   (a) builds the ASan/UBSan replay binaries (make fuzz-replay-asan) and
#       replays every committed corpus (fuzz/corpus/<harness>/: seeds and
#       regress-* inputs of past findings);
#   (b) builds the plain replay binaries (make fuzz-replay) and replays the
#       corpora under valgrind --error-exitcode=99 --leak-check=full
#       --errors-for-leak-kinds=definite (every FUZZ_CI_EVERY-th file of
#       each corpus, default every file: a full pass takes well under a
#       minute).
# A few minutes at most on 2 cores, most of it the two builds.
# Environment: MAKE (default make), FUZZ_CI_JOBS (default 2), FUZZ_CI_EVERY
# (default 1), FUZZ_CI_NO_VALGRIND=1 to skip (b), VALGRIND (default
# valgrind). Exit 0 when everything replays clean, 1 otherwise, 2 when a
# build fails.
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
JOBS=${FUZZ_CI_JOBS:-2}
EVERY=${FUZZ_CI_EVERY:-1}
VALGRIND=${VALGRIND:-valgrind}
B=build/fuzz
T=$(mktemp -d "${TMPDIR:-/tmp}/kvc-fuzz-ci.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
start=$(date +%s)
fail=0

harnesses() { # flavor
    for b in "$B/$1"/fuzz_*; do
        [ -x "$b" ] || continue
        n=${b##*/fuzz_}
        case $n in *_planted_*) continue ;; esac
        [ -d "fuzz/corpus/$n" ] && echo "$n"
    done
}

# (a) ASan + UBSan
echo "fuzz-ci: building the ASan/UBSan replay binaries..."
$MAKE --no-print-directory -j"$JOBS" fuzz-replay-asan > "$T/build-asan.log" 2>&1 || {
    cat "$T/build-asan.log"; echo "fuzz-ci: build failed" >&2; exit 2; }
for h in $(harnesses replay-asan); do
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$B/replay-asan/fuzz_$h" "fuzz/corpus/$h" > "$T/asan-$h.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "fuzz-ci: asan+ubsan $h: $(tail -1 "$T/asan-$h.log")"
    else
        echo "fuzz-ci: asan+ubsan $h: FAILED (exit $rc)"
        sed -n '1,60p' "$T/asan-$h.log"
        fail=1
    fi
done

# (b) valgrind
if [ "${FUZZ_CI_NO_VALGRIND:-0}" != 1 ]; then
    if ! command -v "$VALGRIND" >/dev/null 2>&1; then
        echo "fuzz-ci: $VALGRIND not found (sudo apt-get install -y valgrind)" >&2
        exit 2
    fi
    echo "fuzz-ci: building the plain replay binaries..."
    $MAKE --no-print-directory -j"$JOBS" fuzz-replay > "$T/build.log" 2>&1 || {
        cat "$T/build.log"; echo "fuzz-ci: build failed" >&2; exit 2; }
    for h in $(harnesses replay); do
        find "fuzz/corpus/$h" -type f | LC_ALL=C sort |
            awk -v n="$EVERY" '(NR - 1) % n == 0' > "$T/list-$h"
        # shellcheck disable=SC2046
        $VALGRIND -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite "$B/replay/fuzz_$h" \
            $(cat "$T/list-$h") > "$T/vg-$h.log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            echo "fuzz-ci: valgrind $h: $(tail -1 "$T/vg-$h.log")"
        else
            echo "fuzz-ci: valgrind $h: FAILED (exit $rc; 99 = valgrind errors, 70 = harness check, 71 = signal)"
            sed -n '1,60p' "$T/vg-$h.log"
            fail=1
        fi
    done
fi

echo "fuzz-ci: $( [ $fail -eq 0 ] && echo ok || echo FAILED ) in $(( $(date +%s) - start ))s"
exit $fail
