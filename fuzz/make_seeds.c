/*
 * make_seeds.c — writes the seed corpora fuzz/corpus/<harness>/seed-*,
 * reproducibly, in each harness's byte format (the same fz_io field calls
 * the harnesses decode with, run as writers):
 *
 *   crosscheck   one seed per named boundary case (generators/named.h):
 *                decode, prefill, chunk ending on a block, block size 1,
 *                GQA/MQA, odd head dims, windows, softcap, masks, first
 *                block masked, empty rows, q_len 0, padding tokens, shared
 *                prefix, HND, padded strides, blocked uneven tiles, qeff
 *                left pad, ...; each is checked to decode to exactly its
 *                spec and to build;
 *   qeff         the QEfficient inputs of the named qeff cases (built by
 *                the generator), and invalid variants of them (a crossing
 *                write, a wrong slot_id, non-consecutive or negative
 *                positions, an active block of -1 or out of range, a
 *                position past the table, INT_MAX, NULL pointers, negative
 *                counts, a zero block size, an overflowing pool);
 *   contract     per cache entry point, valid bases (f32, every dtype x
 *                scale kind it takes, unused fields junk, tiny and huge
 *                static scales) and one seed per applicable corruption
 *                kind (fuzz_contract.h), the format corruptions on the
 *                formats where they bite: the header bytes that select
 *                them, the format section (fzm_format_io), then a fixed
 *                pseudo-random tail; the qeff seeds behind the qeff entry
 *                byte; kva_observer_update and kva_scale_from_amax inputs
 *                (valid ones, every refusal) behind theirs;
 *   golden_parse small golden files written by the golden writer for a few
 *                named cases, and broken variants of them.
 *
 * Usage: make_seeds CORPUS_DIR   (existing seed-* files there are replaced;
 * regress-* files are kept).
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../generators/named.h"
#include "../golden/golden.h"
#include "fuzz_contract.h"
#include "fuzz_helpers.h"
#include "fuzz_model.h"
#include "fuzz_spec.h"

static const char *corpus_root;
static int n_written;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void ensure_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

/* Remove seed-* of one harness directory (regress-* stay). */
static void clear_seeds(const char *harness)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", corpus_root, harness);
    ensure_dir(dir);
    DIR *d = opendir(dir);
    if (!d)
        die("cannot open a corpus directory");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "seed-", 5) != 0)
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void write_seed(const char *harness, const char *name,
                       const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%s", corpus_root, harness, name);
    for (char *c = path + strlen(corpus_root) + strlen(harness) + 2; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    n_written++;
}

/* ---- crosscheck ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}


static void seed_crosscheck(void)
{
    clear_seeds("crosscheck");
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        kvc_case_spec spec = kvc_named_spec(nc), back;
        /* value seed from the name: stable when the named list changes */
        uint64_t seed = fnv1a(nc->name) & UINT32_MAX, seed_back = 0;
        /* entries past num_seqs mean nothing; the decoder leaves them 0 */
        for (int s = spec.num_seqs; s < KVC_MAX_SEQS; s++)
            spec.ctx_len[s] = spec.q_len[s] = 0;
        fz_io w, r;
        fz_writer_init(&w);
        fz_spec_io(&w, &spec, &seed);
        fz_reader_init(&r, w.buf, w.len);
        fz_spec_io(&r, &back, &seed_back);
        fz_spec_repair(&back);
        if (memcmp(&spec, &back, sizeof spec) != 0 || seed != seed_back) {
            fprintf(stderr, "make_seeds: crosscheck seed %s does not decode "
                    "to its spec (out of the harness's ranges?)\n", nc->name);
            exit(1);
        }
        kvc_case c;
        char err[256];
        if (kvc_case_build(&back, seed_back, &c, err, sizeof err) != 0) {
            fprintf(stderr, "make_seeds: %s does not build: %s\n", nc->name,
                    err);
            exit(1);
        }
        kvc_case_free(&c);
        write_seed("crosscheck", nc->name, w.buf, w.len);
        fz_writer_free(&w);
    }
}

/* ---- qeff ---- */

