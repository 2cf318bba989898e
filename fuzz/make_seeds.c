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
 *   contract     per entry point, valid bases and one seed per applicable
 *                corruption kind (fuzz_contract.h): the header bytes that
 *                select them, then a fixed pseudo-random tail; plus the
 *                qeff seeds behind the qeff entry byte;
 *   golden_parse small golden files written by the golden writer for a few
 *                named cases, and broken variants of them.
 *
 * Usage: make_seeds CORPUS_DIR   (existing seed-* files there are replaced;
 * regress-* files are kept).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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

static void contract_seed(int entry, int kind, const char *name)
{
    fz_io w;
    fz_writer_init(&w);
    int e = entry;
    fz_io_int(&w, &e, 0, FZC_ENTRY_COUNT - 1);
    int sel = kind < 0 ? 0 : 100; /* none / one corruption */
    fz_io_int(&w, &sel, 0, 255);
    if (kind >= 0)
        fz_io_int(&w, &kind, 0, X_COUNT - 1);
    uint64_t st = fnv1a(name);
    uint8_t tail[TAIL_LEN];
    for (int i = 0; i < TAIL_LEN; i++)
        tail[i] = (uint8_t)fz_splitmix64(&st);
    fz_io_bytes(&w, tail, TAIL_LEN);
    write_seed("contract", name, w.buf, w.len);
    fz_writer_free(&w);
}

static void seed_contract(void)
{
    clear_seeds("contract");
    char name[160];
    for (int e = 0; e < 3; e++) {
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s-valid-%d", entry_names[e], k);
            contract_seed(e, -1, name);
        }
        for (int x = 0; x < X_COUNT; x++) {
            if (!(corruption_entries[x] & (1u << e)))
                continue;
            snprintf(name, sizeof name, "%s-%s", entry_names[e],
                     corruption_names[x]);
            for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            contract_seed(e, x, name);
        }
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
