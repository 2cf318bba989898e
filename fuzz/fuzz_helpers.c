/* fuzz_helpers.c — see fuzz_helpers.h. */
#include "fuzz_helpers.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void fz_fail(const char *file, int line, const char *cond,
                       const char *fmt, ...)
{
    fprintf(stderr, "\n==FUZZ== harness check failed at %s:%d: %s\n==FUZZ== ",
            file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

void *fz_alloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        fz_fail(__FILE__, __LINE__, "n * size fits", "allocation of %zu x %zu "
                "bytes overflows", n, size);
    void *p = malloc(n * size);
    if (p == NULL && n * size != 0)
        fz_fail(__FILE__, __LINE__, "p != NULL", "out of memory (%zu bytes)",
                n * size);
    if (p == NULL) /* a libc whose malloc(0) is NULL: keep "never NULL" */
        p = malloc(1);
    if (p == NULL)
        fz_fail(__FILE__, __LINE__, "p != NULL", "out of memory");
    return p;
}

void *fz_dup(const void *src, size_t n, size_t size)
{
    void *p = fz_alloc(n, size);
    if (n != 0 && size != 0)
        memcpy(p, src, n * size);
    return p;
}

void fz_reader_init(fz_io *io, const uint8_t *data, size_t size)
{
    memset(io, 0, sizeof *io);
    io->data = data;
    io->size = data ? size : 0;
}

void fz_writer_init(fz_io *io)
{
    memset(io, 0, sizeof *io);
    io->writing = 1;
}

void fz_writer_free(fz_io *io)
{
    free(io->buf);
    io->buf = NULL;
    io->len = io->cap = 0;
}

size_t fz_remaining(const fz_io *io)
{
    return io->writing ? 0 : io->size - io->pos;
}

static void put_byte(fz_io *io, uint8_t b)
{
    if (io->len == io->cap) {
        size_t cap = io->cap ? 2 * io->cap : 256;
        uint8_t *nb = realloc(io->buf, cap);
        FZ_ASSERT(nb != NULL, "out of memory growing the writer");
        io->buf = nb;
        io->cap = cap;
    }
    io->buf[io->len++] = b;
}

static uint8_t get_byte(fz_io *io)
{
    return io->pos < io->size ? io->data[io->pos++] : 0;
}

void fz_io_bytes(fz_io *io, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (io->writing)
            put_byte(io, p[i]);
        else
            p[i] = get_byte(io);
    }
}

/* Bytes needed for a raw value in [0, span]. */
static int span_bytes(uint64_t span)
{
    int n = 0;
    while (span) {
        n++;
        span >>= 8;
    }
    return n;
}

static uint64_t read_raw(fz_io *io, int nbytes)
{
    uint64_t r = 0;
    for (int i = 0; i < nbytes; i++)
        r |= (uint64_t)get_byte(io) << (8 * i);
    return r;
}

static void write_raw(fz_io *io, uint64_t r, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        put_byte(io, (uint8_t)(r >> (8 * i)));
}

void fz_io_u64(fz_io *io, uint64_t *v, uint64_t lo, uint64_t hi)
{
    FZ_ASSERT(lo <= hi, "bad range [%llu, %llu]", (unsigned long long)lo,
              (unsigned long long)hi);
    uint64_t span = hi - lo;
    int nb = span_bytes(span);
    if (io->writing) {
        FZ_ASSERT(*v >= lo && *v <= hi, "value %llu outside [%llu, %llu]",
                  (unsigned long long)*v, (unsigned long long)lo,
                  (unsigned long long)hi);
        write_raw(io, *v - lo, nb);
        return;
    }
    uint64_t r = read_raw(io, nb);
    *v = span == UINT64_MAX ? r : lo + r % (span + 1);
}

