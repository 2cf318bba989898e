/*
 * golden_cache_read.c — reading a cache golden file (golden_cache.h):
 * every field checked (type, range, array lengths against the config);
 * a bad one is refused with the file, tcId, step and field named.
 */
#include "golden_cache_internal.h"
#include "golden_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"
#include "../oracle/model_say.h"

/* Where a refusal is: the field, set before each check. */
typedef struct where {
    const char *field;
} where;

int kvc_cache_golden_is(const char *path)
{
    return kvcg_file_has_schema(path, KVC_CACHE_SCHEMA);
}

/* ---- fields ------------------------------------------------------------------ */

static int int_of(const cJSON *x, int64_t lo, int64_t hi, int64_t *v)
{
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
        x->valuedouble < (double)lo || x->valuedouble > (double)hi)
        return -1;
    *v = (int64_t)x->valuedouble;
    return 0;
}

static int int_field(const cJSON *o, where *w, const char *key, int lo, int hi,
                     int *v)
{
    int64_t x;
    w->field = key;
    if (int_of(cJSON_GetObjectItemCaseSensitive(o, key), lo, hi, &x))
        return -1;
    *v = (int)x;
    return 0;
}

/* Array a of exactly n integers in [lo, hi] into i64 or i32. */
static int int_list(const cJSON *a, int64_t n, int64_t lo, int64_t hi,
                    int64_t *i64, int *i32)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return -1;
    int64_t i = 0, v;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (int_of(e, lo, hi, &v))
            return -1;
        if (i64)
            i64[i] = v;
        else
            i32[i] = (int)v;
        i++;
    }
    return 0;
}

/* A weight or score: a number, or "nan", "inf", "-inf". */
static int weight_of(const cJSON *x, float *f)
{
    if (cJSON_IsNumber(x)) {
        *f = (float)x->valuedouble;
        return (double)*f == x->valuedouble ? 0 : -1; /* exact in fp32 */
    }
    if (!cJSON_IsString(x))
        return -1;
    if (strcmp(x->valuestring, "nan") == 0)
        *f = NAN;
    else if (strcmp(x->valuestring, "inf") == 0)
        *f = INFINITY;
    else if (strcmp(x->valuestring, "-inf") == 0)
        *f = -INFINITY;
    else
        return -1;
    return 0;
}

/* rows x cols: integers in [lo, hi] (i64) or weights (f32). */
static int matrix(const cJSON *a, int64_t rows, int cols, int64_t lo, int64_t hi,
                  int64_t *i64, float *f32)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != rows)
        return -1;
    int64_t r = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, a)
    {
        if (i64) {
            if (int_list(row, cols, lo, hi, i64 + r * cols, NULL))
                return -1;
        } else {
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != cols)
                return -1;
            int c = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, row)
            if (weight_of(e, &f32[r * cols + c++]))
                return -1;
        }
        r++;
    }
    return 0;
}

static int status_field(const cJSON *o, where *w, kva_status *st)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "status");
    w->field = "status";
    if (!cJSON_IsString(x))
        return -1;
    for (int s = KVA_OK; s <= KVA_ERR_FULL; s++)
        if (strcmp(x->valuestring, kvc_model_status_name((kva_status)s)) == 0) {
            *st = (kva_status)s;
            return 0;
        }
    return -1;
}

static int op_field(kvc_cache_kind kind, const cJSON *o, where *w, int *op)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "op");
    int n = kind == KVC_CACHE_MANAGER ? KVC_BM_OP_KINDS : KVC_POLICY_OP_KINDS;
    w->field = "op";
    for (int k = 0; cJSON_IsString(x) && k < n; k++)
        if (strcmp(x->valuestring, kvc_cache_op_name(kind, k)) == 0) {
            *op = k;
            return 0;
        }
    return -1;
}

static void *alloc_n(int64_t n, size_t size)
{
    return malloc((size_t)(n > 0 ? n : 1) * size);
}

/* ---- manager steps ---------------------------------------------------------------- */

