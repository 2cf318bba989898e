/*
 * golden_read.c — parsing golden files (format: FORMAT.md) from hostile
 * text.
 *
 * Everything is checked before it is used: JSON types, key sets (unknown
 * and repeated keys are refused), integer ranges, array lengths against the
 * shapes the config and lengths imply, dtypes, strict base64 and its
 * decoded size, stride arithmetic (no int64 overflow), and the invariants
 * the runner (tools/runner.c) relies on. Nothing is allocated before the
 * text has shown it holds that many elements, so a small file cannot make
 * the reader allocate much. On any error *f is zeroed, everything is freed,
 * and the message names the file, the test (tcId) and the field.
 *
 * Two levels of checks (FORMAT.md, "What a reader checks"):
 *   every test   shapes and sizes agree, limits hold, the pool geometry is
 *                the one the config describes and fits poolElems, so any
 *                consumer may index every array and the pool as the layout
 *                says;
 *   valid tests  also self-consistent as a problem a correct kernel must
 *                accept: table entries for visible positions in range,
 *                slots equal to blockTable * B + pos % B, padding slots -1,
 *                no slot twice, QEfficient rows that follow the convention.
 * Invalid and acceptable tests keep their deliberately odd inputs.
 */
#include "golden_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "golden_variant.h"

/* ---- context and messages ------------------------------------------------ */

typedef struct rd {
    const char *name;
    char *err;
    size_t errlen;
    int failed;
    int level;  /* 0 top level, 1 group, 2 test */
    int group;  /* index in testGroups */
    int index;  /* index in the group's tests */
    int tc_id;  /* 0 while unknown */
    int version; /* schemaVersion of the file */
} rd;