typedef struct qseed {
    char name[96];
    fzq_input in;
} qseed;

static void fzq_clear(fzq_input *in)
{
    memset(in, 0, sizeof *in);
    for (int s = 0; s < FZQ_MAX_S; s++)
        for (int i = 0; i < FZQ_MAX_Q; i++)
            in->pos[s][i] = -1;
}

/* The QEfficient inputs of a named qeff case. */
static void fzq_from_named(const kvc_named_case *nc, fzq_input *in)
{
    kvc_case_spec spec = kvc_named_spec(nc);
    kvc_case c;
    char err[256];
    if (kvc_case_build(&spec, 7, &c, err, sizeof err) != 0)
        die(err);
    fzq_clear(in);
    in->num_seqs = c.prob.num_seqs;
    in->max_q = c.qeff.max_q;
    in->block_size = c.layout.block_size;
    in->num_kv_blocks = c.layout.max_blocks_per_seq;
    in->num_blocks = c.layout.num_blocks;
    if (in->num_seqs > FZQ_MAX_S || in->max_q > FZQ_MAX_Q ||
        in->num_kv_blocks > FZQ_MAX_NKB)
        die("a named qeff case exceeds the qeff harness's bounds");
    for (int s = 0; s < in->num_seqs; s++) {
        in->slot_id[s] = c.qeff.slot_id[s];
        for (int i = 0; i < in->max_q; i++)
            in->pos[s][i] = c.qeff.position_ids[s * in->max_q + i];
        for (int b = 0; b < in->num_kv_blocks; b++)
            in->table[s][b] = c.layout.block_table[s * in->num_kv_blocks + b];
    }
    kvc_case_free(&c);
}

/* Encode, check it decodes back to the same input, return the bytes. */
static void fzq_encode(const fzq_input *in, fz_io *w, const char *name)
{
    fzq_input copy = *in, back;
    fz_writer_init(w);
    fzq_io(w, &copy);
    fz_io r;
    fz_reader_init(&r, w->buf, w->len);
    fzq_io(&r, &back);
    if (memcmp(in, &back, sizeof back) != 0) {
        fprintf(stderr, "make_seeds: qeff seed %s does not round-trip\n", name);
        exit(1);
    }
}

static int n_qseeds;
static qseed qseeds[64];

/* What the decoder leaves outside the used part of the arrays (-1 rows,
 * zero slot ids and table entries), so a seed round-trips exactly. */
static void fzq_canonical(fzq_input *in)
{
    int S = in->num_seqs < 0 ? 0 : in->num_seqs;
    int MQ = in->max_q < 0 ? 0 : in->max_q;
    int NKB = in->num_kv_blocks < 0 ? 0 : in->num_kv_blocks;
    for (int s = 0; s < FZQ_MAX_S; s++) {
        for (int i = 0; i < FZQ_MAX_Q; i++)
            if (s >= S || i >= MQ)
                in->pos[s][i] = -1;
        if (s >= S)
            in->slot_id[s] = 0;
        for (int b = 0; b < FZQ_MAX_NKB; b++)
            if (s >= S || b >= NKB)
                in->table[s][b] = 0;
    }
}

static void add_q(const char *name, const fzq_input *in)
{
    if (n_qseeds == (int)(sizeof qseeds / sizeof qseeds[0]))
        die("too many qeff seeds");
    qseed *q = &qseeds[n_qseeds++];
    snprintf(q->name, sizeof q->name, "%s", name);
    q->in = *in;
    fzq_canonical(&q->in);
}

