/* golden_merge.c — golden vectors for kva_merge_states (golden_merge.h). */
#include "golden_merge.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/merge.h"
#include "golden_internal.h"

/* ---- the standard set -------------------------------------------------- */

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1) on a 2^-24 grid: exact in fp32. */
static float unit(uint64_t *s)
{
    return (float)((double)(mix(s) >> 40) * 0x1p-23 - 1.0);
}

/* How one test's lse values are chosen. */
typedef enum shape {
    SHAPE_RANDOM,      /* lse in [-4, 4) */
    SHAPE_EQUAL,       /* every part the same lse */
    SHAPE_EMPTY_SOME,  /* part 1 empty in every row */
    SHAPE_EMPTY_ROWS,  /* some rows with every part empty */
    SHAPE_GAP,         /* one part 120 above the others: exp underflows */
    SHAPE_LARGE,       /* lse near 1e4: the max must be subtracted */
    SHAPE_NEG_LARGE,   /* lse near -1e4 */
    SHAPE_SUBNORMAL    /* outputs in fp32's subnormal range */
} shape;

typedef struct spec {
    const char *comment, *flags;
    int parts, head_dim;
    int64_t rows;
    shape sh;
} spec;

static const spec specs[] = {
    {"one part: the merge is that part", "single_part", 1, 4, 3, SHAPE_RANDOM},
    {"two parts with equal lse: the mean", "equal_lse", 2, 4, 3, SHAPE_EQUAL},
    {"random parts", "random", 4, 8, 6, SHAPE_RANDOM},
    {"an empty part (lse -inf, out NaN) contributes nothing, never NaN",
     "empty_part", 3, 4, 4, SHAPE_EMPTY_SOME},
    {"rows whose parts are all empty: out 0, lse -inf exactly",
     "empty_part all_empty", 3, 4, 4, SHAPE_EMPTY_ROWS},
    {"one part 120 above the others: their weights underflow", "lse_gap", 3, 4,
     3, SHAPE_GAP},
    {"lse near 1e4: exp overflows unless the largest is subtracted",
     "large_lse", 3, 4, 3, SHAPE_LARGE},
    {"lse near -1e4", "large_lse", 3, 4, 3, SHAPE_NEG_LARGE},
    {"sixteen parts", "many_parts", 16, 4, 2, SHAPE_RANDOM},
    {"outputs in fp32's subnormal range", "subnormal", 2, 4, 2, SHAPE_SUBNORMAL},
    {"one row, head_dim 1", "random", 2, 1, 1, SHAPE_RANDOM},
};

static float lse_of(const spec *sp, uint64_t *s, int p, int64_t r)
{
    switch (sp->sh) {
    case SHAPE_EQUAL: return 0.75f;
    case SHAPE_EMPTY_SOME: return p == 1 ? -INFINITY : 4.0f * unit(s);
    case SHAPE_EMPTY_ROWS: return r % 2 ? -INFINITY : 4.0f * unit(s);
    case SHAPE_GAP: return p == 0 ? 120.0f : unit(s);
    case SHAPE_LARGE: return 1e4f + 8.0f * unit(s);
    case SHAPE_NEG_LARGE: return -1e4f + 8.0f * unit(s);
    default: return 4.0f * unit(s);
    }
}

