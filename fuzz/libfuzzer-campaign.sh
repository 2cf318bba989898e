#!/bin/sh
# fuzz/libfuzzer-campaign.sh — long coverage-guided runs of every harness
# (libFuzzer, and AFL++ when asked), each with its own time budget; crashes
# are minimized (-minimize_crash=1) and stored as regression inputs
# fuzz/corpus/<harness>/regress-<sha1>, which the replay builds (make
# fuzz-ci, make fuzz-valgrind) run from then on. Prints and writes a report
# (reports/out/fuzz-lf-<timestamp>/campaign.md) with executions and
# findings per harness. Exit 1 when anything was found, 0 otherwise.
#
# Environment (all optional):
#   FUZZ_TIME       seconds per harness and engine (default 600)
#   FUZZ_FORK       libFuzzer -fork=N (N jobs in parallel, crashes do not
#                   stop the run: -ignore_crashes=1); 0 = one process that
#                   stops at its first crash (default 0)
#   FUZZ_ENGINE     libfuzzer | afl | both (default libfuzzer)
#   FUZZ_HARNESSES  space-separated harness names (default: every one built)
#   FUZZ_WORK       working corpora, grown by the fuzzers, not committed
#                   (default build/fuzz/work)
#   FUZZ_BUILD      build directory (default build/fuzz)
#   FUZZ_REPORT     report directory (default reports/out/fuzz-lf-<timestamp>)
#   FUZZ_KEEP_REGRESS=1  start from regress-* inputs too (by default only
#                   seeds and the working corpus: a known, unfixed crash in
#                   regress-* would stop every run at once)
#   FUZZ_NO_STORE=1 do not write regress-* files into fuzz/corpus
#   FUZZ_ARGS       extra libFuzzer arguments
#
# The binaries must exist: make fuzz (and make fuzz-afl for AFL++).
set -u
cd "$(dirname "$0")/.." || exit 2

TIME=${FUZZ_TIME:-600}
FORK=${FUZZ_FORK:-0}
ENGINE=${FUZZ_ENGINE:-libfuzzer}
BUILD=${FUZZ_BUILD:-build/fuzz}
WORK=${FUZZ_WORK:-$BUILD/work}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=${FUZZ_REPORT:-reports/out/fuzz-lf-$STAMP}
EXTRA=${FUZZ_ARGS:-}

if [ -z "${FUZZ_HARNESSES:-}" ]; then
    FUZZ_HARNESSES=
    for b in "$BUILD"/libfuzzer/fuzz_*; do
        [ -x "$b" ] || continue
        n=${b##*/fuzz_}
        case $n in *_planted_*) continue ;; esac
        FUZZ_HARNESSES="$FUZZ_HARNESSES $n"
    done
fi
if [ -z "$FUZZ_HARNESSES" ]; then
    echo "libfuzzer-campaign: no harnesses in $BUILD/libfuzzer: run 'make fuzz'" >&2
    exit 2
fi
mkdir -p "$REPORT" || exit 2
SUMMARY=$REPORT/campaign.md
ROWS=$REPORT/rows.txt
FOUND=$REPORT/found.txt
: > "$ROWS"
: > "$FOUND"

# Minimize one crash with the libFuzzer binary and store it as regress-<sha1>.
store_crash() { # harness crashfile
    h=$1 c=$2
    min=$REPORT/min-$(basename "$c")
    "$BUILD/libfuzzer/fuzz_$h" -minimize_crash=1 -max_total_time=60 \
        -exact_artifact_path="$min" "$c" > "$min.log" 2>&1
    [ -s "$min" ] || cp "$c" "$min"
    sum=$(sha1sum "$min" | cut -c1-40)
    dest=fuzz/corpus/$h/regress-$sum
    if [ "${FUZZ_NO_STORE:-0}" = 1 ]; then
        dest=$REPORT/regress-$h-$sum
    fi
    mkdir -p "$(dirname "$dest")"
    cp "$min" "$dest"
    why=$("$BUILD/libfuzzer/fuzz_$h" "$dest" 2>&1 |
          grep -m1 -E 'ERROR: |runtime error|==FUZZ== [a-z]' | cut -c1-200)
    printf -- '- `%s`: `%s` — %s\n' "$h" "$dest" "$why" >> "$FOUND"
    echo "   stored $dest: $why"
}