static void build_qeff_seeds(void)
{
    fzq_input base, v;
    int have_base = 0;
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        if (nc->mode != KVC_MODE_QEFF)
            continue;
        fzq_input in;
        fzq_from_named(nc, &in);
        add_q(nc->name, &in);
        if (!have_base && strcmp(nc->name, "qeff.decode") == 0) {
            base = in;
            have_base = 1;
        }
    }
    if (!have_base)
        die("no qeff.decode named case");
    /* base: S 1, decode at position 20, B 16: row [20, -1, -1, -1],
     * slot_id 4, active block table[0][1]. */
    int B = base.block_size;
    v = base; /* crossing write: 15, 16 */
    v.pos[0][0] = B - 1;
    v.pos[0][1] = B;
    v.slot_id[0] = B - 1;
    add_q("invalid.crossing_write", &v);
    v = base;
    v.slot_id[0] = (base.slot_id[0] + 1) % B;
    add_q("invalid.slot_id_mismatch", &v);
    v = base;
    v.pos[0][1] = base.pos[0][0] + 2;
    add_q("invalid.not_consecutive", &v);
    v = base;
    v.pos[0][1] = base.pos[0][0];
    add_q("invalid.repeated_position", &v);
    v = base;
    v.pos[0][0] = -2;
    add_q("invalid.negative_position", &v);
    v = base;
    v.table[0][base.pos[0][0] / B] = -1;
    add_q("invalid.active_block_minus_1", &v);
    v = base;
    v.table[0][base.pos[0][0] / B] = (int)base.num_blocks;
    add_q("invalid.active_block_out_of_range", &v);
    v = base;
    v.num_kv_blocks = base.pos[0][0] / B; /* the active block is past it */
    add_q("invalid.position_past_table", &v);
    v = base;
    v.pos[0][0] = INT_MAX;
    v.slot_id[0] = INT_MAX % B;
    add_q("invalid.position_int_max", &v);
    v = base;
    v.pos[0][0] = INT_MAX - 1;
    v.pos[0][1] = INT_MAX;
    v.slot_id[0] = (INT_MAX - 1) % B;
    add_q("invalid.positions_up_to_int_max", &v);
    v = base;
    v.num_seqs = -1;
    add_q("invalid.negative_num_seqs", &v);
    v = base;
    v.block_size = 0;
    add_q("invalid.block_size_0", &v);
    v = base;
    v.num_blocks = INT64_MAX;
    add_q("overflow.num_blocks_int64_max", &v);
    v = base;
    v.null_mask = FZQ_NULL_SLOTS;
    add_q("invalid.null_slot_mapping", &v);
    v = base;
    v.null_mask = FZQ_NULL_TABLE;
    add_q("invalid.null_block_table", &v);
    v = base;
    v.null_mask = FZQ_NULL_IN;
    add_q("invalid.null_inputs", &v);
    fzq_clear(&v); /* an empty batch */
    v.block_size = 4;
    v.num_blocks = 1;
    add_q("valid.empty_batch", &v);
    v = base;
    v.err_null = 1;
    v.slot_id[0] = (base.slot_id[0] + 3) % B;
    add_q("invalid.no_err_struct", &v);
}

static void seed_qeff(void)
{
    clear_seeds("qeff");
    for (int i = 0; i < n_qseeds; i++) {
        fz_io w;
        fzq_encode(&qseeds[i].in, &w, qseeds[i].name);
        write_seed("qeff", qseeds[i].name, w.buf, w.len);
        fz_writer_free(&w);
    }
}

/* ---- contract ---- */

#define FZC_NAME_(name, entries) #name,
static const char *const corruption_names[] = {FZC_CORRUPTIONS(FZC_NAME_)};
#define FZC_ENTRIES_(name, entries) (entries),
static const unsigned corruption_entries[] = {FZC_CORRUPTIONS(FZC_ENTRIES_)};
static const char *const entry_names[] = {"paged", "blocked", "write"};

#define TAIL_LEN 320

static const char *const dtype_names[] = {"f32", "f16", "bf16", "fp8_e4m3",
                                          "fp8_e5m2", "int8", "nvfp4"};
static const char *const kind_names[] = {"none", "tensor", "attn_head",
                                         "token", "group"};

/* A valid format: dtype, kind, every other field at its default (what the
 * decoder leaves for fields the bytes do not hold). */
static fzm_format format_of(int dtype, int kind)
{
    fzm_format f;
    fzm_format_default(&f, dtype, kind);
    return f;
}

/* What a contract seed must show (checked with fzc_probe_input, the
 * harness's own decoder and model, before the seed is written). */
