#!/bin/sh
# fuzz/valgrind-campaign.sh — every replay harness (build/fuzz/replay, gcc
# -O1 -g, no sanitizer) over its committed corpus plus freshly generated
# pseudo-random inputs, under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# within a time budget. Writes reports/out/fuzz-<timestamp>/campaign.md,
# summary.json (cJSON, via fuzz_tool), results.tsv, the valgrind logs and a
# copy of every failing input. Exit 0 when every input ran clean, 1 on any
# failure, 2 on a setup error.
#
# Environment (all optional):
#   FUZZ_BUDGET     total seconds for the campaign (default 240)
#   FUZZ_RANDOM     random inputs per harness (default 200)
#   FUZZ_SEED       seed of the random inputs (default 1)
#   FUZZ_MAXLEN     largest random input in bytes (default 512)
#   FUZZ_HARNESSES  space-separated harness names (default: every replay
#                   binary built)
#   FUZZ_BATCH      inputs per valgrind process (default 25)
#   FUZZ_BUILD      build directory of the fuzz builds (default build/fuzz)
#   FUZZ_REPORT     report directory (default reports/out/fuzz-<timestamp>)
#   VALGRIND        the valgrind command (default valgrind)
#
# A batch that fails is re-run one input at a time to name the inputs that
# fail. Replay exit codes: 99 valgrind found errors (memory error or a
# definite leak), 70 a harness check failed (abort), 71 a fatal signal;
# see fuzz/replay.c.
set -u

BUDGET=${FUZZ_BUDGET:-240}
NRANDOM=${FUZZ_RANDOM:-200}
SEED=${FUZZ_SEED:-1}
MAXLEN=${FUZZ_MAXLEN:-512}
BATCH=${FUZZ_BATCH:-25}
BUILD=${FUZZ_BUILD:-build/fuzz}
VALGRIND=${VALGRIND:-valgrind}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=${FUZZ_REPORT:-reports/out/fuzz-$STAMP}
TOOL=$BUILD/tools/fuzz_tool

cd "$(dirname "$0")/.." || exit 2

if ! command -v "$VALGRIND" >/dev/null 2>&1; then
    echo "valgrind-campaign: $VALGRIND not found (sudo apt-get install -y valgrind)" >&2
    exit 2
fi
if [ ! -x "$TOOL" ]; then
    echo "valgrind-campaign: $TOOL missing: run 'make fuzz-replay $TOOL' (or make fuzz-valgrind)" >&2
    exit 2
fi
if [ -z "${FUZZ_HARNESSES:-}" ]; then
    FUZZ_HARNESSES=
    for b in "$BUILD"/replay/fuzz_*; do
        [ -x "$b" ] || continue
        n=${b##*/fuzz_}
        case $n in *_planted_*) continue ;; esac
        FUZZ_HARNESSES="$FUZZ_HARNESSES $n"
    done
fi
if [ -z "$FUZZ_HARNESSES" ]; then
    echo "valgrind-campaign: no replay binaries in $BUILD/replay: run 'make fuzz-replay'" >&2
    exit 2
fi

mkdir -p "$REPORT/logs" "$REPORT/failures" "$REPORT/random" || exit 2
RESULTS=$REPORT/results.tsv
: > "$RESULTS"
printf 'campaign\tstarted\t%s\n' "$STAMP" >> "$RESULTS"
printf 'campaign\tbudgetSeconds\t%s\n' "$BUDGET" >> "$RESULTS"
printf 'campaign\trandomPerHarness\t%s\n' "$NRANDOM" >> "$RESULTS"
printf 'campaign\trandomSeed\t%s\n' "$SEED" >> "$RESULTS"
printf 'campaign\tvalgrind\t%s\n' "$($VALGRIND --version 2>/dev/null)" >> "$RESULTS"

VG="$VALGRIND -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
START=$(date +%s)
NH=0
for h in $FUZZ_HARNESSES; do NH=$((NH + 1)); done
TOTAL_FAIL=0
NOTES=$REPORT/notes.txt
: > "$NOTES"

# One-line summary of a failing run's log: valgrind's first error first,
# then a harness check, then a crash line.
summarize() {
    s=
    for pat in 'Invalid (read|write)|uninitialised|Conditional jump|Mismatched free|Invalid free|Source and destination overlap' \
               'definitely lost' '==FUZZ== harness check' '==FUZZ== ' 'replay: CRASH'; do
        s=$(grep -m1 -E "$pat" "$1" | sed 's/^==[0-9]*== //' | tr '\t' ' ' | cut -c1-300)
        [ -n "$s" ] && break
    done
    [ -n "$s" ] || s="exit status $2 (see log)"
    printf '%s' "$s"
}

