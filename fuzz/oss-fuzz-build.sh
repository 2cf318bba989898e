#!/bin/bash -eu
# fuzz/oss-fuzz-build.sh — build the fuzz harnesses the OSS-Fuzz /
# ClusterFuzz way (the project's build.sh would be `$SRC/kvcheck/fuzz/
# oss-fuzz-build.sh`). Uses the OSS-Fuzz environment:
#   $CC, $CXX, $CFLAGS, $CXXFLAGS   compilers and sanitizer/coverage flags
#   $LIB_FUZZING_ENGINE             the engine to link (libFuzzer, AFL++,
#                                   honggfuzz, ... all drive the same
#                                   LLVMFuzzerTestOneInput)
#   $OUT                            where binaries, seed corpora and
#                                   dictionaries go
#   $SRC (optional)                 if $SRC/cJSON/cJSON.c exists, cJSON is
#                                   compiled in from source
# Outputs: $OUT/fuzz_<harness>, $OUT/fuzz_<harness>_seed_corpus.zip,
# $OUT/fuzz_<harness>.dict (where fuzz/dict/<harness>.dict exists).
#
# Dependencies: GSL is linked statically (libgsl.a, libgslcblas.a of
# libgsl-dev) because the OSS-Fuzz runner image has no GSL; cJSON is built
# from $SRC/cJSON when present, else linked dynamically with its shared
# library copied to $OUT/lib (rpath $ORIGIN/lib).
#
# Local try: CC=clang CXX=clang++ CFLAGS="-O1 -g -fsanitize=address,fuzzer-no-link"
#   CXXFLAGS="$CFLAGS" LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out
#   sh fuzz/oss-fuzz-build.sh

cd "$(dirname "$0")/.."
: "${CC:?}" "${CFLAGS:?}" "${LIB_FUZZING_ENGINE:?}" "${OUT:?}"
CXX=${CXX:-$CC}
CXXFLAGS=${CXXFLAGS:-$CFLAGS}
SRC=${SRC:-/nonexistent}
BUILD=${WORK:-/tmp}/kvcheck-oss-fuzz
rm -rf "$BUILD"
mkdir -p "$BUILD/obj" "$OUT"
OUT=$(cd "$OUT" && pwd)

BASE="-std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Wno-unused-parameter -ffp-contract=off"
INC=$(pkg-config --cflags gsl 2>/dev/null || true)
CJSON_INC=
CJSON_SRC=
if [ -f "$SRC/cJSON/cJSON.c" ]; then
    mkdir -p "$BUILD/include/cjson"
    cp "$SRC/cJSON/cJSON.h" "$BUILD/include/cjson/"
    CJSON_INC="-I$BUILD/include"
    CJSON_SRC="$SRC/cJSON/cJSON.c"
else
    CJSON_INC=$(pkg-config --cflags libcjson 2>/dev/null || true)
fi

objs=()
compile() { # source [extra flags]
    local src=$1; shift
    local o=$BUILD/obj/$(echo "$src" | tr '/' '_').o
    # shellcheck disable=SC2086
    $CC $CFLAGS $BASE $INC $CJSON_INC "$@" -c "$src" -o "$o"
    objs+=("$o")
}

for f in kernels/*.c; do compile "$f"; done
for f in oracle/*.c; do compile "$f" -fno-fast-math; done
for f in generators/*.c golden/*.c reports/*.c tools/*.c \
         fuzz/fuzz_helpers.c fuzz/fuzz_spec.c fuzz/fuzz_model.c; do
    [ -f "$f" ] || continue
    [ "$f" = tools/kvcheck_main.c ] && continue
    compile "$f"
done
if [ -n "$CJSON_SRC" ]; then
    $CC $CFLAGS -c "$CJSON_SRC" -o "$BUILD/obj/cJSON.o"
    objs+=("$BUILD/obj/cJSON.o")
fi
ar rcs "$BUILD/libkvcheck_fuzz.a" "${objs[@]}"

# GSL statically when possible; cJSON as decided above.
LIBDIR=$(pkg-config --variable=libdir gsl 2>/dev/null || echo /usr/lib)
if [ -f "$LIBDIR/libgsl.a" ] && [ -f "$LIBDIR/libgslcblas.a" ]; then
    GSL_LIBS="$LIBDIR/libgsl.a $LIBDIR/libgslcblas.a"
else
    GSL_LIBS=$(pkg-config --libs gsl)
fi
CJSON_LIBS=
if [ -z "$CJSON_SRC" ]; then
    CJSON_LIBS="$(pkg-config --libs libcjson) -Wl,-rpath,\$ORIGIN/lib"
    so=$(ls "$(pkg-config --variable=libdir libcjson)"/libcjson.so.* 2>/dev/null | head -1 || true)
    if [ -n "$so" ]; then
        mkdir -p "$OUT/lib"
        cp -L "$so" "$OUT/lib/"
    fi
fi

harnesses="crosscheck contract qeff"
ls golden/*.c >/dev/null 2>&1 && harnesses="$harnesses golden_parse"
for h in $harnesses; do
    $CC $CFLAGS $BASE $INC $CJSON_INC -c "fuzz/fuzz_$h.c" -o "$BUILD/fuzz_$h.o"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$BUILD/fuzz_$h.o" "$BUILD/libkvcheck_fuzz.a" \
        $LIB_FUZZING_ENGINE $GSL_LIBS $CJSON_LIBS -lm -lpthread \
        -o "$OUT/fuzz_$h"
    if [ -d "fuzz/corpus/$h" ]; then
        rm -f "$OUT/fuzz_${h}_seed_corpus.zip"
        (cd "fuzz/corpus/$h" && zip -q -j "$OUT/fuzz_${h}_seed_corpus.zip" ./*)
    fi
    if [ -f "fuzz/dict/$h.dict" ]; then
        cp "fuzz/dict/$h.dict" "$OUT/fuzz_$h.dict"
    fi
done
echo "oss-fuzz-build: built $harnesses into $OUT"