enum {
    WANT_VALID = -1,   /* exact, no violation, real tokens: must be accepted */
    WANT_REFUSAL = -2, /* any required refusal */
    WANT_NO_FAULT = -3,/* no violation, real tokens (a raw layout: a kernel
                          may still refuse) */
    WANT_ANY = -4      /* the name's first tail */
    /* >= 0: exact, and the only required status is this one */
};

static int probe_ok(const uint8_t *data, size_t len, int want)
{
    fzc_probe pr;
    if (want == WANT_ANY)
        return 1;
    if (!fzc_probe_input(data, len, &pr))
        return 0;
    if (want == WANT_REFUSAL)
        return pr.v.must_refuse;
    if (want == WANT_NO_FAULT)
        return !pr.v.must_refuse && pr.tokens > 0;
    if (!pr.v.codes_known)
        return 0;
    if (want == WANT_VALID)
        return !pr.v.must_refuse && pr.tokens > 0;
    return pr.v.must == 1u << want;
}

/* Entry byte, corruption header (kind < 0: none), the format section for
 * the cache entries, then a pseudo-random tail: the first of a series
 * derived from the name whose input shows `want` (else the series' first,
 * with a note). The format section is checked to decode back to f. */
static void contract_seed(int entry, int kind, const fzm_format *f,
                          const char *name, int want)
{
    fz_io w;
    fz_writer_init(&w);
    int e = entry;
    fz_io_int(&w, &e, 0, FZC_ENTRY_COUNT - 1);
    int sel = kind < 0 ? 0 : 100; /* none / one corruption */
    fz_io_int(&w, &sel, 0, 255);
    if (kind >= 0)
        fz_io_int(&w, &kind, 0, X_COUNT - 1);
    const size_t at = w.len;
    fzm_format copy = *f, back;
    fzm_format_io(&w, &copy);
    fz_io r;
    fz_reader_init(&r, w.buf + at, w.len - at);
    fzm_format_io(&r, &back);
    if (memcmp(f, &back, sizeof back) != 0) {
        fprintf(stderr, "make_seeds: contract seed %s: the format section "
                "does not round-trip\n", name);
        exit(1);
    }
    const size_t head = w.len;
    uint8_t tail[TAIL_LEN];
    for (int attempt = 0; attempt <= 2000; attempt++) {
        uint64_t st = fnv1a(name) + (uint64_t)(attempt % 2000);
        for (int i = 0; i < TAIL_LEN; i++)
            tail[i] = (uint8_t)fz_splitmix64(&st);
        w.len = head;
        fz_io_bytes(&w, tail, TAIL_LEN);
        if (probe_ok(w.buf, w.len, want))
            break;
        if (attempt == 2000)
            fprintf(stderr, "make_seeds: note: no tail gives contract seed %s "
                    "its intended verdict; kept the first\n", name);
    }
    write_seed("contract", name, w.buf, w.len);
    fz_writer_free(&w);
}

/* The status a format corruption must give when it is the only one. */
static int format_status(int kind)
{
    switch (kind) {
    case X_NULL_HEADS:
    case X_NULL_SCALE_POOL: return KVA_ERR_NULL;
    case X_SCALE_STRIDE:
    case X_SCALE_POOL_SMALL: return KVA_ERR_SHAPE;
    default: return KVA_ERR_FORMAT;
    }
}