i=0
for h in $FUZZ_HARNESSES; do
    i=$((i + 1))
    bin=$BUILD/replay/fuzz_$h
    if [ ! -x "$bin" ]; then
        echo "valgrind-campaign: $bin missing" >&2
        exit 2
    fi
    now=$(date +%s)
    left=$((BUDGET - (now - START)))
    share=$((left / (NH - i + 1)))
    deadline=$((now + share))
    rdir=$REPORT/random/$h
    mkdir -p "$rdir"
    "$TOOL" random "$rdir" "$NRANDOM" "$SEED" "$MAXLEN" || exit 2
    list=$REPORT/logs/$h.inputs
    { [ -d "fuzz/corpus/$h" ] && find -L "fuzz/corpus/$h" -type f | LC_ALL=C sort
      find "$rdir" -type f | LC_ALL=C sort; } > "$list"
    total=$(wc -l < "$list")
    ran=0 fails=0 b=0 t0=$(date +%s)
    echo "== $h: $total inputs, ${share}s budget"
    while [ "$ran" -lt "$total" ]; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "   budget reached after $ran of $total inputs"
            printf '%s: budget reached after %s of %s inputs\n' "$h" "$ran" "$total" >> "$NOTES"
            break
        fi
        b=$((b + 1))
        batch=$REPORT/logs/$h.batch
        sed -n "$((ran + 1)),$((ran + BATCH))p" "$list" > "$batch"
        n=$(wc -l < "$batch")
        log=$REPORT/logs/$h-$b.log
        # shellcheck disable=SC2046
        $VG --log-file="$log.vg" "$bin" $(cat "$batch") > "$log" 2>&1
        rc=$?
        cat "$log.vg" >> "$log" 2>/dev/null
        rm -f "$log.vg"
        if [ "$rc" -ne 0 ]; then
            # name the failing inputs
            while IFS= read -r f; do
                one=$REPORT/logs/$h-$(basename "$f").log
                $VG --log-file="$one.vg" "$bin" "$f" > "$one" 2>&1
                r1=$?
                cat "$one.vg" >> "$one" 2>/dev/null
                rm -f "$one.vg"
                if [ "$r1" -ne 0 ]; then
                    fails=$((fails + 1))
                    mkdir -p "$REPORT/failures/$h"
                    cp "$f" "$REPORT/failures/$h/"
                    printf 'failure\t%s\t%s\t%s\t%s\n' "$h" "$f" "$r1" \
                        "$(summarize "$one" "$r1")" >> "$RESULTS"
                    echo "   FAIL ($r1): $f"
                else
                    rm -f "$one"
                fi
            done < "$batch"
        else
            rm -f "$log"
        fi
        ran=$((ran + n))
    done
    rm -f "$REPORT/logs/$h.batch"
    secs=$(( $(date +%s) - t0 ))
    printf 'harness\t%s\t%s\t%s\t%s\n' "$h" "$ran" "$fails" "$secs" >> "$RESULTS"
    echo "   $ran inputs, $fails failing, ${secs}s"
    TOTAL_FAIL=$((TOTAL_FAIL + fails))
done
printf 'campaign\tseconds\t%s\n' "$(( $(date +%s) - START ))" >> "$RESULTS"

"$TOOL" summary "$RESULTS" "$REPORT/summary.json" || exit 2

{
    echo "# Fuzz campaign under valgrind — $STAMP"
    echo
    echo "valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite;"
    echo "replay binaries from \`$BUILD/replay\` (gcc -O1 -g, no sanitizer); inputs: the"
    echo "committed corpus \`fuzz/corpus/<harness>/\` plus $NRANDOM pseudo-random inputs per"
    echo "harness (seed $SEED, up to $MAXLEN bytes; regenerate with"
    echo "\`$TOOL random DIR $NRANDOM $SEED $MAXLEN\`). Budget ${BUDGET}s."
    echo
    echo "| harness | inputs run | failures | seconds |"
    echo "|---|---:|---:|---:|"
    awk -F '\t' '$1 == "harness" { printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$RESULTS"
    echo
    if [ -s "$NOTES" ]; then
        echo "Budget notes:"
        echo
        sed 's/^/- /' "$NOTES"
        echo
    fi
    if [ "$TOTAL_FAIL" -eq 0 ]; then
        echo "No failures."
    else
        echo "## Failures ($TOTAL_FAIL)"
        echo
        echo "Exit 99: valgrind errors; 70: a harness check failed; 71: a fatal signal."
        echo "Inputs are copied under \`failures/<harness>/\`; reproduce with"
        echo "\`valgrind $BUILD/replay/fuzz_<harness> INPUT\`. Logs under \`logs/\`."
        echo
        awk -F '\t' '$1 == "failure" { printf "- `%s` `%s` (exit %s): %s\n", $2, $3, $4, $5 }' "$RESULTS"
    fi
} > "$REPORT/campaign.md"
rm -f "$NOTES"

echo "report: $REPORT/campaign.md"
[ "$TOTAL_FAIL" -eq 0 ] || exit 1
exit 0