static int fill_test(const spec *sp, int id, uint64_t *s, kvc_merge_test *t)
{
    memset(t, 0, sizeof *t);
    t->tc_id = id;
    snprintf(t->comment, sizeof t->comment, "%s", sp->comment);
    snprintf(t->flags, sizeof t->flags, "%s", sp->flags);
    t->parts = sp->parts;
    t->head_dim = sp->head_dim;
    t->rows = sp->rows;
    size_t n = (size_t)(sp->rows * sp->head_dim);
    for (int p = 0; p < sp->parts; p++) {
        t->part_out[p] = malloc(n * sizeof(float));
        t->part_lse[p] = malloc((size_t)sp->rows * sizeof(float));
        if (!t->part_out[p] || !t->part_lse[p])
            return -1;
        for (int64_t r = 0; r < sp->rows; r++) {
            float l = lse_of(sp, s, p, r);
            t->part_lse[p][r] = l;
            for (int d = 0; d < sp->head_dim; d++) {
                float o = 3.0f * unit(s);
                if (sp->sh == SHAPE_SUBNORMAL)
                    o *= 0x1p-130f;
                /* an empty part's out is garbage a merge must not read */
                t->part_out[p][r * sp->head_dim + d] = l == -INFINITY ? NAN : o;
            }
        }
    }
    t->out = malloc(n * sizeof(double));
    t->lse = malloc((size_t)sp->rows * sizeof(double));
    t->tol_out = malloc(n * sizeof(double));
    t->tol_lse = malloc((size_t)sp->rows * sizeof(double));
    if (!t->out || !t->lse || !t->tol_out || !t->tol_lse)
        return -1;
    kvc_merge_exact((const float *const *)t->part_out,
                    (const float *const *)t->part_lse, t->parts, t->rows,
                    t->head_dim, t->out, t->lse);
    double *dout[KVC_MERGE_MAX_PARTS_FILE];
    for (int p = 0; p < t->parts; p++) {
        dout[p] = malloc(n * sizeof(double));
        if (!dout[p]) {
            while (p-- > 0)
                free(dout[p]);
            return -1;
        }
        for (size_t e = 0; e < n; e++)
            dout[p][e] = t->part_out[p][e];
    }
    for (int64_t r = 0; r < t->rows; r++) {
        double lrow[KVC_MERGE_MAX_PARTS_FILE];
        for (int p = 0; p < t->parts; p++)
            lrow[p] = t->part_lse[p][r];
        for (int d = 0; d < t->head_dim; d++)
            t->tol_out[r * t->head_dim + d] = kvc_merge_allowed_out(
                (const double *const *)dout, lrow, t->parts, r, t->head_dim, d,
                t->lse[r]);
        t->tol_lse[r] = kvc_merge_allowed_lse(lrow, t->parts, t->lse[r]);
    }
    for (int p = 0; p < t->parts; p++)
        free(dout[p]);
    return 0;
}

int kvc_merge_golden_standard(kvc_merge_file *f)
{
    int n = (int)(sizeof specs / sizeof specs[0]);
    f->tests = calloc((size_t)n, sizeof *f->tests);
    f->num_tests = 0;
    if (!f->tests)
        return -1;
    uint64_t s = 0x6d657267652d676fULL; /* "merge-go" */
    for (int i = 0; i < n; i++) {
        f->num_tests = i + 1;
        if (fill_test(&specs[i], i + 1, &s, &f->tests[i]) != 0) {
            kvc_merge_golden_free(f);
            return -1;
        }
    }
    return 0;
}

void kvc_merge_golden_free(kvc_merge_file *f)
{
    for (int i = 0; f->tests && i < f->num_tests; i++) {
        kvc_merge_test *t = &f->tests[i];
        for (int p = 0; p < KVC_MERGE_MAX_PARTS_FILE; p++) {
            free(t->part_out[p]);
            free(t->part_lse[p]);
        }
        free(t->out);
        free(t->lse);
        free(t->tol_out);
        free(t->tol_lse);
    }
    free(f->tests);
    f->tests = NULL;
    f->num_tests = 0;
}

/* ---- writing ----------------------------------------------------------- */

/* "%a" spells every double exactly; infinities and NaN as words. */
static cJSON *hex_number(double x)
{
    char buf[48];
    if (isnan(x))
        snprintf(buf, sizeof buf, "nan");
    else if (isinf(x))
        snprintf(buf, sizeof buf, "%sinf", x < 0 ? "-" : "");
    else
        snprintf(buf, sizeof buf, "%a", x);
    return cJSON_CreateString(buf);
}