/* The format corruptions and the formats they are seeded on. */
static const struct {
    int kind, dtype, scale_kind;
} format_seeds[] = {
    {X_DTYPE, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR},
    {X_DTYPE, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    {X_SCALE_KIND, KVA_DTYPE_INT8, KVA_SCALE_HEAD},
    {X_SCALE_KIND, KVA_DTYPE_BF16, KVA_SCALE_NONE},
    {X_STATIC_SCALE, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR},
    {X_STATIC_SCALE, KVA_DTYPE_INT8, KVA_SCALE_HEAD},
    {X_STATIC_SCALE, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    {X_NULL_HEADS, KVA_DTYPE_FP8_E5M2, KVA_SCALE_HEAD},
    {X_NULL_SCALE_POOL, KVA_DTYPE_INT8, KVA_SCALE_TOKEN},
    {X_NULL_SCALE_POOL, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    {X_SCALE_STRIDE, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN},
    {X_SCALE_STRIDE, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    {X_SCALE_POOL_SMALL, KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN},
    {X_SCALE_POOL_SMALL, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    {X_NVFP4_DIM, KVA_DTYPE_F32, KVA_SCALE_NONE},
    {X_NVFP4_DIM, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
};

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void seed_contract_formats(int e)
{
    char name[160];
    /* every dtype x kind it takes */
    for (int d = KVA_DTYPE_F32; d <= KVA_DTYPE_NVFP4; d++) {
        int kinds[3], n = fzm_kinds_of(d, kinds);
        for (int i = 0; i < n; i++) {
            fzm_format f = format_of(d, kinds[i]);
            if (kinds[i] == KVA_SCALE_TOKEN || kinds[i] == KVA_SCALE_GROUP) {
                f.pool_layout = d % 2; /* NHD, HND */
                f.pool_pad = d % 3 == 0;
                f.pool_slack = d % 4;
            }
            snprintf(name, sizeof name, "%s-valid-%s-%s", entry_names[e],
                     dtype_names[d], kind_names[kinds[i]]);
            contract_seed(e, -1, &f, name, WANT_VALID);
        }
    }
    /* unused fields junk: NaN/inf tensor scales, junk or NULL head arrays
     * and pools, junk pool strides */
    fzm_format f = format_of(KVA_DTYPE_FP8_E4M3, KVA_SCALE_HEAD);
    f.junk = 0x4F; /* every junk bit, value NaN */
    snprintf(name, sizeof name, "%s-valid-unused-junk-nan", entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    f = format_of(KVA_DTYPE_INT8, KVA_SCALE_TENSOR);
    f.junk = 0x73; /* junk values +inf, pools 1-byte buffers */
    snprintf(name, sizeof name, "%s-valid-unused-junk-inf", entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    f = format_of(KVA_DTYPE_FP8_E5M2, KVA_SCALE_HEAD);
    f.junk = 0xC3; /* INT64_MAX / INT64_MIN pool strides */
    snprintf(name, sizeof name, "%s-valid-unused-junk-huge-strides",
             entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    f = format_of(KVA_DTYPE_F16, KVA_SCALE_NONE);
    f.junk = 0x5D;
    snprintf(name, sizeof name, "%s-valid-unused-junk-zero", entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    /* valid extreme static scales: subnormal, huge, the largest float */
    f = format_of(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR);
    f.k_tensor = 1e-40f;
    f.v_tensor = FLT_MAX;
    snprintf(name, sizeof name, "%s-valid-subnormal-and-max-scales",
             entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    f = format_of(KVA_DTYPE_INT8, KVA_SCALE_HEAD);
    for (int h = 0; h < FZM_MAX_HEADS; h++) {
        f.k_head[h] = h % 2 ? 1e30f : 0x1p-9f;
        f.v_head[h] = h % 2 ? FLT_MIN : 3.0f;
    }
    snprintf(name, sizeof name, "%s-valid-extreme-head-scales",
             entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_VALID);
    f = format_of(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP);
    f.groups = 2;
    f.k_tensor = 1e30f;
    f.v_tensor = 1e-30f;
    f.pool_layout = 2; /* raw strides */
    snprintf(name, sizeof name, "%s-valid-nvfp4-extreme-globals-raw-pool",
             entry_names[e]);
    contract_seed(e, -1, &f, name, WANT_NO_FAULT);
    /* the format corruptions */
    for (size_t i = 0; i < sizeof format_seeds / sizeof format_seeds[0]; i++) {
        f = format_of(format_seeds[i].dtype, format_seeds[i].scale_kind);
        snprintf(name, sizeof name, "%s-%s-%s-%s", entry_names[e],
                 corruption_names[format_seeds[i].kind],
                 dtype_names[format_seeds[i].dtype],
                 kind_names[format_seeds[i].scale_kind]);
        lower(name);
        contract_seed(e, format_seeds[i].kind, &f, name,
                      format_status(format_seeds[i].kind));
    }
}

/* ---- contract: calibration entry points ---- */

static void calib_seed(int entry, const char *name, const void *in)
{
    fz_io w;
    fz_writer_init(&w);
    int e = entry;
    fz_io_int(&w, &e, 0, FZC_ENTRY_COUNT - 1);
    if (entry == FZC_OBSERVE) {
        fzo_input copy = *(const fzo_input *)in, back;
        fzo_io(&w, &copy);
        fz_io r;
        fz_reader_init(&r, w.buf + 1, w.len - 1);
        fzo_io(&r, &back);
        if (memcmp(in, &back, sizeof back) != 0)
            die("an observe seed does not round-trip");
    } else {
        fzs_input copy = *(const fzs_input *)in, back;
        fzs_io(&w, &copy);
        fz_io r;
        fz_reader_init(&r, w.buf + 1, w.len - 1);
        fzs_io(&r, &back);
        if (memcmp(in, &back, sizeof back) != 0)
            die("a scale seed does not round-trip");
    }
    write_seed("contract", name, w.buf, w.len);
    fz_writer_free(&w);
}

static void seed_observe(void)
{
    fzo_input base, v;
    memset(&base, 0, sizeof base);
    base.num_kv_heads = 2;
    base.head_dim = 4;
    base.num_tokens = 3;
    base.range = 2.0f;
    base.seed = 17;
    calib_seed(FZC_OBSERVE, "observe-valid", &base);
    v = base;
    v.head_amax_on = 1;
    v.amax = 3.0f;
    v.head_amax[0] = 3.0f;
    v.head_amax[1] = 0x1p-23f;
    calib_seed(FZC_OBSERVE, "observe-valid-heads", &v);
    v = base;
    v.head_amax_on = 1;
    v.n_inject = 4;
    const float specials[] = {NAN, -INFINITY, -0.0f, FLT_MAX};
    for (int i = 0; i < 4; i++) {
        v.inject_pos[i] = (uint32_t)(5 * i + 1);
        v.inject_val[i] = specials[i];
    }
    calib_seed(FZC_OBSERVE, "observe-valid-nonfinite-ignored", &v);
    v = base;
    v.num_tokens = 0;
    v.null_mask = FZO_NULL_X;
    calib_seed(FZC_OBSERVE, "observe-valid-no-tokens-null-x", &v);
    v = base;
    v.range = 1e-40f;
    calib_seed(FZC_OBSERVE, "observe-valid-subnormal", &v);
    v = base;
    v.null_mask = FZO_NULL_OBS;
    calib_seed(FZC_OBSERVE, "observe-null-observer", &v);
    v = base;
    v.null_mask = FZO_NULL_X;
    calib_seed(FZC_OBSERVE, "observe-null-x", &v);
    v = base;
    v.num_tokens = -1;
    calib_seed(FZC_OBSERVE, "observe-negative-tokens", &v);
    v = base;
    v.num_kv_heads = 0;
    calib_seed(FZC_OBSERVE, "observe-zero-heads", &v);
    v = base;
    v.head_dim = -1;
    calib_seed(FZC_OBSERVE, "observe-negative-head-dim", &v);
    v = base;
    v.num_tokens = INT64_MAX;
    calib_seed(FZC_OBSERVE, "observe-size-overflow", &v);
    v = base;
    v.amax = NAN;
    calib_seed(FZC_OBSERVE, "observe-state-amax-nan", &v);
    v = base;
    v.amax = -1.0f;
    calib_seed(FZC_OBSERVE, "observe-state-amax-negative", &v);
    v = base;
    v.head_amax_on = 1;
    v.head_amax[1] = INFINITY;
    calib_seed(FZC_OBSERVE, "observe-state-head-amax-inf", &v);
    v = base;
    v.null_mask = FZO_NULL_ERR;
    v.amax = -0.0f;
    calib_seed(FZC_OBSERVE, "observe-state-amax-minus-zero-no-err", &v);
}

static void seed_scale(void)
{
    char name[96];
    static const float amaxes[] = {448.0f, 0.0f, 1e-40f, FLT_MAX, 127.5f,
                                   0x1p-23f};
    static const char *const amax_names[] = {"448", "0", "subnormal", "max",
                                             "127.5", "2^-23"};
    for (int d = KVA_DTYPE_F32; d <= KVA_DTYPE_NVFP4; d++)
        for (int i = 0; i < 6; i++) {
            if (d < KVA_DTYPE_FP8_E4M3 && i > 0)
                continue; /* one refusal per dtype without static scales */
            fzs_input in = {d, amaxes[i], 0};
            snprintf(name, sizeof name, "scale-%s-amax-%s", dtype_names[d],
                     amax_names[i]);
            calib_seed(FZC_SCALE, name, &in);
        }
    static const struct {
        const char *name;
        fzs_input in;
    } bad[] = {
        {"scale-dtype-minus-1", {-1, 1.0f, 0}},
        {"scale-dtype-past-enum", {KVA_DTYPE_NVFP4 + 1, 1.0f, 0}},
        {"scale-amax-nan", {KVA_DTYPE_FP8_E4M3, NAN, 0}},
        {"scale-amax-inf", {KVA_DTYPE_NVFP4, INFINITY, 0}},
        {"scale-amax-negative", {KVA_DTYPE_INT8, -1.0f, 0}},
        {"scale-amax-minus-zero", {KVA_DTYPE_FP8_E5M2, -0.0f, 0}},
        {"scale-null-scale", {KVA_DTYPE_FP8_E4M3, 1.0f, FZS_NULL_SCALE}},
        {"scale-null-err-refused", {KVA_DTYPE_F16, 1.0f, FZS_NULL_ERR}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        calib_seed(FZC_SCALE, bad[i].name, &bad[i].in);
}

static void seed_contract(void)
{
    clear_seeds("contract");
    char name[160];
    const fzm_format f32 = format_of(KVA_DTYPE_F32, KVA_SCALE_NONE);
    for (int e = 0; e < 3; e++) {
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s-valid-%d", entry_names[e], k);
            contract_seed(e, -1, &f32, name, k < 2 ? WANT_VALID : WANT_ANY);
        }
        for (int x = 0; x < X_COUNT; x++) {
            if (!(corruption_entries[x] & (1u << e)) || FZC_IS_FORMAT(x))
                continue;
            snprintf(name, sizeof name, "%s-%s", entry_names[e],
                     corruption_names[x]);
            lower(name);
            contract_seed(e, x, &f32, name, WANT_REFUSAL);
        }
        seed_contract_formats(e);
    }
    for (int i = 0; i < n_qseeds; i++) {
        fz_io w;
        fz_writer_init(&w);
        int e = FZC_QEFF;
        fz_io_int(&w, &e, 0, FZC_ENTRY_COUNT - 1);
        fzq_input copy = qseeds[i].in;
        fzq_io(&w, &copy);
        snprintf(name, sizeof name, "qeff-%.95s", qseeds[i].name);
        write_seed("contract", name, w.buf, w.len);
        fz_writer_free(&w);
    }
    seed_observe();
    seed_scale();
}

/* ---- golden_parse ---- */

/* A tiny valid test (Hq 2, Hkv 1, D 4, B 4): golden files stay a few KB. */
static void golden_tiny_test(kvc_mode mode, int variant, int tc_id,
                             kvc_golden_test *t)
{
    kvc_case_spec spec = kvc_named_base(mode);
    spec.cfg = (kvc_config){2, 1, 4, 0.5f, 0.0f, 1, KVC_NO_WINDOW};
    spec.block_size = 4;
    spec.extra_blocks = 1;
    spec.num_seqs = 1;
    spec.ctx_len[0] = 5;
    spec.q_len[0] = 1;
    if (mode == KVC_MODE_BLOCKED) {
        spec.cache_len = 8;
        spec.num_kv_blocks = 3;
    }
    if (mode == KVC_MODE_QEFF)
        spec.qeff_max_q = 4;
    if (variant == 1) { /* mask, window, padding, two sequences */
        spec.num_seqs = 2;
        spec.ctx_len[1] = 0;
        spec.q_len[1] = 3;
        spec.mask = KVC_MASK_EMPTY_ROWS;
        spec.cfg.window_left = 2;
        spec.pad_tokens = 1;
        spec.hnd = 1;
        spec.cfg.softcap = 5.0f;
    }
    memset(t, 0, sizeof *t);
    char err[256];
    if (kvc_case_build(&spec, 11, &t->c, err, sizeof err) != 0)
        die(err);
    t->tc_id = tc_id;
    snprintf(t->comment, sizeof t->comment, "fuzz seed: %s variant %d",
             kvc_mode_name(mode), variant);
    t->flags = t->c.flags;
    t->result = KVC_EXPECT_VALID;
    if (kvc_golden_expect(t, err, sizeof err) != 0)
        die(err);
}

static void seed_golden(void)
{
    clear_seeds("golden_parse");
    static const int groups[][2][2] = { /* {mode, variant} x up to 2 */
        {{KVC_MODE_PAGED, 0}, {-1, 0}},
        {{KVC_MODE_PAGED, 0}, {KVC_MODE_PAGED, 1}},
        {{KVC_MODE_BLOCKED, 0}, {-1, 0}},
        {{KVC_MODE_QEFF, 0}, {KVC_MODE_QEFF, 1}},
    };
    static const char *const file_names[] = {"paged", "paged-mixed",
                                             "blocked", "qeff"};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        kvc_golden_test tests[2];
        int n = 0;
        for (int i = 0; i < 2 && groups[g][i][0] >= 0; i++, n++)
            golden_tiny_test((kvc_mode)groups[g][i][0], groups[g][i][1], n + 1,
                             &tests[n]);
        kvc_golden_file f;
        memset(&f, 0, sizeof f);
        snprintf(f.generator, sizeof f.generator, "kvcheck make_seeds");
        snprintf(f.oracle_version, sizeof f.oracle_version, "%s",
                 KVC_ORACLE_VERSION);
        f.num_tests = n;
        f.tests = tests;
        char err[512];
        char *json = kvc_golden_to_json(&f, err, sizeof err);
        if (!json) {
            fprintf(stderr, "make_seeds: golden writer: %s\n", err);
            exit(1);
        }
        size_t len = strlen(json);
        char name[128];
        snprintf(name, sizeof name, "%s.json", file_names[g]);
        write_seed("golden_parse", name, (const uint8_t *)json, len);
        if (g == 0) {
            /* broken variants of the first file */
            snprintf(name, sizeof name, "%s-truncated.json", file_names[g]);
            write_seed("golden_parse", name, (const uint8_t *)json, len / 2);
            char *bad = strdup(json);
            char *p = strstr(bad, "\"schemaVersion\": 1");
            if (p)
                p[strlen("\"schemaVersion\": ")] = '7';
            snprintf(name, sizeof name, "%s-bad-version.json", file_names[g]);
            write_seed("golden_parse", name, (const uint8_t *)bad, len);
            free(bad);
        }
        free(json);
        for (int i = 0; i < n; i++)
            kvc_golden_test_free(&tests[i]);
    }
    static const char *const snippets[] = {
        "{}",
        "{\"schema\": \"kvcheck-attention-golden\", \"schemaVersion\": 1}",
        "[1, 2, {\"a\": null}]",
        "{\"schema\": \"kvcheck-attention-golden\", \"schemaVersion\": 1, "
        "\"generator\": \"x\", \"oracleVersion\": \"kvcheck-oracle-1\", "
        "\"numberOfTests\": 0, \"header\": [], \"encoding\": \"\", "
        "\"notes\": {}, \"testGroups\": []}",
    };
    for (size_t i = 0; i < sizeof snippets / sizeof snippets[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "snippet-%zu.json", i);
        write_seed("golden_parse", name, (const uint8_t *)snippets[i],
                   strlen(snippets[i]));
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    corpus_root = argv[1];
    ensure_dir(corpus_root);
    seed_crosscheck();
    build_qeff_seeds();
    seed_qeff();
    seed_contract();
    seed_golden();
    printf("make_seeds: wrote %d seeds under %s\n", n_written, corpus_root);
    return 0;
}