void fz_io_i64(fz_io *io, int64_t *v, int64_t lo, int64_t hi)
{
    FZ_ASSERT(lo <= hi, "bad range [%lld, %lld]", (long long)lo, (long long)hi);
    /* map to unsigned offsets from lo */
    uint64_t span = (uint64_t)hi - (uint64_t)lo, u = 0;
    if (io->writing) {
        FZ_ASSERT(*v >= lo && *v <= hi, "value %lld outside [%lld, %lld]",
                  (long long)*v, (long long)lo, (long long)hi);
        u = (uint64_t)*v - (uint64_t)lo;
    }
    fz_io_u64(io, &u, 0, span);
    if (!io->writing)
        *v = (int64_t)((uint64_t)lo + u);
}

void fz_io_int(fz_io *io, int *v, int lo, int hi)
{
    int64_t x = io->writing ? *v : 0;
    fz_io_i64(io, &x, lo, hi);
    if (!io->writing)
        *v = (int)x;
}

void fz_io_bool(fz_io *io, int *v)
{
    if (io->writing) {
        put_byte(io, *v ? 1 : 0);
        return;
    }
    *v = get_byte(io) & 1;
}

/* ---- interesting floats ---- */

static float float_table_entry(int i)
{
    switch (i) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return 1.0f;
    case 3: return -1.0f;
    case 4: return 0.5f;
    case 5: return 2.0f;
    case 6: return 1e-3f;
    case 7: return -1e-3f;
    case 8: return 1e-30f;
    case 9: return -1e-30f;
    case 10: return 1e30f;
    case 11: return -1e30f;
    case 12: return FLT_MAX;
    case 13: return -FLT_MAX;
    case 14: return FLT_MIN;              /* smallest normal */
    case 15: return 1.40129846e-45f;      /* smallest subnormal */
    case 16: return -1.40129846e-45f;
    case 17: return 1e-40f;               /* subnormal */
    case 18: return NAN;
    case 19: return -NAN;
    case 20: return INFINITY;
    case 21: return -INFINITY;
    case 22: return FLT_EPSILON;
    case 23: return 3.0f;
    case 24: return 100.0f;
    default: return 65504.0f;             /* f16 max */
    }
}

#define FLOAT_TABLE_N 26

int fz_float_table_size(void) { return FLOAT_TABLE_N; }

float fz_float_table(int i)
{
    return float_table_entry(((i % FLOAT_TABLE_N) + FLOAT_TABLE_N) %
                             FLOAT_TABLE_N);
}

void fz_io_float(fz_io *io, float *v)
{
    if (io->writing) {
        for (int i = 0; i < FLOAT_TABLE_N; i++) {
            float t = float_table_entry(i);
            if (memcmp(&t, v, sizeof t) == 0) {
                put_byte(io, (uint8_t)i);
                return;
            }
        }
        uint32_t bits;
        memcpy(&bits, v, sizeof bits);
        put_byte(io, 255);
        write_raw(io, bits, 4);
        return;
    }
    uint8_t sel = get_byte(io);
    if (sel < FZ_FLOAT_TABLE_SEL) {
        *v = float_table_entry(sel % FLOAT_TABLE_N);
        return;
    }
    uint32_t bits = (uint32_t)read_raw(io, 4);
    memcpy(v, &bits, sizeof bits);
}

void fz_io_float_choice(fz_io *io, float *v, float dflt, const float *table,
                        int n)
{
    int choice = n + 1;
    if (io->writing) {
        if (memcmp(v, &dflt, sizeof dflt) == 0) {
            choice = 0;
        } else {
            for (int i = 0; i < n; i++)
                if (memcmp(v, &table[i], sizeof *v) == 0) {
                    choice = i + 1;
                    break;
                }
        }
    }
    fz_io_int(io, &choice, 0, n + 1);
    if (choice == 0) {
        if (!io->writing)
            *v = dflt;
    } else if (choice <= n) {
        if (!io->writing)
            *v = table[choice - 1];
    } else {
        fz_io_float(io, v);
    }
}

/* Selector byte of the *_special fields. */
#define SEL_SPECIAL 176 /* [0,176): in range; [176,240): a special; else raw */
#define SEL_RAW 240

