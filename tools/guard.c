/* guard.c — guarded buffers, their sentinels and input snapshots (guard.h). */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard_registry.h"

/* The sentinels: a 64-byte pattern repeated from the first data page's
 * start. Its bytes all differ, so a kernel storing any plausible value (a
 * float, a zero, a repeated byte) over the slack changes at least one. */
#define PATTERN_BYTES 64
static const unsigned char pattern[PATTERN_BYTES] = {
    0x5A, 0xC3, 0x96, 0x0F, 0xE1, 0x78, 0x2D, 0xB4, 0x69, 0xF0, 0xA5, 0x3C,
    0xD2, 0x4B, 0x1E, 0x87, 0x5B, 0xC2, 0x97, 0x0E, 0xE0, 0x79, 0x2C, 0xB5,
    0x68, 0xF1, 0xA4, 0x3D, 0xD3, 0x4A, 0x1F, 0x86, 0x58, 0xC1, 0x94, 0x0D,
    0xE3, 0x7A, 0x2F, 0xB6, 0x6B, 0xF2, 0xA7, 0x3E, 0xD0, 0x49, 0x1C, 0x85,
    0x59, 0xC0, 0x95, 0x0C, 0xE2, 0x7B, 0x2E, 0xB7, 0x6A, 0xF3, 0xA6, 0x3F,
    0xD1, 0x48, 0x1D, 0x84};

static void fill_sentinels(unsigned char *at, size_t n)
{
    for (size_t i = 0; i < n; i += PATTERN_BYTES)
        memcpy(at + i, pattern, n - i < PATTERN_BYTES ? n - i : PATTERN_BYTES);
}

/* The first changed sentinel of [at, at + n), or n if none. */
static size_t first_bad_sentinel(const unsigned char *at, size_t n)
{
    for (size_t i = 0; i < n; i += PATTERN_BYTES) {
        size_t len = n - i < PATTERN_BYTES ? n - i : PATTERN_BYTES;
        if (memcmp(at + i, pattern, len) == 0)
            continue;
        for (size_t j = 0; j < len; j++)
            if (at[i + j] != pattern[j])
                return i + j;
    }
    return n;
}

void kvc_guard_init(kvc_guard_set *s)
{
    memset(s, 0, sizeof *s);
}

static kvc_guard_buf *find(const kvc_guard_set *s, const void *data)
{
    for (int i = 0; i < s->count; i++)
        if (s->bufs[i].data == data)
            return &s->bufs[i];
    return NULL;
}

/* Map the buffer (guard_registry.h) and fill the slack in front of it with
 * sentinels. */
static int map_buf(kvc_guard_buf *b, size_t bytes)
{
    unsigned char *first;
    b->data = kvc_guard_map(b->name, bytes, &first, &b->reg, &b->map,
                            &b->map_bytes);
    if (!b->data)
        return -1;
    b->bytes = bytes;
    b->slack = (size_t)(b->data - first);
    fill_sentinels(first, b->slack);
    return 0;
}

static void unmap_buf(kvc_guard_buf *b)
{
    kvc_guard_unmap(b->reg, b->map, b->map_bytes);
    free(b->snap);
    free(b->ranges);
    memset(b, 0, sizeof *b);
    b->reg = -1;
}

/* Bytes an input snapshot holds: its ranges, or the whole buffer. */
static size_t snap_bytes(const kvc_guard_buf *b)
{
    if (!b->ranges)
        return b->bytes;
    size_t n = 0;
    for (int64_t r = 0; r < b->num_ranges; r++)
        n += (size_t)b->ranges[2 * r + 1] * b->unit;
    return n;
}

static int take_snapshot(kvc_guard_buf *b)
{
    size_t n = snap_bytes(b);
    unsigned char *snap = malloc(n > 0 ? n : 1);
    if (!snap)
        return -1;
    if (!b->ranges) {
        memcpy(snap, b->data, n);
    } else {
        size_t at = 0;
        for (int64_t r = 0; r < b->num_ranges; r++) {
            size_t len = (size_t)b->ranges[2 * r + 1] * b->unit;
            memcpy(snap + at, b->data + (size_t)b->ranges[2 * r] * b->unit, len);
            at += len;
        }
    }
    free(b->snap);
    b->snap = snap;
    return 0;
}

void *kvc_guard_alloc(kvc_guard_set *s, const char *name, kvc_guard_role role,
                      size_t bytes, size_t elem)
{
    if (elem == 0 || bytes % elem != 0)
        return NULL;
    if (s->count == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        kvc_guard_buf *nb = realloc(s->bufs, (size_t)cap * sizeof *nb);
        if (!nb)
            return NULL;
        s->bufs = nb;
        s->cap = cap;
    }
    kvc_guard_buf *b = &s->bufs[s->count];
    memset(b, 0, sizeof *b);
    b->reg = -1;
    snprintf(b->name, sizeof b->name, "%s", name ? name : "?");
    b->elem = elem;
    b->role = role;
    if (map_buf(b, bytes) != 0)
        return NULL;
    if (role == KVC_GUARD_ROLE_INPUT && take_snapshot(b) != 0) {
        unmap_buf(b);
        return NULL;
    }
    s->count++;
    return b->data;
}

