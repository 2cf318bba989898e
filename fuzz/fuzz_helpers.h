/*
 * fuzz_helpers.h — what every kvcheck fuzz harness shares (in the style of
 * zstd's tests/fuzz/fuzz_helpers.h + fuzz_data_producer.h):
 *
 *   - FZ_ASSERT / fz_fail: a harness-level check that prints what broke and
 *     abort()s (libFuzzer, AFL++ and the replay driver all treat an abort as
 *     a crash);
 *   - fz_io: turns fuzzer bytes into structured values. It is SYMMETRIC:
 *     the same field calls that read values from bytes (a reader) append
 *     the bytes that encode given values (a writer). A format is written
 *     once, as a sequence of field calls, and serves both the harness
 *     (decode) and the seed generator make_seeds.c (encode), so seeds stay
 *     in the harness's byte format by construction.
 *
 * Encoding (reader side; the writer produces exactly what the reader
 * expects):
 *   - an integer in [lo, hi] takes the fewest little-endian bytes that hold
 *     hi - lo; the value is lo + raw % (hi - lo + 1);
 *   - a bool is one byte, its low bit;
 *   - a float is one selector byte: below FZ_FLOAT_TABLE_SEL it picks an
 *     entry of a small table of interesting values (0, -0, 1, tiny, huge,
 *     FLT_MAX, subnormals, NaN, +-inf, ...), otherwise four raw bytes
 *     follow (the IEEE bits);
 *   - past the end of the input every byte reads as 0 (so every value
 *     becomes its range's lo); a short input is still a valid input.
 *
 * No global state: everything lives in the fz_io the caller owns.
 */
#ifndef KVC_FUZZ_HELPERS_H
#define KVC_FUZZ_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define FZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FZ_PRINTF(a, b)
#endif

/* Report a harness-level failure and abort(). */
_Noreturn void fz_fail(const char *file, int line, const char *cond,
                       const char *fmt, ...) FZ_PRINTF(4, 5);

#define FZ_ASSERT(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond))                                                          \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                  \
    } while (0)

/* malloc of exactly n elements of size bytes (n == 0 gives a zero-byte
 * block: any access to it is out of bounds for ASan and valgrind). Aborts
 * when out of memory or when n * size overflows. Never NULL. */
void *fz_alloc(size_t n, size_t size);
/* fz_alloc + memcpy of n elements from src (src may be NULL when n == 0). */
void *fz_dup(const void *src, size_t n, size_t size);

/* Bytes-to-values (reader) or values-to-bytes (writer). */
typedef struct fz_io {
    int writing;
    /* reader */
    const uint8_t *data;
    size_t size;
    size_t pos;
    /* writer */
    uint8_t *buf;
    size_t len;
    size_t cap;
} fz_io;

void fz_reader_init(fz_io *io, const uint8_t *data, size_t size);
void fz_writer_init(fz_io *io);
void fz_writer_free(fz_io *io);
/* Reader: bytes not consumed yet (0 for a writer). */
size_t fz_remaining(const fz_io *io);

/* Raw bytes: reader fills dst (zeros past the end), writer appends src. */
void fz_io_bytes(fz_io *io, uint8_t *p, size_t n);

/* Symmetric fields. Reader: *v = decoded value. Writer: encodes *v, which
 * must lie in [lo, hi] (checked: a seed that cannot be encoded is a bug in
 * the seed, and aborts). */
void fz_io_u64(fz_io *io, uint64_t *v, uint64_t lo, uint64_t hi);
void fz_io_i64(fz_io *io, int64_t *v, int64_t lo, int64_t hi);
void fz_io_int(fz_io *io, int *v, int lo, int hi);
void fz_io_bool(fz_io *io, int *v);
/* A float: a table entry (bitwise match) or raw bits. */
void fz_io_float(fz_io *io, float *v);
/* A float that is usually meaningful: one choice byte (fewest bytes for
 * n + 2 choices), 0 = dflt, 1..n = table[choice - 1], n + 1 = any float
 * (fz_io_float). Writer: the cheapest choice that gives *v bitwise. */
void fz_io_float_choice(fz_io *io, float *v, float dflt, const float *table,
                        int n);
/* An integer that is usually in [lo, hi] but may be one of the given
 * special values or any raw 32-bit int: one selector byte, then the
 * value. Writer: picks the cheapest encoding of *v. */
void fz_io_int_special(fz_io *io, int *v, int lo, int hi,
                       const int *specials, int nspecials);
void fz_io_i64_special(fz_io *io, int64_t *v, int64_t lo, int64_t hi,
                       const int64_t *specials, int nspecials);

/* Reader conveniences (abort on a writer). */
uint64_t fz_get_u64(fz_io *io, uint64_t lo, uint64_t hi);
int64_t fz_get_i64(fz_io *io, int64_t lo, int64_t hi);
int fz_get_int(fz_io *io, int lo, int hi);
int fz_get_bool(fz_io *io);
float fz_get_float(fz_io *io);
int fz_get_int_special(fz_io *io, int lo, int hi, const int *specials,
                       int nspecials);
int64_t fz_get_i64_special(fz_io *io, int64_t lo, int64_t hi,
                           const int64_t *specials, int nspecials);
/* 1 with probability about num/256 (one byte). */
int fz_get_chance(fz_io *io, int num);

/* The table of interesting floats fz_io_float draws from. */
#define FZ_FLOAT_TABLE_SEL 192 /* selectors below this pick a table entry */
int fz_float_table_size(void);
float fz_float_table(int i);

/* A tiny deterministic generator (splitmix64) for bulk values a harness
 * derives from one seed read from the input. */
uint64_t fz_splitmix64(uint64_t *state);
/* Uniform float in [-a, a], a multiple of 2^-10 (exact, finite). */
float fz_small_float(uint64_t *state, float a);

/* Byte-pattern fill and compare of buffers a call must leave untouched. */
void fz_fill_pattern(void *p, size_t bytes, uint8_t seed);

#endif /* KVC_FUZZ_HELPERS_H */