/* Prefix + optional field + message, once. Always returns -1. */
static int rfail(rd *r, const char *field, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = 1;
    if (!r->err || !r->errlen)
        return -1;
    char where[96];
    if (r->level == 0)
        snprintf(where, sizeof where, "top level");
    else if (r->level == 1)
        snprintf(where, sizeof where, "testGroups[%d]", r->group);
    else if (r->tc_id > 0)
        snprintf(where, sizeof where, "test tcId %d", r->tc_id);
    else
        snprintf(where, sizeof where, "testGroups[%d].tests[%d]", r->group,
                 r->index);
    int n;
    if (field)
        n = snprintf(r->err, r->errlen, "%s: %s: field '%s': ", r->name, where,
                     field);
    else
        n = snprintf(r->err, r->errlen, "%s: %s: ", r->name, where);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A field path "prefix + key" or "prefix[i]" in a caller's buffer. */
typedef struct fname {
    char s[192];
} fname;

static const char *fjoin(fname *b, const char *prefix, const char *key)
{
    snprintf(b->s, sizeof b->s, "%.80s%.80s", prefix, key);
    return b->s;
}

static const char *findex(fname *b, const char *base, int64_t i)
{
    snprintf(b->s, sizeof b->s, "%.120s[%lld]", base, (long long)i);
    return b->s;
}

static const char *findex2(fname *b, const char *base, int64_t i, int64_t j)
{
    snprintf(b->s, sizeof b->s, "%.120s[%lld][%lld]", base, (long long)i,
             (long long)j);
    return b->s;
}

static const char *type_of(const cJSON *x)
{
    if (!x)
        return "nothing";
    if (cJSON_IsString(x))
        return "a string";
    if (cJSON_IsNumber(x))
        return "a number";
    if (cJSON_IsObject(x))
        return "an object";
    if (cJSON_IsArray(x))
        return "an array";
    if (cJSON_IsBool(x))
        return "a boolean";
    if (cJSON_IsNull(x))
        return "null";
    return "an invalid value";
}

/* A short, printable copy of a string from the file, for messages. */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t o = 0, i = 0;
    for (; s[i] && o + 1 < n; i++)
        buf[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) ? '?' : s[i];
    if (s[i] && n >= 4) { /* truncated: end with "..." */
        o = o >= 3 ? o - 3 : 0;
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- typed access --------------------------------------------------------- */

/* Every key of obj is one of allowed[], none twice. */
static int check_keys(rd *r, const cJSON *obj, const char *prefix,
                      const char *const *allowed, int n)
{
    uint64_t seen = 0;
    fname f;
    for (const cJSON *c = obj->child; c; c = c->next) {
        int k = -1;
        for (int i = 0; c->string && i < n; i++)
            if (strcmp(c->string, allowed[i]) == 0) {
                k = i;
                break;
            }
        char tmp[48];
        if (k < 0)
            return rfail(r, fjoin(&f, prefix, c->string ? shown(c->string, tmp, sizeof tmp) : "?"),
                         "unknown key");
        if (seen >> k & 1)
            return rfail(r, fjoin(&f, prefix, c->string), "key appears twice");
        seen |= (uint64_t)1 << k;
    }
    return 0;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Required member of a given kind. */
static const cJSON *need(rd *r, const cJSON *obj, const char *prefix,
                         const char *key, cJSON_bool (*is)(const cJSON *),
                         const char *kind)
{
    fname f;
    const cJSON *x = member(obj, key);
    if (!x) {
        rfail(r, fjoin(&f, prefix, key), "missing");
        return NULL;
    }
    if (!is(x)) {
        rfail(r, fjoin(&f, prefix, key), "expected %s, found %s", kind,
              type_of(x));
        return NULL;
    }
    return x;
}

/* An integer JSON number in [lo, hi]. */
static int as_int(rd *r, const cJSON *x, const char *field, int64_t lo,
                  int64_t hi, int64_t *out)
{
    if (!x)
        return rfail(r, field, "missing");
    if (!cJSON_IsNumber(x))
        return rfail(r, field, "expected an integer, found %s", type_of(x));
    double d = x->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > (double)KVCG_GOLDEN_MAX_INT)
        return rfail(r, field, "expected an integer, found %.17g", d);
    int64_t v = (int64_t)d;
    if (v < lo || v > hi)
        return rfail(r, field, "%lld is outside %lld..%lld", (long long)v,
                     (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int get_int(rd *r, const cJSON *obj, const char *prefix, const char *key,
                   int64_t lo, int64_t hi, int64_t *out)
{
    fname f;
    return as_int(r, member(obj, key), fjoin(&f, prefix, key), lo, hi, out);
}

static int get_int32(rd *r, const cJSON *obj, const char *prefix,
                     const char *key, int64_t lo, int64_t hi, int *out)
{
    int64_t v = 0;
    if (get_int(r, obj, prefix, key, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* A string of at most maxlen bytes. */
static const char *get_string(rd *r, const cJSON *obj, const char *prefix,
                              const char *key, size_t maxlen)
{
    fname f;
    const cJSON *x = need(r, obj, prefix, key, cJSON_IsString, "a string");
    if (!x)
        return NULL;
    size_t n = strlen(x->valuestring);
    if (n > maxlen) {
        rfail(r, fjoin(&f, prefix, key), "%zu bytes long, at most %zu allowed",
              n, maxlen);
        return NULL;
    }
    return x->valuestring;
}

static int64_t count_children(const cJSON *x)
{
    int64_t n = 0;
    for (const cJSON *c = x ? x->child : NULL; c; c = c->next)
        n++;
    return n;
}

/* An array of exactly n integers in [lo, hi]: checked, then (dst != NULL)
 * stored. Exactly one of dst32 / dst64 may be given. */
static int read_ints(rd *r, const cJSON *arr, const char *field, int64_t n,
                     int64_t lo, int64_t hi, int *dst32, int64_t *dst64)
{
    fname f;
    if (!cJSON_IsArray(arr))
        return rfail(r, field, "expected an array, found %s", type_of(arr));
    int64_t have = count_children(arr);
    if (have != n)
        return rfail(r, field, "expected %lld entries, found %lld",
                     (long long)n, (long long)have);
    int64_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        int64_t v = 0;
        if (as_int(r, c, findex(&f, field, i), lo, hi, &v) != 0)
            return -1;
        if (dst32)
            dst32[i] = (int)v;
        if (dst64)
            dst64[i] = v;
    }
    return 0;
}

/* A [rows][cols] array of arrays of int32 in [lo, hi]: shape checked
 * first, then allocated (rows*cols <= text size; a placeholder row of -1
 * when rows == 0) and filled. */
static int read_int_rows(rd *r, const cJSON *arr, const char *field,
                         int64_t rows, int64_t cols, int64_t lo, int64_t hi,
                         int **out)
{
    fname f;
    *out = NULL;
    if (!cJSON_IsArray(arr))
        return rfail(r, field, "expected an array, found %s", type_of(arr));
    int64_t have = count_children(arr);
    if (have != rows)
        return rfail(r, field, "expected %lld rows, found %lld",
                     (long long)rows, (long long)have);
    int64_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        if (!cJSON_IsArray(c))
            return rfail(r, findex(&f, field, i), "expected an array, found %s",
                         type_of(c));
        int64_t m = count_children(c);
        if (m != cols)
            return rfail(r, findex(&f, field, i),
                         "expected %lld entries, found %lld", (long long)cols,
                         (long long)m);
    }
    /* rows is bounded by the text; without rows, one placeholder row of -1
     * (cols <= 2^20), as the generator lays out a table without sequences
     * (tools/pool.c reads max(S, 1) rows) */
    int64_t total = (rows > 0 ? rows : 1) * cols;
    int *v = malloc((size_t)(total > 0 ? total : 1) * sizeof *v);
    if (!v)
        return rfail(r, field, "out of memory");
    for (int64_t k = 0; rows == 0 && k < (total > 0 ? total : 1); k++)
        v[k] = -1;
    i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        if (read_ints(r, c, findex(&f, field, i), cols, lo, hi, v + i * cols,
                      NULL) != 0) {
            free(v);
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* ---- tensors ---------------------------------------------------------------- */

typedef enum dtype { DT_F32, DT_F64, DT_U8, DT_U16 } dtype;
static const char *const dtype_names[4] = {"f32", "f64", "u8", "u16"};
static const size_t dtype_sizes[4] = {4, 8, 1, 2};

typedef struct tensor_ref {
    const char *data;
    size_t len;   /* characters of data */
    int64_t n;    /* elements */
} tensor_ref;

/* {"dtype", "shape", "data"} with the expected dtype and shape, and a
 * base64 string of the right length. Nothing is decoded yet. */
/* A tensor's shape array: exactly the rank and extents the caller
 * expects; *n gets their product. */
static int tensor_shape(rd *r, const cJSON *sh, const char *prefix,
                        const int64_t *shape, int rank, int64_t *n)
{
    fname f;
    int64_t have = count_children(sh);
    *n = 1;
    if (have != rank)
        return rfail(r, fjoin(&f, prefix, "shape"),
                     "expected %d dimensions, found %lld", rank, (long long)have);
    int64_t i = 0;
    for (const cJSON *c = sh->child; c; c = c->next, i++) {
        int64_t v = 0;
        fname g;
        if (as_int(r, c, findex(&g, fjoin(&f, prefix, "shape"), i), 0,
                   KVCG_GOLDEN_MAX_INT, &v) != 0)
            return -1;
        if (v != shape[i]) {
            char want[96];
            size_t o = 0;
            for (int k = 0; k < rank && o < sizeof want; k++)
                o += (size_t)snprintf(want + o, sizeof want - o, "%s%lld",
                                      k ? ", " : "", (long long)shape[k]);
            return rfail(r, fjoin(&f, prefix, "shape"),
                         "expected [%s], found %lld at index %lld", want,
                         (long long)v, (long long)i);
        }
        *n *= shape[i]; /* the caller's shapes are within the limits */
    }
    return 0;
}

static int tensor_check(rd *r, const cJSON *x, const char *field, dtype dt,
                        const int64_t *shape, int rank, tensor_ref *out)
{
    static const char *const keys[] = {"dtype", "shape", "data"};
    fname f;
    char tmp[48];
    if (!x)
        return rfail(r, field, "missing");
    if (!cJSON_IsObject(x))
        return rfail(r, field, "expected an object {dtype, shape, data}, found %s",
                     type_of(x));
    char prefix[112];
    snprintf(prefix, sizeof prefix, "%s.", field);
    if (check_keys(r, x, prefix, keys, 3) != 0)
        return -1;
    const char *d = get_string(r, x, prefix, "dtype", 16);
    if (!d)
        return -1;
    if (strcmp(d, dtype_names[dt]) != 0)
        return rfail(r, fjoin(&f, prefix, "dtype"), "expected \"%s\", found \"%s\"",
                     dtype_names[dt], shown(d, tmp, sizeof tmp));
    const cJSON *sh = need(r, x, prefix, "shape", cJSON_IsArray, "an array");
    if (!sh)
        return -1;
    int64_t n;
    if (tensor_shape(r, sh, prefix, shape, rank, &n) != 0)
        return -1;
    const cJSON *data = need(r, x, prefix, "data", cJSON_IsString, "a string");
    if (!data)
        return -1;
    size_t len = strlen(data->valuestring), bytes;
    size_t want_bytes = (size_t)n * dtype_sizes[dt];
    if (kvc_base64_decoded_len(data->valuestring, len, &bytes) != 0)
        return rfail(r, fjoin(&f, prefix, "data"),
                     "base64 of %zu characters: the length must be a multiple "
                     "of 4", len);
    if (bytes != want_bytes)
        return rfail(r, fjoin(&f, prefix, "data"),
                     "decodes to %zu bytes, the shape needs %zu (%lld x %s)",
                     bytes, want_bytes, (long long)n, dtype_names[dt]);
    out->data = data->valuestring;
    out->len = len;
    out->n = n;
    return 0;
}

/* Decode into dst (n elements of dt), little-endian to host. */
static int tensor_decode(rd *r, const char *field, dtype dt,
                         const tensor_ref *t, void *dst)
{
    size_t bytes = (size_t)t->n * dtype_sizes[dt], bad = 0;
    if (bytes == 0 && t->len == 0)
        return 0;
    int64_t got = kvc_base64_decode(t->data, t->len, dst, bytes, &bad);
    if (got < 0 || (size_t)got != bytes) {
        fname f;
        return rfail(r, fjoin(&f, field, ".data"),
                     "invalid base64 at character %zu", bad);
    }
    uint8_t *b = dst;
    if (dt == DT_F32) {
        for (int64_t i = 0; i < t->n; i++) {
            uint8_t *e = b + i * 4;
            uint32_t v = (uint32_t)e[0] | (uint32_t)e[1] << 8 |
                         (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
            memcpy(e, &v, 4);
        }
    } else if (dt == DT_F64) {
        for (int64_t i = 0; i < t->n; i++) {
            uint8_t *e = b + i * 8;
            uint64_t v = 0;
            for (int k = 7; k >= 0; k--)
                v = v << 8 | e[k];
            memcpy(e, &v, 8);
        }
    } else if (dt == DT_U16) {
        for (int64_t i = 0; i < t->n; i++) {
            uint8_t *e = b + i * 2;
            uint16_t v = (uint16_t)(e[0] | e[1] << 8);
            memcpy(e, &v, 2);
        }
    }
    return 0;
}

/* Allocate and decode a tensor of n elements of dt (at least one byte). */
static void *decode_alloc(rd *r, const char *field, dtype dt,
                          const tensor_ref *t)
{
    void *x = malloc((size_t)(t->n > 0 ? t->n : 1) * dtype_sizes[dt]);
    if (!x) {
        rfail(r, field, "out of memory");
        return NULL;
    }
    if (tensor_decode(r, field, dt, t, x) != 0) {
        free(x);
        return NULL;
    }
    return x;
}

/* Allocate and decode a tensor of doubles. */
static double *decode_f64(rd *r, const char *field, const tensor_ref *t)
{
    double *x = malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof *x);
    if (!x) {
        rfail(r, field, "out of memory");
        return NULL;
    }
    if (tensor_decode(r, field, DT_F64, t, x) != 0) {
        free(x);
        return NULL;
    }
    return x;
}

/* ---- group config ------------------------------------------------------------ */

typedef struct gcfg {
    kvc_mode mode;
    kvc_config cfg;
    kvc_kv_dtype kv_dtype;           /* the cache format */
    kvc_scale_kind kv_kind;
    int block_size, hnd, stride_pad; /* PAGED, QEFF */
    int strided;                     /* layout "strided": strides as the
                                        test's layout states them */
    int cache_len, num_kv_blocks;    /* BLOCKED */
} gcfg;

static int get_f32(rd *r, const cJSON *obj, const char *prefix,
                   const char *key, float *out)
{
    fname f;
    char tmp[48];
    const char *s = get_string(r, obj, prefix, key, 64);
    if (!s)
        return -1;
    if (kvcg_parse_hex_float(s, out) != 0)
        return rfail(r, fjoin(&f, prefix, key),
                     "expected a finite fp32 value as a hexadecimal float "
                     "(\"0x1.6a09e6p-2\"), found \"%s\"", shown(s, tmp, sizeof tmp));
    return 0;
}

/* The cache format: kvDtype, kvScale, and only the pairs that exist. */
static int config_format(rd *r, const cJSON *c, gcfg *g)
{
    const char *P = "config.";
    char tmp[48];
    const char *dt = get_string(r, c, P, "kvDtype", 16);
    if (!dt)
        return -1;
    if (kvc_kv_dtype_parse(dt, &g->kv_dtype) != 0)
        return rfail(r, "config.kvDtype", "expected \"f32\", \"f16\", \"bf16\", "
                     "\"fp8_e4m3\", \"fp8_e5m2\", \"int8\" or \"nvfp4\", found \"%s\"",
                     shown(dt, tmp, sizeof tmp));
    const char *ks = get_string(r, c, P, "kvScale", 16);
    if (!ks)
        return -1;
    if (kvc_scale_kind_parse(ks, &g->kv_kind) != 0)
        return rfail(r, "config.kvScale", "expected \"none\", \"tensor\", "
                     "\"attn_head\", \"token\" or \"group\", found \"%s\"",
                     shown(ks, tmp, sizeof tmp));
    if (!kvc_quant_kind_valid(g->kv_dtype, g->kv_kind))
        return rfail(r, "config.kvScale", "\"%s\" is not a scale strategy of "
                     "kvDtype \"%s\" (f32, f16, bf16: none; fp8_e4m3, fp8_e5m2, "
                     "int8: tensor, attn_head, token; nvfp4: group)",
                     kvc_scale_kind_name(g->kv_kind), kvc_kv_dtype_name(g->kv_dtype));
    return 0;
}

/* Where the cache lives: a BlockedAttention cache is contiguous
 * (cacheLen, numKvBlocks; seen as one HND block of cacheLen slots per
 * sequence), a paged one has blockSize, layout and stridePad. */
static int config_geometry(rd *r, const cJSON *c, gcfg *g)
{
    const char *P = "config.";
    fname f;
    char tmp[48];
    if (g->mode == KVC_MODE_BLOCKED) {
        if (get_int32(r, c, P, "cacheLen", 1, KVCG_GOLDEN_MAX_LEN, &g->cache_len) ||
            get_int32(r, c, P, "numKvBlocks", INT_MIN, INT_MAX, &g->num_kv_blocks))
            return -1;
        g->hnd = 1;
        g->block_size = g->cache_len;
        return 0;
    }
    if (get_int32(r, c, P, "blockSize", 1, KVCG_GOLDEN_MAX_BLOCK_SIZE, &g->block_size))
        return -1;
    const char *lay = get_string(r, c, P, "layout", 16);
    if (!lay)
        return -1;
    if (strcmp(lay, "NHD") == 0)
        g->hnd = 0;
    else if (strcmp(lay, "HND") == 0)
        g->hnd = 1;
    else if (strcmp(lay, "strided") == 0)
        g->strided = 1;
    else
        return rfail(r, fjoin(&f, P, "layout"), "expected \"NHD\", \"HND\" or "
                     "\"strided\", found \"%s\"", shown(lay, tmp, sizeof tmp));
    if (get_int32(r, c, P, "stridePad", 0, KVCG_GOLDEN_MAX_STRIDE_PAD,
                  &g->stride_pad))
        return -1;
    if (g->strided && g->stride_pad != 0)
        return rfail(r, fjoin(&f, P, "stridePad"), "%d with layout \"strided\", "
                     "whose strides are the test's own: expected 0", g->stride_pad);
    if (g->strided && (g->kv_kind == KVC_SCALE_TOKEN || g->kv_kind == KVC_SCALE_GROUP))
        return rfail(r, fjoin(&f, P, "layout"), "\"strided\" with kvScale \"%s\": "
                     "scale pools follow NHD or HND only",
                     kvc_scale_kind_name(g->kv_kind));
    return 0;
}

/* A group's config, which every test of the group shares: the attention
 * problem (heads, head dim, scale, softcap, visibility), then the cache
 * format, then where the cache lives. The key set depends on the type. */
static int parse_config(rd *r, const cJSON *grp, kvc_mode mode, gcfg *g)
{
    static const char *const paged_keys[] = {
        "numQHeads", "numKvHeads", "headDim", "scale", "softcap",
        "causal", "windowLeft", "kvDtype", "kvScale", "blockSize", "layout",
        "stridePad"};
    static const char *const blocked_keys[] = {
        "numQHeads", "numKvHeads", "headDim", "scale", "softcap",
        "causal", "windowLeft", "kvDtype", "kvScale", "cacheLen",
        "numKvBlocks"};
    const char *P = "config.";
    memset(g, 0, sizeof *g);
    g->mode = mode;
    const cJSON *c = need(r, grp, "", "config", cJSON_IsObject, "an object");
    if (!c)
        return -1;
    if (mode == KVC_MODE_BLOCKED ? check_keys(r, c, P, blocked_keys, 11)
                                 : check_keys(r, c, P, paged_keys, 12))
        return -1;
    kvc_config *k = &g->cfg;
    if (get_int32(r, c, P, "numQHeads", 1, KVCG_GOLDEN_MAX_HEADS, &k->num_q_heads) ||
        get_int32(r, c, P, "numKvHeads", 1, KVCG_GOLDEN_MAX_HEADS, &k->num_kv_heads))
        return -1;
    if (k->num_q_heads % k->num_kv_heads != 0)
        return rfail(r, "config.numKvHeads",
                     "numQHeads %d is not a multiple of numKvHeads %d",
                     k->num_q_heads, k->num_kv_heads);
    if (get_int32(r, c, P, "headDim", 1, KVCG_GOLDEN_MAX_HEAD_DIM, &k->head_dim) ||
        get_f32(r, c, P, "scale", &k->scale) ||
        get_f32(r, c, P, "softcap", &k->softcap))
        return -1;
    if (k->softcap < 0)
        return rfail(r, "config.softcap", "%g is negative (0 means off)",
                     (double)k->softcap);
    const cJSON *cz = need(r, c, P, "causal", cJSON_IsBool, "true or false");
    if (!cz)
        return -1;
    k->causal = cJSON_IsTrue(cz) ? 1 : 0;
    if (get_int32(r, c, P, "windowLeft", KVC_NO_WINDOW, INT_MAX, &k->window_left))
        return -1;
    return config_format(r, c, g) || config_geometry(r, c, g) ? -1 : 0;
}

/* ---- one test ------------------------------------------------------------------ */

/* a * b <= lim for non-negative a, b, without overflow */
static int mul_le(int64_t a, int64_t b, int64_t lim)
{
    return a >= 0 && b >= 0 && (b == 0 || a <= lim / b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int error_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Checks of a valid PAGED or QEFF test (see the top of the file). */
static int check_valid_paged(rd *r, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_problem *p = &c->prob;
    const kvc_layout *L = &c->layout;
    int S = p->num_seqs, M = L->max_blocks_per_seq;
    int64_t B = L->block_size, nb = L->num_blocks;
    int wl = p->cfg.window_left;
    fname f;
    for (int s = 0; s < S; s++) {
        int64_t ctx = p->ctx_len[s], q = p->q_len[s], kv = ctx + q;
        int64_t need_blocks = (kv + B - 1) / B;
        if (need_blocks > M)
            return rfail(r, findex(&f, "layout.blockTable", s),
                         "sequence %d needs %lld blocks (kv length %lld, "
                         "blockSize %lld) but maxBlocksPerSeq is %d", s,
                         (long long)need_blocks, (long long)kv, (long long)B, M);
        int64_t lo = wl >= 0 ? ctx - wl : 0;
        for (int64_t b = 0; b < need_blocks; b++) {
            int64_t id = L->block_table[(int64_t)s * M + b];
            int freeable = (b + 1) * B <= lo;
            if ((id >= 0 && id < nb) || (id == -1 && freeable))
                continue;
            return rfail(r, findex2(&f, "layout.blockTable", s, b),
                         "block id %lld: positions %lld..%lld of a valid test "
                         "need a block in 0..%lld%s", (long long)id,
                         (long long)(b * B), (long long)((b + 1) * B - 1),
                         (long long)(nb - 1),
                         freeable ? " or -1 (below the window)" : "");
        }
        for (int64_t i = 0; i < q; i++) {
            int64_t tok = p->q_start[s] + i, pos = ctx + i;
            int64_t want = (int64_t)L->block_table[(int64_t)s * M + pos / B] * B +
                           pos % B;
            if (L->slot_mapping[tok] != want)
                return rfail(r, findex(&f, "layout.slotMapping", tok),
                             "token %lld (sequence %d, position %lld) of a valid "
                             "test must map to slot %lld (blockTable[%d][%lld] * "
                             "blockSize + position %% blockSize), found %lld",
                             (long long)tok, s, (long long)pos, (long long)want,
                             s, (long long)(pos / B),
                             (long long)L->slot_mapping[tok]);
        }
    }
    return 0;
}

/* Padding tokens of a valid test map to -1; no slot is written twice. */
static int check_valid_slots(rd *r, const kvc_golden_test *t)
{
    const kvc_problem *p = &t->c.prob;
    const int64_t *sm = t->c.layout.slot_mapping;
    int64_t rows = p->q_start[p->num_seqs];
    fname f;
    for (int64_t tok = rows; tok < p->num_tokens; tok++)
        if (sm[tok] != -1)
            return rfail(r, findex(&f, "layout.slotMapping", tok),
                         "padding token %lld of a valid test must map to -1, "
                         "found %lld", (long long)tok, (long long)sm[tok]);
    if (rows < 2)
        return 0;
    int64_t *sorted = malloc((size_t)rows * sizeof *sorted);
    if (!sorted)
        return rfail(r, "layout.slotMapping", "out of memory");
    memcpy(sorted, sm, (size_t)rows * sizeof *sorted);
    qsort(sorted, (size_t)rows, sizeof *sorted, cmp_i64);
    for (int64_t i = 1; i < rows; i++)
        if (sorted[i] == sorted[i - 1] && sorted[i] >= 0) {
            int64_t dup = sorted[i];
            free(sorted);
            return rfail(r, "layout.slotMapping",
                         "slot %lld is written by two tokens of a valid test",
                         (long long)dup);
        }
    free(sorted);
    return 0;
}

static int check_valid_blocked(rd *r, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_problem *p = &c->prob;
    int CL = c->spec.cache_len;
    fname f;
    if (c->spec.num_kv_blocks < 1) /* above CL: tiles of 1, the rest empty */
        return rfail(r, "config.numKvBlocks",
                     "%d: a valid test needs numKvBlocks >= 1",
                     c->spec.num_kv_blocks);
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t ctx = p->ctx_len[s], kv = ctx + p->q_len[s];
        if (kv > CL)
            return rfail(r, findex(&f, "qLen", s),
                         "sequence %d: kv length %lld exceeds cacheLen %d", s,
                         (long long)kv, CL);
        if (c->layout.block_table[s] != s)
            return rfail(r, findex2(&f, "layout.blockTable", s, 0),
                         "expected %d (sequence s is block s of the contiguous "
                         "cache), found %d", s, c->layout.block_table[s]);
        for (int64_t i = 0; i < p->q_len[s]; i++) {
            int64_t tok = p->q_start[s] + i, want = (int64_t)s * CL + ctx + i;
            if (c->layout.slot_mapping[tok] != want)
                return rfail(r, findex(&f, "layout.slotMapping", tok),
                             "token %lld (sequence %d, position %lld) must map to "
                             "slot %lld (s * cacheLen + position), found %lld",
                             (long long)tok, s, (long long)(ctx + i),
                             (long long)want,
                             (long long)c->layout.slot_mapping[tok]);
        }
    }
    return 0;
}

static int check_valid_qeff(rd *r, const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_problem *p = &c->prob;
    const kvc_qeff_layout *Q = &c->qeff;
    int64_t B = c->layout.block_size, MQ = Q->max_q;
    fname f;
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t ctx = p->ctx_len[s], q = p->q_len[s];
        if (q > 0 && ctx / B != (ctx + q - 1) / B)
            return rfail(r, findex(&f, "qLen", s),
                         "the write of %lld tokens from position %lld crosses a "
                         "block boundary (blockSize %lld): not a valid "
                         "QEfficient input", (long long)q, (long long)ctx,
                         (long long)B);
        if (q > 0 && Q->slot_id[s] != ctx % B)
            return rfail(r, findex(&f, "qeff.slotId", s),
                         "expected %lld (first position %lld mod blockSize), "
                         "found %d", (long long)(ctx % B), (long long)ctx,
                         Q->slot_id[s]);
        int64_t prev = -1, valid = 0;
        for (int64_t k = 0; k < MQ; k++)
            valid += Q->position_ids[s * MQ + k] != -1;
        if (valid != q)
            return rfail(r, findex(&f, "qeff.positionIds", s),
                         "%lld entries are not -1, qLen[%d] is %lld",
                         (long long)valid, s, (long long)q);
        for (int64_t i = 0; i < q; i++) {
            int64_t tok = p->q_start[s] + i, row = Q->row_of_token[tok];
            if (row < s * MQ || row >= (s + 1) * MQ || row <= prev)
                return rfail(r, findex(&f, "qeff.rowOfToken", tok),
                             "%lld: token %lld (sequence %d) needs a row in "
                             "%lld..%lld after %lld", (long long)row,
                             (long long)tok, s, (long long)(s * MQ),
                             (long long)((s + 1) * MQ - 1), (long long)prev);
            prev = row;
            if (Q->position_ids[row] != ctx + i)
                return rfail(r, findex2(&f, "qeff.positionIds", s, row - s * MQ),
                             "expected position %lld (token %lld), found %d",
                             (long long)(ctx + i), (long long)tok,
                             Q->position_ids[row]);
        }
    }
    return 0;
}

/* Informational spec fields from the flags (kvc_case_describe). */
static void derive_spec_kinds(kvc_golden_test *t)
{
    kvc_case_spec *sp = &t->c.spec;
    uint64_t fl = t->flags;
#define HAS(b) ((fl >> (b)) & 1)
    sp->table = HAS(KVC_FLAG_SHARED_PREFIX)   ? KVC_TABLE_SHARED_PREFIX
                : HAS(KVC_FLAG_TABLE_REVERSED) ? KVC_TABLE_REVERSED
                : HAS(KVC_FLAG_TABLE_POOL_END) ? KVC_TABLE_POOL_END
                                               : KVC_TABLE_PERMUTED;
    if (!t->c.prob.has_mask)
        sp->mask = KVC_MASK_NONE;
    else
        sp->mask = HAS(KVC_FLAG_MASKED_FIRST_BLOCK) ? KVC_MASK_FIRST_BLOCK
                   : HAS(KVC_FLAG_EMPTY_ROW)        ? KVC_MASK_EMPTY_ROWS
                                                    : KVC_MASK_RANDOM;
    sp->values = HAS(KVC_FLAG_OUTLIERS)         ? KVC_VALUES_OUTLIERS
                 : HAS(KVC_FLAG_NEAR_TIES)      ? KVC_VALUES_NEAR_TIES
                 : HAS(KVC_FLAG_EQUAL_KEYS)     ? KVC_VALUES_EQUAL_KEYS
                 : HAS(KVC_FLAG_ONE_HOT)        ? KVC_VALUES_ONE_HOT
                 : HAS(KVC_FLAG_GROWING_SCORES) ? KVC_VALUES_GROWING
                                                : KVC_VALUES_NORMAL;
    sp->leak_sensitive = (int)HAS(KVC_FLAG_LEAK_SENSITIVE);
    sp->kv_dtype = t->c.prob.quant.dtype;
    sp->kv_scale = t->c.prob.quant.kind;
    sp->scale_family = HAS(KVC_FLAG_SCALE_HUGE)   ? KVC_SCALES_HUGE
                       : HAS(KVC_FLAG_SCALE_TINY) ? KVC_SCALES_TINY
                                                  : KVC_SCALES_CALIBRATED;
    sp->format_edges = (int)HAS(KVC_FLAG_FORMAT_EDGES);
#undef HAS
}

/* "element i ([a][b][c])" of a [rows][H][n] array. */
static const char *elem_at(char *buf, size_t n, int64_t i, int H, int64_t inner)
{
    int64_t in = inner > 0 ? inner : 1;
    if (inner > 0)
        snprintf(buf, n, "element %lld ([%lld][%lld][%lld])", (long long)i,
                 (long long)(i / in / H), (long long)(i / in % H),
                 (long long)(i % in));
    else
        snprintf(buf, n, "element %lld ([%lld][%lld])", (long long)i,
                 (long long)(i / H), (long long)(i % H));
    return buf;
}

/* One code array (u16, or u8 widened to u16) of expected; NULL after a
 * message. */
static uint16_t *decode_codes(rd *r, const char *field, dtype cdt,
                              const tensor_ref *tr)
{
    if (cdt == DT_U16)
        return decode_alloc(r, field, DT_U16, tr);
    uint8_t *b = decode_alloc(r, field, DT_U8, tr);
    if (!b)
        return NULL;
    uint16_t *codes = malloc((size_t)(tr->n > 0 ? tr->n : 1) * sizeof *codes);
    if (!codes) {
        free(b);
        rfail(r, field, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < tr->n; i++)
        codes[i] = b[i];
    free(b);
    return codes;
}

/* expected.kTokenScales / vTokenScales: finite and > 0. */
static int read_token_scales(rd *r, kvc_golden_test *t, tensor_ref tc[2], int H)
{
    char at[96];
    for (int w = 0; w < 2; w++) {
        const char *field = w ? "expected.vTokenScales" : "expected.kTokenScales";
        float *sc = decode_alloc(r, field, DT_F32, &tc[w]);
        if (!sc)
            return -1;
        if (w)
            t->v_token_scales = sc;
        else
            t->k_token_scales = sc;
        for (int64_t i = 0; i < tc[w].n; i++)
            if (!(isfinite(sc[i]) && sc[i] > 0.0f))
                return rfail(r, field, "%s is %g: token scales are finite and > 0",
                             elem_at(at, sizeof at, i, H, 0), (double)sc[i]);
    }
    return 0;
}

/* expected.kGroupCodes / vGroupCodes: positive finite e4m3 codes. */
static int read_group_codes(rd *r, kvc_golden_test *t, tensor_ref tc[2], int H,
                            int D)
{
    char at[96];
    for (int w = 0; w < 2; w++) {
        const char *field = w ? "expected.vGroupCodes" : "expected.kGroupCodes";
        uint8_t *gc = decode_alloc(r, field, DT_U8, &tc[w]);
        if (!gc)
            return -1;
        if (w)
            t->v_group_codes = gc;
        else
            t->k_group_codes = gc;
        for (int64_t i = 0; i < tc[w].n; i++)
            if (gc[i] < 0x01 || gc[i] > 0x7E)
                return rfail(r, field, "%s is 0x%02x: a block-scale code is a "
                             "positive finite e4m3 value (0x01..0x7e)",
                             elem_at(at, sizeof at, i, H, D / 16), gc[i]);
    }
    return 0;
}

/* Decode the checked code arrays of expected into t (k_codes ... ) and
 * check each value is one a cache of the format can hold: nvfp4 codes are
 * 4-bit, token scales finite and > 0, group codes positive finite e4m3
 * (0x01..0x7e). Whether they are the oracle's codes for k and v is for
 * golden verify to say (golden_verify.c). */
static int read_codes(rd *r, kvc_golden_test *t, kvc_kv_dtype kdt,
                      kvc_scale_kind kind, dtype cdt, tensor_ref tc[3][2])
{
    if (kdt == KVC_KV_F32)
        return 0;
    int H = t->c.prob.cfg.num_kv_heads, D = t->c.prob.cfg.head_dim;
    char at[96];
    for (int w = 0; w < 2; w++) {
        const char *field = w ? "expected.vCodes" : "expected.kCodes";
        uint16_t *codes = decode_codes(r, field, cdt, &tc[0][w]);
        if (!codes)
            return -1;
        if (w)
            t->v_codes = codes;
        else
            t->k_codes = codes;
        for (int64_t i = 0; kdt == KVC_KV_NVFP4 && i < tc[0][w].n; i++)
            if (codes[i] > 15)
                return rfail(r, field, "%s is 0x%02x: nvfp4 codes are 4-bit "
                             "(0..15, one per byte)",
                             elem_at(at, sizeof at, i, H, D), codes[i]);
    }
    if (kind == KVC_SCALE_TOKEN)
        return read_token_scales(r, t, tc[1], H);
    if (kind == KVC_SCALE_GROUP)
        return read_group_codes(r, t, tc[2], H, D);
    return 0;
}

/* layout.sparse: absent (a dense pool) or true, in a version 3 file, for
 * a paged pool (a BlockedAttention cache is one contiguous tensor). */
static int get_sparse(rd *r, const cJSON *lay, const gcfg *g, int *sparse)
{
    const cJSON *x = member(lay, "sparse");
    *sparse = 0;
    if (!x)
        return 0;
    if (!cJSON_IsTrue(x))
        return rfail(r, "layout.sparse", "expected true (a dense pool has no "
                     "\"sparse\" key), found %s",
                     cJSON_IsFalse(x) ? "false" : type_of(x));
    if (r->version < KVC_GOLDEN_SCHEMA_VERSION)
        return rfail(r, "layout.sparse", "a sparse pool needs schemaVersion "
                     "%d, the file is version %d", KVC_GOLDEN_SCHEMA_VERSION,
                     r->version);
    if (g->mode == KVC_MODE_BLOCKED)
        return rfail(r, "layout.sparse", "a BlockedAttention cache is "
                     "contiguous, never sparse");
    *sparse = 1;
    return 0;
}

/* The extent of the pools (FORMAT.md, "Sparse pools"). A dense pool is
 * allocated whole, so it stays within the limit of allocated units; a
 * larger one must be marked sparse (and one within it must not be: one
 * encoding per content), and then only its virtual size is bounded here,
 * in bytes, as a runner maps it. What it really holds is bounded once the
 * table is read (check_sparse_touched). */
static int check_pool_extent(rd *r, int sparse, const gcfg *g, int64_t pool,
                             int64_t scale_units)
{
    const int64_t lim = KVCG_GOLDEN_MAX_ELEMS;
    const int over = pool > lim || scale_units > lim;
    const char *field = pool > lim || !over ? "layout.poolElems"
                                            : "layout.scalePoolUnits";
    if (!sparse && over)
        return rfail(r, field, "%lld units exceed the limit of %lld for a "
                     "dense pool (a larger pool must be marked \"sparse\": "
                     "true, schemaVersion %d)",
                     (long long)(pool > lim ? pool : scale_units),
                     (long long)lim, KVC_GOLDEN_SCHEMA_VERSION);
    if (sparse && !over)
        return rfail(r, "layout.sparse", "poolElems %lld and scalePoolUnits "
                     "%lld are within the dense limit of %lld: such a pool is "
                     "not marked sparse", (long long)pool,
                     (long long)scale_units, (long long)lim);
    const int64_t ub[2] = {kvcg_unit_bytes(g->kv_dtype),
                           kvcg_scale_unit_bytes(g->kv_kind)};
    const int64_t units[2] = {pool, scale_units};
    for (int k = 0; sparse && k < 2; k++)
        if (!mul_le(units[k], ub[k], KVCG_GOLDEN_MAX_SPARSE_BYTES))
            return rfail(r, k ? "layout.scalePoolUnits" : "layout.poolElems",
                         "a sparse pool of %lld units x %lld bytes exceeds "
                         "the limit of %lld bytes (2^40) a reader maps",
                         (long long)units[k], (long long)ub[k],
                         (long long)KVCG_GOLDEN_MAX_SPARSE_BYTES);
    return 0;
}

/* The blocks a sparse pool's table and slots name are all it holds: they
 * must fit the limit of allocated units, as a dense pool does. */
static int check_sparse_touched(rd *r, const kvc_layout *L, int S,
                                int64_t tokens)
{
    int64_t n = kvcg_touched_blocks(L, S, tokens);
    if (n < 0)
        return rfail(r, "layout.blockTable", "out of memory");
    if (!mul_le(n, L->stride_block, KVCG_GOLDEN_MAX_ELEMS) ||
        !mul_le(n, L->scale_stride_block, KVCG_GOLDEN_MAX_ELEMS))
        return rfail(r, "layout.blockTable", "the %lld blocks a sparse pool "
                     "uses hold more than %lld units", (long long)n,
                     (long long)KVCG_GOLDEN_MAX_ELEMS);
    return 0;
}

/* ---- one test, part by part ---------------------------------------------------- *
 *
 * parse_test reads a test in two passes. The first pass checks everything
 * the text says (keys, lengths, shapes, base64 sizes, strides) and keeps
 * only references into it; nothing is allocated until the text has shown
 * it holds that many elements, so a small file cannot make the reader
 * allocate much. The second pass allocates the case and decodes into it.
 * The parts run in a fixed order, which is also the order in which errors
 * are reported (tests/test_golden_format.c pins many of those messages):
 *
 *   check pass   test_meta, test_lengths, test_inputs, test_static_scales,
 *                test_layout (its strides, scale pools and extent),
 *                test_expected_shapes
 *   decode pass  decode_inputs, decode_layout, decode_qeff,
 *                decode_expected
 *   then         fill_spec, check_problem, check_valid
 *
 * What the first pass learns, the second needs: it lives in a tparse. */

/* The state of one test between the passes. */
typedef struct tparse {
    const cJSON *x;  /* the test object */
    const gcfg *g;   /* its group's config */
    int usable;      /* not invalid: the oracle runs it, scales must be sane */
    /* lengths (test_lengths) */
    int S, pad, max_q;
    int ctx[KVC_MAX_SEQS], ql[KVC_MAX_SEQS];
    int64_t rows, kv_rows, mask_bytes, tokens; /* tokens = rows + pad */
    /* inputs and static scales, checked but not decoded */
    const cJSON *mask; /* NULL: no custom mask */
    tensor_ref tq, tk, tv, tm, th[2];
    float sscale[2];   /* kScale, vScale (tensor, group) */
    /* layout scalars (test_layout) */
    const cJSON *lay;
    int sparse, M;
    int64_t nb, sb, ss, sh, pool;
    int64_t sgeo[4]; /* scale pool: block, slot, head strides; units */
    /* expected (test_expected_shapes); exp NULL for invalid tests */
    const cJSON *exp;
    tensor_ref te[4];       /* out, lse, tolOut, tolLse */
    tensor_ref tcode[3][2]; /* codes, token scales, group codes; K and V */
    dtype code_dt;          /* of kCodes / vCodes */
} tparse;

static const char *const scalar_keys[2] = {"kScale", "vScale"};
static const char *const head_keys[2] = {"kHeadScale", "vHeadScale"};

/* The kvScale strategies' extra inputs: static scalars (tensor; group's
 * global scale), per-head scales (attn_head), scale pools (token, group). */
static int has_static_scales(kvc_scale_kind k)
{
    return k == KVC_SCALE_TENSOR || k == KVC_SCALE_GROUP;
}

static int has_scale_pools(kvc_scale_kind k)
{
    return k == KVC_SCALE_TOKEN || k == KVC_SCALE_GROUP;
}

/* flags: known names, none twice. */
static int test_flags(rd *r, const cJSON *x, kvc_golden_test *t)
{
    fname f;
    char tmp[48];
    const cJSON *fl = need(r, x, "", "flags", cJSON_IsArray, "an array");
    if (!fl)
        return -1;
    int64_t i = 0;
    for (const cJSON *c = fl->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c))
            return rfail(r, findex(&f, "flags", i), "expected a string, found %s",
                         type_of(c));
        int b = kvcg_flag_parse(c->valuestring);
        if (b < 0)
            return rfail(r, findex(&f, "flags", i), "unknown flag \"%s\"",
                         shown(c->valuestring, tmp, sizeof tmp));
        if (t->flags >> b & 1)
            return rfail(r, findex(&f, "flags", i), "flag \"%s\" appears twice",
                         c->valuestring);
        t->flags |= (uint64_t)1 << b;
    }
    return 0;
}

/* What a test is, before what it holds: tcId (first, so that every later
 * message names it), its key set, comment, flags, result kind and error,
 * and the keys a result kind or group type rules out. */
static int test_meta(rd *r, tparse *tp, kvc_golden_test *t, uint64_t *flags_used)
{
    static const char *const keys[] = {
        "tcId", "comment", "flags", "result", "error", "numSeqs", "ctxLen",
        "qLen", "padTokens", "q", "k", "v", "mask", "kScale", "vScale",
        "kHeadScale", "vHeadScale", "layout", "qeff", "expected", "variant"};
    const cJSON *x = tp->x;
    char tmp[48];
    if (!cJSON_IsObject(x))
        return rfail(r, NULL, "expected a test object, found %s", type_of(x));
    if (get_int32(r, x, "", "tcId", 1, INT_MAX, &t->tc_id) != 0)
        return -1;
    r->tc_id = t->tc_id;
    if (check_keys(r, x, "", keys, 21) != 0)
        return -1;

    const char *comment = get_string(r, x, "", "comment", sizeof t->comment - 1);
    if (!comment)
        return -1;
    memcpy(t->comment, comment, strlen(comment) + 1);
    if (test_flags(r, x, t) != 0)
        return -1;
    *flags_used |= t->flags;
    const char *res = get_string(r, x, "", "result", 16);
    if (!res)
        return -1;
    if (kvcg_expect_parse(res, &t->result) != 0)
        return rfail(r, "result",
                     "expected \"valid\", \"invalid\" or \"acceptable\", found \"%s\"",
                     shown(res, tmp, sizeof tmp));
    /* a variant's case is valid: only what the kernel gets is broken */
    t->has_variant = member(x, "variant") != NULL;
    tp->usable = t->result != KVC_EXPECT_INVALID || t->has_variant;
    if (t->has_variant && t->result != KVC_EXPECT_INVALID)
        return rfail(r, "variant", "only invalid tests have a variant");
    if (t->result == KVC_EXPECT_VALID && member(x, "error"))
        return rfail(r, "error", "a valid test has no error");
    /* required for invalid tests; optional for acceptable ones (absent when
     * the in-tree kernel accepts the input) */
    if (t->result == KVC_EXPECT_INVALID ||
        (t->result == KVC_EXPECT_ACCEPTABLE && member(x, "error"))) {
        const char *e = get_string(r, x, "", "error", sizeof t->error - 1);
        if (!e)
            return -1;
        if (!error_name_ok(e))
            return rfail(r, "error",
                         "expected a status name ([A-Za-z0-9_]+), found \"%s\"",
                         shown(e, tmp, sizeof tmp));
        memcpy(t->error, e, strlen(e) + 1);
    }
    if (t->result == KVC_EXPECT_INVALID && member(x, "expected"))
        return rfail(r, "expected", "an invalid test has no expected values");
    if (tp->g->mode != KVC_MODE_QEFF && member(x, "qeff"))
        return rfail(r, "qeff", "only QEffPagedAttention tests have qeff inputs");
    return 0;
}

/* numSeqs, ctxLen, qLen, padTokens, and the sizes they imply: every later
 * shape is a product of these, so the products are bounded here, once. */
static int test_lengths(rd *r, tparse *tp)
{
    const cJSON *x = tp->x;
    const kvc_config *cfg = &tp->g->cfg;
    if (get_int32(r, x, "", "numSeqs", 0, KVC_MAX_SEQS, &tp->S) ||
        read_ints(r, member(x, "ctxLen"), "ctxLen", tp->S, 0, KVCG_GOLDEN_MAX_LEN,
                  tp->ctx, NULL) ||
        read_ints(r, member(x, "qLen"), "qLen", tp->S, 0, KVCG_GOLDEN_MAX_LEN,
                  tp->ql, NULL) ||
        get_int32(r, x, "", "padTokens", 0, KVCG_GOLDEN_MAX_PAD_TOKENS, &tp->pad))
        return -1;
    for (int s = 0; s < tp->S; s++) {
        tp->rows += tp->ql[s];
        tp->kv_rows += (int64_t)tp->ctx[s] + tp->ql[s];
        tp->mask_bytes += (int64_t)tp->ql[s] * ((int64_t)tp->ctx[s] + tp->ql[s]);
        if (tp->ql[s] > tp->max_q)
            tp->max_q = tp->ql[s];
    }
    tp->tokens = tp->rows + tp->pad;
    int Hq = cfg->num_q_heads, Hkv = cfg->num_kv_heads, D = cfg->head_dim;
    if (!mul_le(tp->tokens, (int64_t)Hq * D, KVCG_GOLDEN_MAX_ELEMS))
        return rfail(r, "qLen", "%lld tokens x %d heads x %d dims exceed the "
                     "limit of %lld elements per tensor", (long long)tp->tokens,
                     Hq, D, (long long)KVCG_GOLDEN_MAX_ELEMS);
    if (!mul_le(tp->kv_rows, (int64_t)Hkv * D, KVCG_GOLDEN_MAX_ELEMS))
        return rfail(r, "ctxLen", "%lld kv rows x %d heads x %d dims exceed the "
                     "limit of %lld elements per tensor", (long long)tp->kv_rows,
                     Hkv, D, (long long)KVCG_GOLDEN_MAX_ELEMS);
    tp->mask = member(x, "mask");
    if (tp->mask && tp->mask_bytes > KVCG_GOLDEN_MAX_ELEMS)
        return rfail(r, "mask", "%lld mask bytes exceed the limit of %lld",
                     (long long)tp->mask_bytes, (long long)KVCG_GOLDEN_MAX_ELEMS);
    return 0;
}

/* q, k, v and the optional mask: shapes, dtypes and base64 sizes. Decoded
 * by decode_inputs once the problem is allocated. */
static int test_inputs(rd *r, tparse *tp)
{
    const kvc_config *cfg = &tp->g->cfg;
    int64_t shq[3] = {tp->tokens, cfg->num_q_heads, cfg->head_dim};
    int64_t shkv[3] = {tp->kv_rows, cfg->num_kv_heads, cfg->head_dim};
    int64_t shm[1] = {tp->mask_bytes};
    const cJSON *x = tp->x;
    return tensor_check(r, member(x, "q"), "q", DT_F32, shq, 3, &tp->tq) ||
                   tensor_check(r, member(x, "k"), "k", DT_F32, shkv, 3, &tp->tk) ||
                   tensor_check(r, member(x, "v"), "v", DT_F32, shkv, 3, &tp->tv) ||
                   (tp->mask &&
                    tensor_check(r, tp->mask, "mask", DT_U8, shm, 1, &tp->tm))
               ? -1
               : 0;
}

/* The cache format's static scales: required as kvScale says, absent
 * otherwise; finite and > 0 except in invalid tests (bad_kv_format), whose
 * point may be a scale the kernel must refuse. The per-head arrays are
 * checked here and their values once decoded (decode_inputs). */
static int test_static_scales(rd *r, tparse *tp, const kvc_golden_test *t)
{
    const cJSON *x = tp->x;
    const kvc_scale_kind kind = tp->g->kv_kind;
    const int has_static = has_static_scales(kind);
    const int has_head = kind == KVC_SCALE_HEAD;
    int64_t shh[1] = {tp->g->cfg.num_kv_heads};
    char tmp[48];
    for (int w = 0; w < 2; w++) {
        if (!has_static && member(x, scalar_keys[w]))
            return rfail(r, scalar_keys[w], "only kvScale \"tensor\" and \"group\" "
                         "tests have static scales (kvScale is \"%s\")",
                         kvc_scale_kind_name(kind));
        if (!has_head && member(x, head_keys[w]))
            return rfail(r, head_keys[w], "only kvScale \"attn_head\" tests have "
                         "per-head scales (kvScale is \"%s\")",
                         kvc_scale_kind_name(kind));
        if (has_static) {
            const char *sv = get_string(r, x, "", scalar_keys[w], 64);
            if (!sv)
                return -1;
            if (kvcg_parse_scale(sv, &tp->sscale[w]) != 0)
                return rfail(r, scalar_keys[w], "expected an fp32 value as a "
                             "hexadecimal float (\"0x1.2p-7\"), \"nan\", \"inf\" "
                             "or \"-inf\", found \"%s\"", shown(sv, tmp, sizeof tmp));
            if (tp->usable && !(isfinite(tp->sscale[w]) && tp->sscale[w] > 0.0f))
                return rfail(r, scalar_keys[w], "\"%s\": the static scales of a "
                             "%s test are finite and > 0 (%s)",
                             shown(sv, tmp, sizeof tmp),
                             t->has_variant ? "variant" : kvc_expect_name(t->result),
                             t->has_variant ? "its broken scale goes in the "
                             "variant" : "only invalid tests carry others");
        }
        if (has_head && tensor_check(r, member(x, head_keys[w]), head_keys[w],
                                     DT_F32, shh, 1, &tp->th[w]))
            return -1;
    }
    int D = tp->g->cfg.head_dim;
    if (tp->usable && tp->g->kv_dtype == KVC_KV_NVFP4 && D % 16 != 0)
        return rfail(r, "config.headDim", "%d: an nvfp4 cache needs a multiple "
                     "of 16 (one block scale per 16 dims); only invalid tests "
                     "without a variant hold another", D);
    return 0;
}

/* The name of the layout in stride messages. */
static const char *layout_name(const gcfg *g)
{
    return g->mode == KVC_MODE_BLOCKED ? "contiguous [S][Hkv][cacheLen][D]"
           : g->hnd                    ? "HND"
                                       : "NHD";
}

/* The strides the config describes (FORMAT.md, "layout"), in storage units:
 * a head row is D units, ceil(D / 2) bytes for nvfp4; a BlockedAttention
 * cache is [S][Hkv][cacheLen][D] seen as an unpadded HND paged pool with
 * blocks of cacheLen slots. want[]: block, slot, head. */
static void cache_strides(const gcfg *g, int64_t want[3])
{
    int64_t D = g->cfg.head_dim, Hkv = g->cfg.num_kv_heads;
    int64_t R = g->kv_dtype == KVC_KV_NVFP4 ? (D + 1) / 2 : D;
    if (g->mode == KVC_MODE_BLOCKED) {
        want[1] = R;
        want[2] = (int64_t)g->cache_len * R;
        want[0] = Hkv * want[2];
        return;
    }
    int64_t row = R + g->stride_pad, B = g->block_size;
    if (g->hnd) {
        want[1] = row;
        want[2] = B * row;
        want[0] = Hkv * want[2];
    } else {
        want[2] = row;
        want[1] = Hkv * row;
        want[0] = B * want[1];
    }
}

/* The strides of a token or group scale pool: the cache's block/slot/head
 * order without padding, rows of 1 float (token) or D / 16 e4m3 codes
 * (group). Returns the row length; want[]: block, slot, head. */
static int64_t scale_strides(const gcfg *g, int64_t want[3])
{
    int64_t sr = g->kv_kind == KVC_SCALE_TOKEN ? 1 : g->cfg.head_dim / 16;
    int64_t Hkv = g->cfg.num_kv_heads;
    if (g->mode == KVC_MODE_BLOCKED || g->hnd) {
        want[1] = sr;
        want[2] = (g->mode == KVC_MODE_BLOCKED ? g->cache_len : g->block_size) * sr;
        want[0] = Hkv * want[2];
    } else {
        want[2] = sr;
        want[1] = Hkv * sr;
        want[0] = g->block_size * want[1];
    }
    return sr;
}

/* Rows of a "strided" layout (at most this many are checked one by one). */
#define STRIDED_MAX_ROWS ((int64_t)1 << 20)

/* A "strided" layout's own strides: every row lies inside poolElems, and
 * (but in an invalid test, which may break it on purpose) no two (block,
 * slot, head) rows of R units overlap (kvattn.h's contract; whether they
 * nest is the implementation's business). */
static int check_strided_rows(rd *r, const tparse *tp)
{
    const gcfg *g = tp->g;
    int64_t B = g->block_size, H = g->cfg.num_kv_heads, D = g->cfg.head_dim;
    int64_t R = g->kv_dtype == KVC_KV_NVFP4 ? (D + 1) / 2 : D, n;
    if (!mul_le(tp->nb, B * H, STRIDED_MAX_ROWS))
        return rfail(r, "layout.numBlocks", "a \"strided\" layout has at most "
                     "%lld rows (numBlocks x blockSize x numKvHeads)",
                     (long long)STRIDED_MAX_ROWS);
    n = tp->nb * B * H;
    int64_t *at = malloc((size_t)n * sizeof *at);
    if (!at)
        return rfail(r, "layout", "out of memory");
    for (int64_t i = 0; i < n; i++)
        at[i] = (i / (B * H)) * tp->sb + (i / H % B) * tp->ss + (i % H) * tp->sh;
    qsort(at, (size_t)n, sizeof *at, cmp_i64);
    int64_t bad = -1;
    for (int64_t i = 1; i < n && bad < 0 && tp->usable; i++)
        if (at[i] - at[i - 1] < R)
            bad = at[i];
    int64_t end = at[n - 1] + R;
    free(at);
    if (bad >= 0)
        return rfail(r, "layout.strideSlot", "the strides (block %lld, slot %lld, "
                     "head %lld) make two rows of %lld units overlap at unit %lld",
                     (long long)tp->sb, (long long)tp->ss, (long long)tp->sh,
                     (long long)R, (long long)bad);
    if (end > tp->pool)
        return rfail(r, "layout.poolElems", "%lld units, but the last row ends at "
                     "unit %lld", (long long)tp->pool, (long long)end);
    return 0;
}

/* The layout's scalars: block count, strides (exactly those the config
 * describes, or for "strided" rows that do not overlap), pool size, and a
 * BlockedAttention cache's fixed shape. The arrays (table, slots, seed) are
 * read by decode_layout. */
static int test_layout_geometry(rd *r, tparse *tp)
{
    const gcfg *g = tp->g;
    const cJSON *lay = tp->lay;
    const char *P = "layout.";
    /* poolElems: bounded by check_pool_extent */
    if (get_int(r, lay, P, "numBlocks", 1, KVCG_GOLDEN_MAX_BLOCKS, &tp->nb) ||
        get_int(r, lay, P, "strideBlock", 0, KVCG_GOLDEN_MAX_INT, &tp->sb) ||
        get_int(r, lay, P, "strideSlot", 0, KVCG_GOLDEN_MAX_INT, &tp->ss) ||
        get_int(r, lay, P, "strideHead", 0, KVCG_GOLDEN_MAX_INT, &tp->sh) ||
        get_int(r, lay, P, "poolElems", 0, KVCG_GOLDEN_MAX_INT, &tp->pool) ||
        get_int32(r, lay, P, "maxBlocksPerSeq", 1, KVCG_GOLDEN_MAX_TABLE_COLS, &tp->M))
        return -1;
    if (g->mode == KVC_MODE_BLOCKED) {
        int64_t want_nb = tp->S > 0 ? tp->S : 1;
        if (tp->nb != want_nb)
            return rfail(r, "layout.numBlocks",
                         "expected %lld (numSeqs, or 1 without sequences) for a "
                         "BlockedAttention test, found %lld", (long long)want_nb,
                         (long long)tp->nb);
        if (tp->M != 1)
            return rfail(r, "layout.maxBlocksPerSeq",
                         "expected 1 for a BlockedAttention test, found %d", tp->M);
    }
    if (g->strided)
        return check_strided_rows(r, tp);
    int64_t want[3];
    cache_strides(g, want);
    const char *lname = layout_name(g);
    if (tp->ss != want[1])
        return rfail(r, "layout.strideSlot", "expected %lld (%s layout), found %lld",
                     (long long)want[1], lname, (long long)tp->ss);
    if (tp->sh != want[2])
        return rfail(r, "layout.strideHead", "expected %lld (%s layout), found %lld",
                     (long long)want[2], lname, (long long)tp->sh);
    if (tp->sb != want[0])
        return rfail(r, "layout.strideBlock", "expected %lld (%s layout), found %lld",
                     (long long)want[0], lname, (long long)tp->sb);
    if (!mul_le(tp->nb, tp->sb, tp->pool))
        return rfail(r, "layout.poolElems",
                     "%lld units cannot hold numBlocks %lld x strideBlock %lld",
                     (long long)tp->pool, (long long)tp->nb, (long long)tp->sb);
    return 0;
}

/* The scale pools of token and group tests (absent otherwise): strides as
 * scale_strides describes, enough units for every block. */
static int test_scale_pools(rd *r, tparse *tp)
{
    static const char *const pool_keys[4] = {
        "scaleStrideBlock", "scaleStrideSlot", "scaleStrideHead", "scalePoolUnits"};
    const gcfg *g = tp->g;
    const kvc_scale_kind kind = g->kv_kind;
    const int has_pools = has_scale_pools(kind);
    const char *P = "layout.";
    fname f;
    for (int k = 0; k < 4; k++) {
        if (!has_pools && member(tp->lay, pool_keys[k]))
            return rfail(r, fjoin(&f, P, pool_keys[k]), "only kvScale \"token\" "
                         "and \"group\" tests have scale pools (kvScale is \"%s\")",
                         kvc_scale_kind_name(kind));
        if (has_pools &&
            get_int(r, tp->lay, P, pool_keys[k], 0, KVCG_GOLDEN_MAX_INT, &tp->sgeo[k]))
            return -1;
    }
    if (!has_pools)
        return 0;
    int64_t want[3];
    int64_t sr = scale_strides(g, want);
    for (int k = 0; k < 3; k++)
        if (tp->sgeo[k] != want[k])
            return rfail(r, fjoin(&f, P, pool_keys[k]),
                         "expected %lld (%s layout, rows of %lld %s), found %lld",
                         (long long)want[k], layout_name(g), (long long)sr,
                         kind == KVC_SCALE_TOKEN ? "float"
                         : sr == 1 ? "e4m3 code" : "e4m3 codes",
                         (long long)tp->sgeo[k]);
    if (!mul_le(tp->nb, tp->sgeo[0], tp->sgeo[3]))
        return rfail(r, "layout.scalePoolUnits",
                     "%lld units cannot hold numBlocks %lld x "
                     "scaleStrideBlock %lld", (long long)tp->sgeo[3],
                     (long long)tp->nb, (long long)tp->sgeo[0]);
    return 0;
}

/* layout: its key set, sparse, geometry, scale pools, and the extent of
 * the pools (dense or sparse). */
static int test_layout(rd *r, tparse *tp)
{
    static const char *const layout_keys[] = {
        "sparse", "numBlocks", "strideBlock", "strideSlot", "strideHead", "poolElems",
        "scaleStrideBlock", "scaleStrideSlot", "scaleStrideHead",
        "scalePoolUnits", "maxBlocksPerSeq", "blockTable", "slotMapping",
        "poisonSeed"};
    tp->lay = need(r, tp->x, "", "layout", cJSON_IsObject, "an object");
    if (!tp->lay || check_keys(r, tp->lay, "layout.", layout_keys, 14) ||
        get_sparse(r, tp->lay, tp->g, &tp->sparse) ||
        test_layout_geometry(r, tp) || test_scale_pools(r, tp))
        return -1;
    return check_pool_extent(r, tp->sparse, tp->g, tp->pool, tp->sgeo[3]);
}

/* The shapes of expected (present exactly for valid and acceptable tests):
 * out, lse and their tolerances, and the oracle's cache contents: codes for
 * every format but f32, token scales or group codes as kvScale says. (The
 * qeff object's presence is checked first, as it always was.) */
static int test_expected_shapes(rd *r, tparse *tp, const kvc_golden_test *t)
{
    static const char *const expected_keys[] = {
        "out", "lse", "tolOut", "tolLse", "kCodes", "vCodes", "kTokenScales",
        "vTokenScales", "kGroupCodes", "vGroupCodes"};
    static const char *const code_keys[3][2] = {
        {"kCodes", "vCodes"}, {"kTokenScales", "vTokenScales"},
        {"kGroupCodes", "vGroupCodes"}};
    static const char *const code_why[3] = {
        "an f32 cache has no codes (k and v are stored as they are)",
        "only kvScale \"token\" tests have token scales",
        "only kvScale \"group\" tests have group codes"};
    const gcfg *g = tp->g;
    const kvc_kv_dtype kdt = g->kv_dtype;
    const kvc_scale_kind kind = g->kv_kind;
    if (g->mode == KVC_MODE_QEFF &&
        !need(r, tp->x, "", "qeff", cJSON_IsObject, "an object"))
        return -1;
    const cJSON *exp = tp->exp = member(tp->x, "expected");
    if (t->result != KVC_EXPECT_INVALID && !exp)
        return rfail(r, "expected", "missing (required for a %s test)",
                     kvc_expect_name(t->result));
    tp->code_dt = kdt == KVC_KV_F16 || kdt == KVC_KV_BF16 ? DT_U16 : DT_U8;
    if (!exp)
        return 0;
    int64_t Hq = g->cfg.num_q_heads, Hkv = g->cfg.num_kv_heads, D = g->cfg.head_dim;
    int64_t sho[3] = {tp->rows, Hq, D}, shl[2] = {tp->rows, Hq};
    const char *E = "expected.";
    if (!cJSON_IsObject(exp))
        return rfail(r, "expected", "expected an object, found %s", type_of(exp));
    if (check_keys(r, exp, E, expected_keys, 10) ||
        tensor_check(r, member(exp, "out"), "expected.out", DT_F64, sho, 3, &tp->te[0]) ||
        tensor_check(r, member(exp, "lse"), "expected.lse", DT_F64, shl, 2, &tp->te[1]) ||
        tensor_check(r, member(exp, "tolOut"), "expected.tolOut", DT_F64, sho, 3, &tp->te[2]) ||
        tensor_check(r, member(exp, "tolLse"), "expected.tolLse", DT_F64, shl, 2, &tp->te[3]))
        return -1;
    const int code_has[3] = {kdt != KVC_KV_F32, kind == KVC_SCALE_TOKEN,
                             kind == KVC_SCALE_GROUP};
    const dtype code_dt[3] = {tp->code_dt, DT_F32, DT_U8};
    const int64_t shcode[3][3] = {
        {tp->kv_rows, Hkv, D}, {tp->kv_rows, Hkv, 0}, {tp->kv_rows, Hkv, D / 16}};
    for (int a = 0; a < 3; a++)
        for (int w = 0; w < 2; w++) {
            fname fe;
            const char *field = fjoin(&fe, E, code_keys[a][w]);
            const cJSON *item = member(exp, code_keys[a][w]);
            if (!code_has[a] && item)
                return rfail(r, field, "%s", code_why[a]);
            if (code_has[a] && tensor_check(r, item, field, code_dt[a],
                                            shcode[a], a == 1 ? 2 : 3,
                                            &tp->tcode[a][w]))
                return -1;
        }
    return 0;
}

/* Allocate the problem and decode q, k, v, the mask and the static scales
 * into it. From here on kvc_golden_test_free releases what was allocated. */
static int decode_inputs(rd *r, const tparse *tp, kvc_golden_test *t)
{
    const gcfg *g = tp->g;
    kvc_problem *p = &t->c.prob;
    if (kvc_problem_alloc(p, &g->cfg, tp->S, tp->ctx, tp->ql, tp->pad,
                          tp->mask != NULL) != 0)
        return rfail(r, NULL, "out of memory");
    if (tensor_decode(r, "q", DT_F32, &tp->tq, p->q) ||
        tensor_decode(r, "k", DT_F32, &tp->tk, p->k) ||
        tensor_decode(r, "v", DT_F32, &tp->tv, p->v) ||
        (tp->mask && tensor_decode(r, "mask", DT_U8, &tp->tm, p->mask)))
        return -1;
    if (kvc_problem_set_quant(p, g->kv_dtype, g->kv_kind) != 0)
        return rfail(r, NULL, "out of memory");
    if (has_static_scales(g->kv_kind)) {
        p->quant.k_scale = tp->sscale[0];
        p->quant.v_scale = tp->sscale[1];
    }
    for (int w = 0; g->kv_kind == KVC_SCALE_HEAD && w < 2; w++) {
        float *hs = w ? p->quant.v_head_scale : p->quant.k_head_scale;
        if (tensor_decode(r, head_keys[w], DT_F32, &tp->th[w], hs) != 0)
            return -1;
        for (int h = 0; tp->usable && h < g->cfg.num_kv_heads; h++)
            if (!(isfinite(hs[h]) && hs[h] > 0.0f))
                return rfail(r, head_keys[w], "element %d is %g: the static "
                             "scales of a %s test are finite and > 0 (only "
                             "invalid tests carry others)", h, (double)hs[h],
                             kvc_expect_name(t->result));
    }
    return 0;
}

/* layout.poisonSeed: a decimal uint64, no sign, no leading zeros (one
 * spelling per value: the files are compared byte for byte). */
static int read_poison_seed(rd *r, const cJSON *lay, uint64_t *out)
{
    char tmp[48];
    const char *seed = get_string(r, lay, "layout.", "poisonSeed", 20);
    if (!seed)
        return -1;
    uint64_t sv = 0;
    int ok = seed[0] != '\0' && (seed[0] != '0' || seed[1] == '\0');
    for (const char *s = seed; ok && *s; s++) {
        if (*s < '0' || *s > '9' || sv > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            ok = 0;
        else
            sv = sv * 10 + (uint64_t)(*s - '0');
    }
    if (!ok)
        return rfail(r, "layout.poisonSeed",
                     "expected a decimal uint64 without leading zeros, found \"%s\"",
                     shown(seed, tmp, sizeof tmp));
    *out = sv;
    return 0;
}

/* The layout into the case: the checked scalars, then the block table, the
 * slot mapping (a wrong-sized one is reported before anything is
 * allocated for it) and the poison seed; a sparse pool's used blocks are
 * bounded once the table is known. Entries are range-checked only as
 * integers: what a valid test needs of them is check_valid's. */
static int decode_layout(rd *r, const tparse *tp, kvc_golden_test *t)
{
    kvc_layout *L = &t->c.layout;
    L->block_size = tp->g->block_size;
    L->num_blocks = tp->nb;
    L->hnd = tp->g->hnd;
    L->stride_block = tp->sb;
    L->stride_slot = tp->ss;
    L->stride_head = tp->sh;
    L->pool_elems = tp->pool;
    L->scale_stride_block = tp->sgeo[0];
    L->scale_stride_slot = tp->sgeo[1];
    L->scale_stride_head = tp->sgeo[2];
    L->scale_pool_units = tp->sgeo[3];
    L->max_blocks_per_seq = tp->M;
    if (read_int_rows(r, member(tp->lay, "blockTable"), "layout.blockTable", tp->S,
                      tp->M, INT_MIN, INT_MAX, &L->block_table) != 0)
        return -1;
    const cJSON *sm = member(tp->lay, "slotMapping");
    int64_t tokens = tp->tokens;
    if (!cJSON_IsArray(sm) || count_children(sm) != tokens)
        return read_ints(r, sm, "layout.slotMapping", tokens, 0, 0, NULL, NULL);
    L->slot_mapping = malloc((size_t)(tokens > 0 ? tokens : 1) * sizeof *L->slot_mapping);
    if (!L->slot_mapping)
        return rfail(r, "layout.slotMapping", "out of memory");
    if (read_ints(r, sm, "layout.slotMapping", tokens, -KVCG_GOLDEN_MAX_INT,
                  KVCG_GOLDEN_MAX_INT, NULL, L->slot_mapping) != 0)
        return -1;
    if (read_poison_seed(r, tp->lay, &L->poison_seed) != 0)
        return -1;
    if (tp->sparse && check_sparse_touched(r, L, tp->S, tokens) != 0)
        return -1;
    return 0;
}

/* QEfficient inputs (qeff, QEff tests only; its presence is checked by
 * test_expected_shapes): maxQ, the padded positionIds rows, slotId and
 * rowOfToken, sized before allocation like the slot mapping. */
static int decode_qeff(rd *r, const tparse *tp, kvc_golden_test *t)
{
    static const char *const qeff_keys[] = {"maxQ", "positionIds", "slotId",
                                            "rowOfToken"};
    const char *Qp = "qeff.";
    const cJSON *qe = member(tp->x, "qeff");
    kvc_qeff_layout *Q = &t->c.qeff;
    int S = tp->S, Hq = tp->g->cfg.num_q_heads, D = tp->g->cfg.head_dim;
    int64_t rows = tp->rows;
    if (check_keys(r, qe, Qp, qeff_keys, 4) ||
        get_int32(r, qe, Qp, "maxQ", 1, KVCG_GOLDEN_MAX_TABLE_COLS, &Q->max_q))
        return -1;
    if (Q->max_q < tp->max_q)
        return rfail(r, "qeff.maxQ", "%d is less than the longest qLen (%d)",
                     Q->max_q, tp->max_q);
    if (!mul_le((int64_t)S * Q->max_q, (int64_t)Hq * D, KVCG_GOLDEN_MAX_ELEMS))
        return rfail(r, "qeff.maxQ",
                     "%d sequences x %d rows x %d heads x %d dims exceed the "
                     "limit of %lld elements", S, Q->max_q, Hq, D,
                     (long long)KVCG_GOLDEN_MAX_ELEMS);
    if (read_int_rows(r, member(qe, "positionIds"), "qeff.positionIds", S,
                      Q->max_q, INT_MIN, INT_MAX, &Q->position_ids) != 0)
        return -1;
    const cJSON *sid = member(qe, "slotId");
    if (!cJSON_IsArray(sid) || count_children(sid) != S)
        return read_ints(r, sid, "qeff.slotId", S, 0, 0, NULL, NULL);
    Q->slot_id = calloc((size_t)(S > 0 ? S : 1), sizeof *Q->slot_id);
    if (!Q->slot_id)
        return rfail(r, "qeff.slotId", "out of memory");
    if (read_ints(r, sid, "qeff.slotId", S, INT_MIN, INT_MAX, Q->slot_id, NULL))
        return -1;
    const cJSON *rot = member(qe, "rowOfToken");
    if (!cJSON_IsArray(rot) || count_children(rot) != rows)
        return read_ints(r, rot, "qeff.rowOfToken", rows, 0, 0, NULL, NULL);
    Q->row_of_token = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *Q->row_of_token);
    if (!Q->row_of_token)
        return rfail(r, "qeff.rowOfToken", "out of memory");
    if (read_ints(r, rot, "qeff.rowOfToken", rows, -KVCG_GOLDEN_MAX_INT,
                  KVCG_GOLDEN_MAX_INT, NULL, Q->row_of_token))
        return -1;
    return 0;
}

/* Every tolerance finite and >= 0 (a NaN or infinite one would pass
 * anything). */
static int check_tolerances(rd *r, const char *field, const double *tol,
                            int64_t n)
{
    for (int64_t e = 0; e < n; e++)
        if (!(tol[e] >= 0) || isinf(tol[e]))
            return rfail(r, field,
                         "element %lld is %g: tolerances are finite and >= 0",
                         (long long)e, tol[e]);
    return 0;
}

/* expected into the test: out, lse, their tolerances, and the codes. */
static int decode_expected(rd *r, tparse *tp, kvc_golden_test *t)
{
    if (!(t->out = decode_f64(r, "expected.out", &tp->te[0])) ||
        !(t->lse = decode_f64(r, "expected.lse", &tp->te[1])) ||
        !(t->tol_out = decode_f64(r, "expected.tolOut", &tp->te[2])) ||
        !(t->tol_lse = decode_f64(r, "expected.tolLse", &tp->te[3])))
        return -1;
    if (check_tolerances(r, "expected.tolOut", t->tol_out, tp->te[2].n) ||
        check_tolerances(r, "expected.tolLse", t->tol_lse, tp->te[3].n))
        return -1;
    return read_codes(r, t, tp->g->kv_dtype, tp->g->kv_kind, tp->code_dt,
                      tp->tcode);
}

/* The case's spec: what the file states (mode, config, lengths, geometry)
 * and what only the flags say (informational kinds, kvc_case_describe). */
static void fill_spec(const tparse *tp, kvc_golden_test *t)
{
    const gcfg *g = tp->g;
    kvc_case *c = &t->c;
    kvc_case_spec *sp = &c->spec;
    sp->mode = g->mode;
    sp->cfg = g->cfg;
    sp->num_seqs = tp->S;
    memcpy(sp->ctx_len, tp->ctx, sizeof tp->ctx);
    memcpy(sp->q_len, tp->ql, sizeof tp->ql);
    sp->pad_tokens = tp->pad;
    if (g->mode == KVC_MODE_BLOCKED) {
        sp->cache_len = g->cache_len;
        sp->num_kv_blocks = g->num_kv_blocks;
    } else {
        sp->block_size = g->block_size;
        sp->hnd = g->hnd;
        sp->stride_pad = g->stride_pad;
    }
    if (g->mode == KVC_MODE_QEFF) {
        const kvc_qeff_layout *Q = &c->qeff;
        sp->qeff_max_q = Q->max_q;
        for (int s = 0; s < tp->S; s++)
            if (tp->ql[s] > 0 && tp->ql[s] < Q->max_q &&
                Q->position_ids[(int64_t)s * Q->max_q] == -1)
                sp->qeff_left_pad = 1;
    }
    derive_spec_kinds(t);
    sp->large_offsets = tp->sparse;
    c->flags = t->flags;
}

/* The problem as the oracle and the runner check it. An invalid test may
 * carry a format the kernel must refuse (bad_kv_format): everything else
 * of it is checked. */
static int check_problem(rd *r, int usable, kvc_problem *p)
{
    char why[256];
    int bad_problem;
    if (usable) {
        bad_problem = kvc_problem_check(p, why, sizeof why) != 0;
    } else {
        kvc_kv_quant keep = p->quant;
        memset(&p->quant, 0, sizeof p->quant);
        bad_problem = kvc_problem_check(p, why, sizeof why) != 0;
        p->quant = keep;
    }
    if (bad_problem)
        return rfail(r, NULL, "inconsistent problem: %s", why);
    return 0;
}

/* A valid test is self-consistent as a problem a correct kernel must
 * accept (the top of the file); invalid and acceptable ones keep their
 * deliberately bad values. */
static int check_valid(rd *r, const gcfg *g, const kvc_golden_test *t)
{
    if (t->result != KVC_EXPECT_VALID && !t->has_variant)
        return 0;
    if (g->mode == KVC_MODE_BLOCKED) {
        if (check_valid_blocked(r, t) != 0)
            return -1;
    } else if (check_valid_paged(r, t) != 0 ||
               (g->mode == KVC_MODE_QEFF && check_valid_qeff(r, t) != 0)) {
        return -1;
    }
    return check_valid_slots(r, t);
}

/* The variant of an invalid test (golden_variant.h), over its built and
 * checked case. */
static int read_variant(rd *r, const cJSON *v, kvc_golden_test *t)
{
    char field[64], msg[256];
    if (kvcg_variant_parse(v, &t->c, &t->inv, field, sizeof field, msg,
                           sizeof msg) != 0)
        return rfail(r, field, "%s", msg);
    return 0;
}

/* One test of group config g into *t (zeroed first; on error the caller
 * frees what was allocated). The parts run in the order of the comment at
 * the top of this section. */
static int parse_test(rd *r, const cJSON *x, const gcfg *g, kvc_golden_test *t,
                      uint64_t *flags_used)
{
    tparse tp;
    memset(&tp, 0, sizeof tp);
    tp.x = x;
    tp.g = g;
    memset(t, 0, sizeof *t);
    r->tc_id = 0;
    if (test_meta(r, &tp, t, flags_used) || test_lengths(r, &tp) ||
        test_inputs(r, &tp) || test_static_scales(r, &tp, t) ||
        test_layout(r, &tp) || test_expected_shapes(r, &tp, t))
        return -1;
    if (decode_inputs(r, &tp, t) || decode_layout(r, &tp, t) ||
        (g->mode == KVC_MODE_QEFF && decode_qeff(r, &tp, t)) ||
        (tp.exp && decode_expected(r, &tp, t)))
        return -1;
    fill_spec(&tp, t);
    if (check_problem(r, tp.usable, &t->c.prob) != 0 ||
        check_valid(r, g, t) != 0)
        return -1;
    return t->has_variant ? read_variant(r, member(x, "variant"), t) : 0;
}

/* ---- the file ---------------------------------------------------------------------- */

typedef struct id_at {
    int id;
    int pos;
} id_at;

static int cmp_id(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Line and column (1-based) of byte offset off. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* The top-level keys before the notes: schema, version, generator, oracle
 * version, the declared test count, header and encoding. */
static int root_header(rd *r, const cJSON *root, kvc_golden_file *f,
                       int64_t *declared)
{
    static const char *const top_keys[] = {
        "schema", "schemaVersion", "generator", "oracleVersion", "numberOfTests",
        "header", "encoding", "notes", "testGroups"};
    fname fn;
    char tmp[48];
    if (!cJSON_IsObject(root))
        return rfail(r, NULL, "expected a JSON object, found %s", type_of(root));
    if (check_keys(r, root, "", top_keys, 9) != 0)
        return -1;
    const char *schema = get_string(r, root, "", "schema", 64);
    if (!schema)
        return -1;
    if (strcmp(schema, KVC_GOLDEN_SCHEMA) != 0)
        return rfail(r, "schema", "expected \"%s\", found \"%s\"", KVC_GOLDEN_SCHEMA,
                     shown(schema, tmp, sizeof tmp));
    int64_t version = 0;
    if (get_int(r, root, "", "schemaVersion", 0, INT_MAX, &version) != 0)
        return -1;
    if (version < KVC_GOLDEN_SCHEMA_VERSION_DENSE ||
        version > KVC_GOLDEN_SCHEMA_VERSION)
        return rfail(r, "schemaVersion", "version %lld is not supported (this "
                     "reader knows %d and %d)", (long long)version,
                     KVC_GOLDEN_SCHEMA_VERSION_DENSE, KVC_GOLDEN_SCHEMA_VERSION);
    r->version = (int)version;
    const char *gen = get_string(r, root, "", "generator", sizeof f->generator - 1);
    const char *ov = gen ? get_string(r, root, "", "oracleVersion",
                                      sizeof f->oracle_version - 1) : NULL;
    if (!gen || !ov ||
        get_int(r, root, "", "numberOfTests", 0, INT_MAX, declared) != 0)
        return -1;
    memcpy(f->generator, gen, strlen(gen) + 1);
    memcpy(f->oracle_version, ov, strlen(ov) + 1);
    const cJSON *hdr = need(r, root, "", "header", cJSON_IsArray, "an array");
    if (!hdr)
        return -1;
    int64_t i = 0;
    for (const cJSON *c = hdr->child; c; c = c->next, i++)
        if (!cJSON_IsString(c))
            return rfail(r, findex(&fn, "header", i), "expected a string, found %s",
                         type_of(c));
    return get_string(r, root, "", "encoding", (size_t)1 << 16) ? 0 : -1;
}

/* notes: keyed by flag or result name, each {bugType, description}, no key
 * twice; *noted gets the flags that have one. */
static int root_notes(rd *r, const cJSON *root, uint64_t *noted)
{
    static const char *const note_keys[] = {"bugType", "description"};
    char tmp[48];
    const cJSON *notes = need(r, root, "", "notes", cJSON_IsObject, "an object");
    if (!notes)
        return -1;
    *noted = 0;
    for (const cJSON *c = notes->child; c; c = c->next) {
        char key[80];
        snprintf(key, sizeof key, "notes.%s", shown(c->string ? c->string : "?", tmp, sizeof tmp));
        int b = kvcg_flag_parse(c->string);
        kvc_expect e;
        if (b < 0 && kvcg_expect_parse(c->string, &e) != 0)
            return rfail(r, key, "not a flag name nor a result");
        for (const cJSON *d = notes->child; d != c; d = d->next)
            if (strcmp(d->string, c->string) == 0)
                return rfail(r, key, "key appears twice");
        if (!cJSON_IsObject(c))
            return rfail(r, key, "expected an object {bugType, description}, found %s",
                         type_of(c));
        char prefix[96];
        snprintf(prefix, sizeof prefix, "%s.", key);
        if (check_keys(r, c, prefix, note_keys, 2) ||
            !get_string(r, c, prefix, "bugType", 64) ||
            !get_string(r, c, prefix, "description", (size_t)1 << 16))
            return -1;
        if (b >= 0)
            *noted |= (uint64_t)1 << b;
    }
    return 0;
}

/* Group gi: its type and config, then each of its tests into f (which has
 * room for capacity tests); *used collects the flags the tests carry. */
static int root_group(rd *r, const cJSON *grp, int gi, kvc_golden_file *f,
                      int64_t capacity, uint64_t *used)
{
    static const char *const group_keys[] = {"type", "config", "tests"};
    char tmp[48];
    r->level = 1;
    r->group = gi;
    if (!cJSON_IsObject(grp))
        return rfail(r, NULL, "expected a test group object, found %s",
                     type_of(grp));
    if (check_keys(r, grp, "", group_keys, 3) != 0)
        return -1;
    const char *type = get_string(r, grp, "", "type", 64);
    kvc_mode mode;
    if (!type)
        return -1;
    if (kvcg_golden_type_parse(type, &mode) != 0)
        return rfail(r, "type", "expected \"PagedAttention\", \"BlockedAttention\" "
                     "or \"QEffPagedAttention\", found \"%s\"",
                     shown(type, tmp, sizeof tmp));
    gcfg g;
    if (parse_config(r, grp, mode, &g) != 0)
        return -1;
    const cJSON *tests = need(r, grp, "", "tests", cJSON_IsArray, "an array");
    if (!tests)
        return -1;
    if (!tests->child)
        return rfail(r, "tests", "a group holds at least one test");
    int ti = 0;
    for (const cJSON *x = tests->child; x; x = x->next, ti++) {
        r->level = 2;
        r->index = ti;
        if (f->num_tests >= capacity)
            return rfail(r, NULL, "internal error: test count");
        kvc_golden_test *t = &f->tests[f->num_tests++];
        if (parse_test(r, x, &g, t, used) != 0)
            return -1;
    }
    return 0;
}

/* testGroups: room for every test, then group by group. */
static int root_groups(rd *r, const cJSON *root, kvc_golden_file *f,
                       uint64_t *used)
{
    const cJSON *groups = need(r, root, "", "testGroups", cJSON_IsArray, "an array");
    if (!groups)
        return -1;
    int64_t capacity = 0;
    for (const cJSON *g = groups->child; g; g = g->next)
        capacity += count_children(member(g, "tests"));
    if (capacity > INT_MAX)
        return rfail(r, "testGroups", "too many tests");
    f->tests = calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *f->tests);
    if (!f->tests)
        return rfail(r, NULL, "out of memory");
    *used = 0;
    int gi = 0;
    for (const cJSON *grp = groups->child; grp; grp = grp->next, gi++)
        if (root_group(r, grp, gi, f, capacity, used) != 0)
            return -1;
    return 0;
}

/* No tcId twice in the file. */
static int unique_ids(rd *r, const kvc_golden_file *f)
{
    if (f->num_tests <= 1)
        return 0;
    id_at *ids = malloc((size_t)f->num_tests * sizeof *ids);
    if (!ids)
        return rfail(r, NULL, "out of memory");
    for (int k = 0; k < f->num_tests; k++)
        ids[k] = (id_at){f->tests[k].tc_id, k};
    qsort(ids, (size_t)f->num_tests, sizeof *ids, cmp_id);
    for (int k = 1; k < f->num_tests; k++)
        if (ids[k].id == ids[k - 1].id) {
            int id = ids[k].id, a = ids[k - 1].pos, b = ids[k].pos;
            free(ids);
            r->level = 2;
            r->tc_id = id;
            return rfail(r, "tcId", "appears twice (tests #%d and #%d of the "
                         "file, counting from 0)", a, b);
        }
    free(ids);
    return 0;
}

/* The whole document: header, notes, groups, then what only the whole
 * can say (the declared count, a note for every flag used, unique ids). */
static int parse_root(rd *r, const cJSON *root, kvc_golden_file *f)
{
    fname fn;
    int64_t declared = 0;
    uint64_t noted = 0, used = 0;
    r->level = 0;
    if (root_header(r, root, f, &declared) != 0 ||
        root_notes(r, root, &noted) != 0 || root_groups(r, root, f, &used) != 0)
        return -1;
    r->level = 0;
    if (declared != f->num_tests)
        return rfail(r, "numberOfTests", "says %lld, the groups hold %d tests",
                     (long long)declared, f->num_tests);
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if ((used >> b & 1) && !(noted >> b & 1))
            return rfail(r, fjoin(&fn, "notes.", kvc_flag_name(b)),
                         "missing: every flag a test uses has a note");
    return unique_ids(r, f);
}

/* Text that cannot be JSON at all: a NUL byte, invalid UTF-8 or a byte
 * order mark, named with its line and column. */
static int check_text(rd *r, const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        r->failed = 1;
        if (r->err && r->errlen)
            snprintf(r->err, r->errlen, "%s: not JSON: NUL byte at offset %zu",
                     r->name, (size_t)(nul - text));
        return -1;
    }
    size_t good = kvcg_utf8_valid_prefix(text, len);
    if (good != len || (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)) {
        size_t line, col;
        line_col(text, good, &line, &col);
        if (r->err && r->errlen)
            snprintf(r->err, r->errlen, "%s: not JSON: %s at line %zu, column %zu "
                     "(offset %zu)", r->name,
                     good == len ? "a byte order mark" : "invalid UTF-8",
                     line, col, good == len ? (size_t)0 : good);
        return -1;
    }
    return 0;
}

/* cJSON's tree of the whole text (one value, then only white space), or
 * NULL with the place of the syntax error or of the trailing text. */
static cJSON *parse_json(rd *r, const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root || !end || end < text || end > text + len) {
        size_t off = (end && end >= text && end <= text + len) ? (size_t)(end - text)
                                                               : len;
        size_t line, col;
        line_col(text, off, &line, &col);
        if (r->err && r->errlen)
            snprintf(r->err, r->errlen, "%s: not JSON: %s at line %zu, column %zu "
                     "(offset %zu)", r->name,
                     off >= len ? "unexpected end of text" : "syntax error",
                     line, col, off);
        cJSON_Delete(root);
        return NULL;
    }
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            size_t line, col, off = (size_t)(p - text);
            line_col(text, off, &line, &col);
            if (r->err && r->errlen)
                snprintf(r->err, r->errlen, "%s: not JSON: text after the "
                         "top-level value at line %zu, column %zu (offset %zu)",
                         r->name, line, col, off);
            cJSON_Delete(root);
            return NULL;
        }
    return root;
}

int kvc_golden_parse(const char *text, size_t len, const char *name,
                     kvc_golden_file *f, char *err, size_t errlen)
{
    rd r = {name ? name : "<input>", err, errlen, 0, 0, 0, 0, 0, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!f) {
        rfail(&r, NULL, "no output structure");
        return -1;
    }
    memset(f, 0, sizeof *f);
    if (!text) {
        rfail(&r, NULL, "no text");
        return -1;
    }
    if (len > KVCG_GOLDEN_MAX_TEXT) {
        rfail(&r, NULL, "%zu bytes is larger than the limit of %zu", len,
              KVCG_GOLDEN_MAX_TEXT);
        return -1;
    }
    cJSON *root = check_text(&r, text, len) == 0 ? parse_json(&r, text, len) : NULL;
    if (!root)
        return -1;
    int rc = parse_root(&r, root, f);
    cJSON_Delete(root);
    if (rc != 0) {
        kvc_golden_free(f);
        memset(f, 0, sizeof *f);
        return -1;
    }
    return 0;
}

int kvc_golden_read(const char *path, kvc_golden_file *f, char *err,
                    size_t errlen)
{
    if (f)
        memset(f, 0, sizeof *f);
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "golden read: no path");
        return -1;
    }
    size_t len;
    char *buf = kvcg_read_text(path, &len, err, errlen);
    if (!buf)
        return -1;
    int rc = kvc_golden_parse(buf, len, path, f, err, errlen);
    free(buf);
    return rc;
}