void *kvc_guard_input(kvc_guard_set *s, const char *name, const void *src,
                      size_t bytes, size_t elem)
{
    unsigned char *d = kvc_guard_alloc(s, name, KVC_GUARD_ROLE_OUTPUT, bytes,
                                       elem);
    if (!d)
        return NULL;
    if (bytes > 0)
        memcpy(d, src, bytes);
    return kvc_guard_set_role(s, d, KVC_GUARD_ROLE_INPUT) == 0 ? d : NULL;
}

int kvc_guard_set_role(kvc_guard_set *s, const void *data, kvc_guard_role role)
{
    kvc_guard_buf *b = find(s, data);
    if (!b)
        return -1;
    if (role == KVC_GUARD_ROLE_INPUT && take_snapshot(b) != 0)
        return -1;
    if (role == KVC_GUARD_ROLE_OUTPUT) {
        free(b->snap);
        b->snap = NULL;
    }
    b->role = role;
    return 0;
}

int kvc_guard_set_ranges(kvc_guard_set *s, const void *data,
                         const int64_t *ranges, int64_t n, size_t unit)
{
    kvc_guard_buf *b = find(s, data);
    if (!b || n < 0 || unit == 0)
        return -1;
    for (int64_t r = 0; r < n; r++)
        if (ranges[2 * r] < 0 || ranges[2 * r + 1] < 0 ||
            (uint64_t)(ranges[2 * r] + ranges[2 * r + 1]) > b->bytes / unit)
            return -1;
    int64_t *copy = malloc((size_t)(2 * n + 2) * sizeof *copy);
    if (!copy)
        return -1;
    memcpy(copy, ranges, (size_t)(2 * n) * sizeof *copy);
    free(b->ranges);
    b->ranges = copy;
    b->num_ranges = n;
    b->unit = unit;
    return b->role == KVC_GUARD_ROLE_INPUT ? take_snapshot(b) : 0;
}

/* floor(a / b) for b > 0: element -1 holds bytes -elem .. -1. */
static long long floor_div(long long a, long long b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The first changed sentinel of b, as a negative byte offset; 0 if none. */
static long long touched_sentinel(const kvc_guard_buf *b)
{
    size_t i = first_bad_sentinel(b->data - b->slack, b->slack);
    return (long long)i - (long long)b->slack;
}

/* First byte of [a, a + n) that differs from [s, s + n), or -1. */
static long long first_change(const unsigned char *a, const unsigned char *s,
                              size_t n)
{
    if (memcmp(a, s, n) == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (a[i] != s[i])
            return (long long)i;
    return -1;
}

/* The first changed byte of an input (offset from its start), or -1. */
static long long changed_input(const kvc_guard_buf *b)
{
    if (!b->ranges)
        return first_change(b->data, b->snap, b->bytes);
    size_t at = 0;
    for (int64_t r = 0; r < b->num_ranges; r++) {
        size_t first = (size_t)b->ranges[2 * r] * b->unit;
        size_t len = (size_t)b->ranges[2 * r + 1] * b->unit;
        long long i = first_change(b->data + first, b->snap + at, len);
        if (i >= 0)
            return (long long)first + i;
        at += len;
    }
    return -1;
}

kvc_guard_violation kvc_guard_check(const kvc_guard_set *s, char *msg,
                                    size_t n)
{
    for (int i = 0; i < s->count; i++) {
        const kvc_guard_buf *b = &s->bufs[i];
        long long off = touched_sentinel(b);
        if (off < 0) {
            snprintf(msg, n, "kernel wrote before the start of %s: byte %lld "
                     "(element %lld) changed", b->name, off,
                     floor_div(off, (long long)b->elem));
            return KVC_GUARD_BOUNDS;
        }
    }
    for (int i = 0; i < s->count; i++) {
        const kvc_guard_buf *b = &s->bufs[i];
        long long off = b->role == KVC_GUARD_ROLE_INPUT ? changed_input(b) : -1;
        if (off >= 0) {
            snprintf(msg, n, "kernel wrote into its input %s: byte %lld "
                     "(element %lld) changed", b->name, off,
                     off / (long long)b->elem);
            return KVC_GUARD_INPUT;
        }
    }
    if (n > 0)
        msg[0] = '\0';
    return KVC_GUARD_OK;
}

void kvc_guard_free(kvc_guard_set *s)
{
    for (int i = 0; i < s->count; i++)
        unmap_buf(&s->bufs[i]);
    free(s->bufs);
    memset(s, 0, sizeof *s);
}