/* n numbers of f32 (when not NULL) or else f64, as hex strings. */
static cJSON *hex_array(const float *f32, const double *f64, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, hex_number(f32 ? f32[i] : f64[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *test_object(const kvc_merge_test *t)
{
    cJSON *o = cJSON_CreateObject(), *po = cJSON_CreateArray(),
          *pl = cJSON_CreateArray();
    int64_t n = t->rows * t->head_dim;
    int bad = !o || !po || !pl;
    for (int p = 0; !bad && p < t->parts; p++)
        bad = !cJSON_AddItemToArray(po, hex_array(t->part_out[p], NULL, n)) ||
              !cJSON_AddItemToArray(pl, hex_array(t->part_lse[p], NULL, t->rows));
    bad = bad || !cJSON_AddNumberToObject(o, "tcId", t->tc_id) ||
          !cJSON_AddStringToObject(o, "comment", t->comment) ||
          !cJSON_AddStringToObject(o, "flags", t->flags) ||
          !cJSON_AddNumberToObject(o, "parts", t->parts) ||
          !cJSON_AddNumberToObject(o, "rows", (double)t->rows) ||
          !cJSON_AddNumberToObject(o, "headDim", t->head_dim) ||
          !cJSON_AddItemToObject(o, "partOut", po) ||
          !cJSON_AddItemToObject(o, "partLse", pl);
    if (bad) {
        cJSON_Delete(po);
        cJSON_Delete(pl);
        cJSON_Delete(o);
        return NULL;
    }
    if (!cJSON_AddItemToObject(o, "out", hex_array(NULL, t->out, n)) ||
        !cJSON_AddItemToObject(o, "lse", hex_array(NULL, t->lse, t->rows)) ||
        !cJSON_AddItemToObject(o, "tolOut", hex_array(NULL, t->tol_out, n)) ||
        !cJSON_AddItemToObject(o, "tolLse", hex_array(NULL, t->tol_lse, t->rows))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char notes[] =
    "Each test: the parts' states as a kernel hands them to kva_merge_states "
    "(partOut [parts][rows*headDim], partLse [parts][rows], fp32, natural "
    "log, -inf for an empty part whose out is NaN and must not be read), the "
    "exact merge (out, lse; double) and the allowed error of each value "
    "(tolOut, tolLse; 0: exact). Numbers are hexadecimal float strings. A "
    "kernel passes a test when |got - expected| <= tol for every value, and "
    "got == expected for an exact -inf lse or a 0 allowed.";

int kvc_merge_golden_write(const kvc_merge_file *f, const char *path,
                           char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject(), *tests = cJSON_CreateArray();
    int bad = !root || !tests ||
              !cJSON_AddStringToObject(root, "schema", KVC_MERGE_SCHEMA) ||
              !cJSON_AddNumberToObject(root, "schemaVersion",
                                       KVC_MERGE_SCHEMA_VERSION) ||
              !cJSON_AddStringToObject(root, "notes", notes);
    for (int i = 0; !bad && i < f->num_tests; i++)
        bad = !cJSON_AddItemToArray(tests, test_object(&f->tests[i]));
    if (bad || !cJSON_AddItemToObject(root, "tests", tests)) {
        if (bad)
            cJSON_Delete(tests);
        cJSON_Delete(root);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    return kvcg_write_json(path, root, err, errlen);
}

/* ---- reading ----------------------------------------------------------- */

int kvc_merge_golden_is(const char *path)
{
    return kvcg_file_has_schema(path, KVC_MERGE_SCHEMA);
}

/* n hex numbers of array a into dst (as float or double). */
static int read_numbers(const cJSON *a, int64_t n, float *f32, double *f64)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return -1;
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e))
            return -1;
        char *end;
        double x = strtod(e->valuestring, &end);
        if (end == e->valuestring || *end != '\0')
            return -1;
        if (f32)
            f32[i] = (float)x;
        else
            f64[i] = x;
        i++;
    }
    return 0;
}

static int int_field(const cJSON *o, const char *key, int lo, int hi, int *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || x->valuedouble != (int)x->valuedouble ||
        x->valuedouble < lo || x->valuedouble > hi)
        return -1;
    *v = (int)x->valuedouble;
    return 0;
}

static int read_test(const cJSON *o, kvc_merge_test *t, const char **what)
{
    int rows;
    memset(t, 0, sizeof *t);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "comment"),
                *fl = cJSON_GetObjectItemCaseSensitive(o, "flags");
    if ((*what = "tcId", int_field(o, "tcId", 1, 1 << 30, &t->tc_id)) ||
        (*what = "parts", int_field(o, "parts", 1, KVC_MERGE_MAX_PARTS_FILE,
                                    &t->parts)) ||
        (*what = "rows", int_field(o, "rows", 0, 1 << 20, &rows)) ||
        (*what = "headDim", int_field(o, "headDim", 1, 1 << 16, &t->head_dim)) ||
        (*what = "comment", !cJSON_IsString(c)) ||
        (*what = "flags", !cJSON_IsString(fl)))
        return -1;
    t->rows = rows;
    snprintf(t->comment, sizeof t->comment, "%s", c->valuestring);
    snprintf(t->flags, sizeof t->flags, "%s", fl->valuestring);
    int64_t n = t->rows * t->head_dim;
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(o, "partOut"),
                *pl = cJSON_GetObjectItemCaseSensitive(o, "partLse");
    *what = "partOut/partLse";
    if (cJSON_GetArraySize(po) != t->parts || cJSON_GetArraySize(pl) != t->parts)
        return -1;
    for (int p = 0; p < t->parts; p++) {
        t->part_out[p] = malloc((size_t)(n ? n : 1) * sizeof(float));
        t->part_lse[p] = malloc((size_t)(rows ? rows : 1) * sizeof(float));
        if (!t->part_out[p] || !t->part_lse[p] ||
            read_numbers(cJSON_GetArrayItem(po, p), n, t->part_out[p], NULL) ||
            read_numbers(cJSON_GetArrayItem(pl, p), rows, t->part_lse[p], NULL))
            return -1;
    }
    struct { const char *key; double **dst; int64_t n; } arrays[] = {
        {"out", &t->out, n}, {"lse", &t->lse, rows},
        {"tolOut", &t->tol_out, n}, {"tolLse", &t->tol_lse, rows}};
    for (size_t i = 0; i < 4; i++) {
        *what = arrays[i].key;
        *arrays[i].dst = malloc((size_t)(arrays[i].n ? arrays[i].n : 1) *
                                sizeof(double));
        if (!*arrays[i].dst ||
            read_numbers(cJSON_GetObjectItemCaseSensitive(o, arrays[i].key),
                         arrays[i].n, NULL, *arrays[i].dst))
            return -1;
    }
    return 0;
}