static int bm_state(const cJSON *o, const kva_bm_config *c, kvc_cache_step *s,
                    where *w)
{
    int R = c->max_blocks_per_seq, B = c->block_size;
    s->lengths = alloc_n(c->max_seqs, sizeof(int64_t));
    s->rows = alloc_n((int64_t)c->max_seqs * R, sizeof(int));
    s->refs = alloc_n(c->num_blocks, sizeof(int));
    w->field = "lengths";
    if (!s->lengths || !s->rows || !s->refs ||
        int_list(cJSON_GetObjectItemCaseSensitive(o, "lengths"), c->max_seqs, -1,
                 (int64_t)R * B, s->lengths, NULL))
        return -1;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    w->field = "rows";
    if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) != c->max_seqs)
        return -1;
    for (int q = 0; q < c->max_seqs; q++) {
        int64_t len = s->lengths[q], nb = len <= 0 ? 0 : (len + B - 1) / B;
        int *row = s->rows + (size_t)q * (size_t)R;
        for (int k = 0; k < R; k++)
            row[k] = -1;
        if (int_list(cJSON_GetArrayItem(rows, q), nb, 0, c->num_blocks - 1,
                     NULL, row))
            return -1;
    }
    w->field = "refCounts";
    if (int_list(cJSON_GetObjectItemCaseSensitive(o, "refCounts"), c->num_blocks,
                 0, c->max_seqs, NULL, s->refs))
        return -1;
    return int_field(o, w, "numFree", 0, c->num_blocks, &s->num_free);
}

static int bm_append_fields(const cJSON *o, const kva_bm_config *c,
                            kvc_cache_step *s, where *w)
{
    int n = s->n > 0 ? s->n : 0;
    s->tokens = alloc_n(n, sizeof(int32_t));
    int64_t *tok = alloc_n(n, sizeof(int64_t));
    w->field = "tokens";
    int bad = !s->tokens || !tok ||
              int_list(cJSON_GetObjectItemCaseSensitive(o, "tokens"), n,
                       INT32_MIN, INT32_MAX, tok, NULL);
    for (int i = 0; !bad && i < n; i++)
        s->tokens[i] = (int32_t)tok[i];
    free(tok);
    if (bad || s->status != KVA_OK)
        return bad ? -1 : 0;
    s->slots = alloc_n(n, sizeof(int64_t));
    w->field = "slots";
    if (!s->slots || int_list(cJSON_GetObjectItemCaseSensitive(o, "slots"), n, -1,
                              (int64_t)c->num_blocks * c->block_size - 1,
                              s->slots, NULL))
        return -1;
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(o, "copies");
    int64_t pair[2];
    w->field = "copies";
    if (!cJSON_IsArray(cp) || cJSON_GetArraySize(cp) > 1)
        return -1;
    s->num_copies = cJSON_GetArraySize(cp);
    if (s->num_copies && matrix(cp, 1, 2, 0, c->num_blocks - 1, pair, NULL))
        return -1;
    s->copy.src = s->num_copies ? (int)pair[0] : 0;
    s->copy.dst = s->num_copies ? (int)pair[1] : 0;
    return 0;
}

static int bm_step(const cJSON *o, const kva_bm_config *c, kvc_cache_step *s,
                   where *w)
{
    if (op_field(KVC_CACHE_MANAGER, o, w, &s->op) ||
        int_field(o, w, "seq", -KVC_CACHE_MAX_DIM, KVC_CACHE_MAX_DIM, &s->seq) ||
        status_field(o, w, &s->status))
        return -1;
    if (s->op == KVC_BM_FORK &&
        int_field(o, w, "other", -KVC_CACHE_MAX_DIM, KVC_CACHE_MAX_DIM, &s->other))
        return -1;
    if ((s->op == KVC_BM_APPEND || s->op == KVC_BM_ROLLBACK) &&
        int_field(o, w, "n", -KVC_CACHE_MAX_APPEND, KVC_CACHE_MAX_APPEND, &s->n))
        return -1;
    if (s->op == KVC_BM_APPEND && bm_append_fields(o, c, s, w))
        return -1;
    return bm_state(o, c, s, w);
}