# The starting corpus: seeds (and regress-* when asked) copied into the
# working corpus, which the fuzzer grows.
prepare_corpus() { # harness dir
    mkdir -p "$2"
    [ -d "fuzz/corpus/$1" ] || return 0
    for f in fuzz/corpus/"$1"/*; do
        [ -f "$f" ] || continue
        case ${f##*/} in
        regress-*) [ "${FUZZ_KEEP_REGRESS:-0}" = 1 ] || continue ;;
        esac
        cp -n "$f" "$2/" 2>/dev/null
    done
}

for h in $FUZZ_HARNESSES; do
    dict=
    [ -f "fuzz/dict/$h.dict" ] && dict="-dict=fuzz/dict/$h.dict"
    if [ "$ENGINE" = libfuzzer ] || [ "$ENGINE" = both ]; then
        bin=$BUILD/libfuzzer/fuzz_$h
        [ -x "$bin" ] || { echo "missing $bin: make fuzz" >&2; exit 2; }
        corpus=$WORK/libfuzzer/$h
        art=$REPORT/artifacts/$h
        mkdir -p "$art"
        prepare_corpus "$h" "$corpus"
        log=$REPORT/libfuzzer-$h.log
        fork=
        [ "$FORK" -gt 0 ] 2>/dev/null && fork="-fork=$FORK -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
        echo "== libFuzzer $h: ${TIME}s${fork:+ ($fork)}"
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$TIME" -print_final_stats=1 -timeout=25 \
            -rss_limit_mb=4096 -artifact_prefix="$art/" $fork $dict $EXTRA \
            "$corpus" > "$log" 2>&1
        rc=$?
        execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
        if [ "$execs" = 0 ]; then # fork mode: the last "#N" progress line
            execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
            [ -n "$execs" ] || execs=0
        fi
        rate=$(grep -E '^stat::average_exec_per_sec' "$log" | tail -1 | awk '{print $2}')
        ncrash=0
        for c in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
            [ -f "$c" ] || continue
            ncrash=$((ncrash + 1))
            store_crash "$h" "$c"
        done
        units=$(find "$corpus" -type f | wc -l)
        echo "   exit $rc, $execs executions (${rate:-?}/s), corpus $units, $ncrash finding(s)"
        printf '| libFuzzer | %s | %s | %s | %s | %s |\n' "$h" "$TIME" "$execs" "$units" "$ncrash" >> "$ROWS"
    fi
    if [ "$ENGINE" = afl ] || [ "$ENGINE" = both ]; then
        bin=$BUILD/afl/fuzz_$h
        command -v afl-fuzz >/dev/null 2>&1 || {
            echo "afl-fuzz not found: sudo apt-get install -y afl++" >&2; exit 2; }
        [ -x "$bin" ] || { echo "missing $bin: make fuzz-afl" >&2; exit 2; }
        in=$WORK/afl-in/$h
        out=$WORK/afl-out/$h
        rm -rf "$in"
        prepare_corpus "$h" "$in"
        [ -n "$(ls -A "$in" 2>/dev/null)" ] || printf 'x' > "$in/empty"
        adict=
        [ -f "fuzz/dict/$h.dict" ] && adict="-x fuzz/dict/$h.dict"
        echo "== AFL++ $h: ${TIME}s"
        # shellcheck disable=SC2086
        AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
        AFL_NO_AFFINITY=1 afl-fuzz -V "$TIME" -i "$in" -o "$out" $adict -- "$bin" \
            > "$REPORT/afl-$h.log" 2>&1
        execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$out"/default/fuzzer_stats 2>/dev/null)
        ncrash=0
        for c in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
            [ -f "$c" ] || continue
            ncrash=$((ncrash + 1))
            store_crash "$h" "$c"
        done
        units=$(find "$out"/default/queue -type f 2>/dev/null | wc -l)
        echo "   ${execs:-0} executions, queue $units, $ncrash finding(s)"
        printf '| AFL++ | %s | %s | %s | %s | %s |\n' "$h" "$TIME" "${execs:-0}" "$units" "$ncrash" >> "$ROWS"
    fi
done

{
    echo "# libFuzzer/AFL++ campaign — $STAMP"
    echo
    echo "| engine | harness | seconds | executions | corpus | findings |"
    echo "|---|---|---:|---:|---:|---:|"
    cat "$ROWS"
    echo
    if [ -s "$FOUND" ]; then
        echo "## Findings (minimized, stored as regression inputs)"
        echo
        cat "$FOUND"
    else
        echo "No findings."
    fi
} > "$SUMMARY"
echo "report: $SUMMARY"
[ -s "$FOUND" ] && exit 1
exit 0