int kvc_merge_golden_read(const char *path, kvc_merge_file *f, char *err,
                          size_t errlen)
{
    memset(f, 0, sizeof *f);
    char *text = kvcg_read_text(path, NULL, err, errlen);
    if (!text)
        return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "schema"),
                *v = cJSON_GetObjectItemCaseSensitive(root, "schemaVersion"),
                *tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
    if (!cJSON_IsString(s) || strcmp(s->valuestring, KVC_MERGE_SCHEMA) != 0 ||
        !cJSON_IsNumber(v) || v->valueint != KVC_MERGE_SCHEMA_VERSION ||
        !cJSON_IsArray(tests)) {
        snprintf(err, errlen, "%s: not a %s file of version %d (schema, "
                 "schemaVersion, tests)", path, KVC_MERGE_SCHEMA,
                 KVC_MERGE_SCHEMA_VERSION);
        cJSON_Delete(root);
        return -1;
    }
    int n = cJSON_GetArraySize(tests);
    f->tests = calloc((size_t)(n ? n : 1), sizeof *f->tests);
    if (!f->tests) {
        cJSON_Delete(root);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *what = "";
        f->num_tests = i + 1;
        if (read_test(cJSON_GetArrayItem(tests, i), &f->tests[i], &what)) {
            snprintf(err, errlen, "%s: tests[%d]: bad or missing %s", path, i,
                     what);
            cJSON_Delete(root);
            kvc_merge_golden_free(f);
            return -1;
        }
    }
    cJSON_Delete(root);
    return 0;
}