/* ---- policy steps ------------------------------------------------------------------- */

static int policy_step(const cJSON *o, const kva_policy_config *c,
                       kvc_cache_step *s, where *w)
{
    int H = c->num_kv_heads, L = c->num_slots;
    if (op_field(KVC_CACHE_POLICY, o, w, &s->op) || status_field(o, w, &s->status))
        return -1;
    if (s->op == KVC_POLICY_OBSERVE) {
        s->weights = alloc_n((int64_t)H * L, sizeof(float));
        w->field = "weights";
        if (!s->weights || matrix(cJSON_GetObjectItemCaseSensitive(o, "weights"),
                                  H, L, 0, 0, NULL, s->weights))
            return -1;
    } else {
        if (int_field(o, w, "n", -KVC_CACHE_MAX_APPEND, KVC_CACHE_MAX_APPEND, &s->n))
            return -1;
        if (s->status == KVA_OK) {
            s->slots = alloc_n((int64_t)s->n * H, sizeof(int64_t));
            w->field = "slots";
            if (!s->slots || matrix(cJSON_GetObjectItemCaseSensitive(o, "slots"),
                                    s->n, H, -1, L - 1, s->slots, NULL))
                return -1;
        }
    }
    s->positions = alloc_n((int64_t)H * L, sizeof(int64_t));
    s->scores = alloc_n((int64_t)H * L, sizeof(float));
    w->field = "positions";
    if (!s->positions || !s->scores ||
        matrix(cJSON_GetObjectItemCaseSensitive(o, "positions"), H, L, -1,
               INT32_MAX, s->positions, NULL))
        return -1;
    w->field = "scores";
    return matrix(cJSON_GetObjectItemCaseSensitive(o, "scores"), H, L, 0, 0,
                  NULL, s->scores);
}

/* ---- configs and tests ---------------------------------------------------------------- */

static int config(kvc_cache_kind kind, const cJSON *o, kvc_cache_test *t, where *w)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "config");
    w->field = "config";
    if (!cJSON_IsObject(c))
        return -1;
    const int M = KVC_CACHE_MAX_DIM;
    if (kind == KVC_CACHE_MANAGER)
        return int_field(c, w, "numBlocks", 1, M, &t->bm.num_blocks) ||
               int_field(c, w, "blockSize", 1, M, &t->bm.block_size) ||
               int_field(c, w, "maxSeqs", 1, M, &t->bm.max_seqs) ||
               int_field(c, w, "maxBlocksPerSeq", 1, M, &t->bm.max_blocks_per_seq) ||
               int_field(c, w, "prefixSharing", 0, 1, &t->bm.prefix_sharing)
                   ? -1 : 0;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(c, "kind");
    static const char *const kinds[] = {"dense", "recent", "h2o"};
    w->field = "config.kind";
    int kk = -1;
    for (int i = 0; i < 3 && cJSON_IsString(k); i++)
        if (strcmp(k->valuestring, kinds[i]) == 0)
            kk = i;
    if (kk < 0)
        return -1;
    t->pol.kind = (kva_policy_kind)kk;
    if (int_field(c, w, "numSlots", 1, M, &t->pol.num_slots) ||
        int_field(c, w, "numKvHeads", 1, M, &t->pol.num_kv_heads))
        return -1;
    int hi = t->pol.num_slots - 1;
    return int_field(c, w, "sinks", 0, kk == KVA_POLICY_RECENT ? hi : 0, &t->pol.sinks) ||
           int_field(c, w, "recent", 0, kk == KVA_POLICY_H2O ? hi : 0, &t->pol.recent)
               ? -1 : 0;
}