void fz_io_i64_special(fz_io *io, int64_t *v, int64_t lo, int64_t hi,
                       const int64_t *specials, int nspecials)
{
    if (io->writing) {
        if (*v >= lo && *v <= hi) {
            put_byte(io, 0);
            fz_io_i64(io, v, lo, hi);
            return;
        }
        for (int i = 0; i < nspecials; i++)
            if (specials[i] == *v) {
                put_byte(io, (uint8_t)(SEL_SPECIAL + i));
                return;
            }
        put_byte(io, 255);
        write_raw(io, (uint64_t)*v, 8);
        return;
    }
    uint8_t sel = get_byte(io);
    if (sel < SEL_SPECIAL || (sel < SEL_RAW && nspecials == 0)) {
        fz_io_i64(io, v, lo, hi);
    } else if (sel < SEL_RAW) {
        *v = specials[(sel - SEL_SPECIAL) % nspecials];
    } else {
        *v = (int64_t)read_raw(io, 8);
    }
}

void fz_io_int_special(fz_io *io, int *v, int lo, int hi, const int *specials,
                       int nspecials)
{
    if (io->writing) {
        if (*v >= lo && *v <= hi) {
            put_byte(io, 0);
            fz_io_int(io, v, lo, hi);
            return;
        }
        for (int i = 0; i < nspecials; i++)
            if (specials[i] == *v) {
                put_byte(io, (uint8_t)(SEL_SPECIAL + i));
                return;
            }
        put_byte(io, 255);
        write_raw(io, (uint32_t)*v, 4);
        return;
    }
    uint8_t sel = get_byte(io);
    if (sel < SEL_SPECIAL || (sel < SEL_RAW && nspecials == 0)) {
        fz_io_int(io, v, lo, hi);
    } else if (sel < SEL_RAW) {
        *v = specials[(sel - SEL_SPECIAL) % nspecials];
    } else {
        *v = (int)(uint32_t)read_raw(io, 4);
    }
}

/* ---- reader conveniences ---- */

#define READER_ONLY(io) FZ_ASSERT(!(io)->writing, "fz_get_* on a writer")

uint64_t fz_get_u64(fz_io *io, uint64_t lo, uint64_t hi)
{
    READER_ONLY(io);
    uint64_t v;
    fz_io_u64(io, &v, lo, hi);
    return v;
}

int64_t fz_get_i64(fz_io *io, int64_t lo, int64_t hi)
{
    READER_ONLY(io);
    int64_t v;
    fz_io_i64(io, &v, lo, hi);
    return v;
}

int fz_get_int(fz_io *io, int lo, int hi)
{
    READER_ONLY(io);
    int v;
    fz_io_int(io, &v, lo, hi);
    return v;
}

int fz_get_bool(fz_io *io)
{
    READER_ONLY(io);
    int v;
    fz_io_bool(io, &v);
    return v;
}

float fz_get_float(fz_io *io)
{
    READER_ONLY(io);
    float v;
    fz_io_float(io, &v);
    return v;
}

int fz_get_int_special(fz_io *io, int lo, int hi, const int *specials,
                       int nspecials)
{
    READER_ONLY(io);
    int v;
    fz_io_int_special(io, &v, lo, hi, specials, nspecials);
    return v;
}

int64_t fz_get_i64_special(fz_io *io, int64_t lo, int64_t hi,
                           const int64_t *specials, int nspecials)
{
    READER_ONLY(io);
    int64_t v;
    fz_io_i64_special(io, &v, lo, hi, specials, nspecials);
    return v;
}

int fz_get_chance(fz_io *io, int num)
{
    READER_ONLY(io);
    return (int)get_byte(io) < num;
}

/* ---- bulk values ---- */

uint64_t fz_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

float fz_small_float(uint64_t *state, float a)
{
    /* k / 1024 for k uniform in [-1024, 1024], times a */
    int k = (int)(fz_splitmix64(state) % 2049) - 1024;
    return (float)k / 1024.0f * a;
}

void fz_fill_pattern(void *p, size_t bytes, uint8_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(seed + 0x5B * (i & 0xFF));
}