/* Read test object o into t; on a refusal *step is the step (-1: none). */
static int read_test(kvc_cache_kind kind, const cJSON *o, kvc_cache_test *t,
                     where *w, int *step)
{
    *step = -1;
    t->tc_id = 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "comment"),
                *fl = cJSON_GetObjectItemCaseSensitive(o, "flags"),
                *steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
    if (int_field(o, w, "tcId", 1, 1 << 30, &t->tc_id) ||
        (w->field = "comment", !cJSON_IsString(c)) ||
        (w->field = "flags", !cJSON_IsString(fl)) || config(kind, o, t, w) ||
        (w->field = "steps", !cJSON_IsArray(steps)) ||
        cJSON_GetArraySize(steps) > KVC_CACHE_MAX_STEPS)
        return -1;
    snprintf(t->comment, sizeof t->comment, "%s", c->valuestring);
    snprintf(t->flags, sizeof t->flags, "%s", fl->valuestring);
    const cJSON *so;
    cJSON_ArrayForEach(so, steps)
    {
        kvc_cache_step *s = kvcc_add_step(t);
        *step = t->num_steps - 1;
        w->field = "(out of memory)";
        if (!s)
            return -1;
        w->field = "(not an object)";
        if (!cJSON_IsObject(so) ||
            (kind == KVC_CACHE_MANAGER ? bm_step(so, &t->bm, s, w)
                                       : policy_step(so, &t->pol, s, w)))
            return -1;
    }
    return 0;
}

/* The top level: schema, version, kind, numberOfTests against tests. */
static const char *top_level(const cJSON *root, kvc_cache_kind *kind)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "schema"),
                *v = cJSON_GetObjectItemCaseSensitive(root, "schemaVersion"),
                *k = cJSON_GetObjectItemCaseSensitive(root, "kind"),
                *n = cJSON_GetObjectItemCaseSensitive(root, "numberOfTests"),
                *tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
    if (!cJSON_IsString(s) || strcmp(s->valuestring, KVC_CACHE_SCHEMA) != 0)
        return "schema";
    if (!cJSON_IsNumber(v) || v->valuedouble != KVC_CACHE_SCHEMA_VERSION)
        return "schemaVersion";
    if (!cJSON_IsString(k) || (strcmp(k->valuestring, "manager") != 0 &&
                               strcmp(k->valuestring, "policy") != 0))
        return "kind";
    *kind = strcmp(k->valuestring, "manager") == 0 ? KVC_CACHE_MANAGER
                                                   : KVC_CACHE_POLICY;
    if (!cJSON_IsArray(tests))
        return "tests";
    if (!cJSON_IsNumber(n) || n->valuedouble != cJSON_GetArraySize(tests))
        return "numberOfTests";
    return NULL;
}

int kvc_cache_golden_parse(const char *text, size_t len, const char *name,
                           kvc_cache_file *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const char *bad = root ? top_level(root, &f->kind) : "(not JSON)";
    if (bad) {
        snprintf(err, errlen, "%s: not a %s file of version %d: bad or missing "
                 "%s", name, KVC_CACHE_SCHEMA, KVC_CACHE_SCHEMA_VERSION, bad);
        cJSON_Delete(root);
        memset(f, 0, sizeof *f);
        return -1;
    }
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests"), *o;
    int i = 0;
    cJSON_ArrayForEach(o, tests)
    {
        where w = {""};
        int step = -1;
        kvc_cache_test *t = kvcc_add_test(f, "", "", NULL, NULL);
        if (!t || read_test(f->kind, o, t, &w, &step)) {
            char at[64] = "";
            if (step >= 0)
                snprintf(at, sizeof at, " step %d", step);
            snprintf(err, errlen, "%s: tests[%d] (tcId %d)%s: bad or missing %s",
                     name, i, t ? t->tc_id : 0, at, t ? w.field : "(out of memory)");
            cJSON_Delete(root);
            kvc_cache_golden_free(f);
            memset(f, 0, sizeof *f);
            return -1;
        }
        i++;
    }
    cJSON_Delete(root);
    return 0;
}

int kvc_cache_golden_read(const char *path, kvc_cache_file *f, char *err,
                          size_t errlen)
{
    memset(f, 0, sizeof *f);
    size_t len;
    char *text = kvcg_read_text(path, &len, err, errlen);
    if (!text)
        return -1;
    int rc = kvc_cache_golden_parse(text, len, path, f, err, errlen);
    free(text);
    return rc;
}
