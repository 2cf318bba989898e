/*
 * test_reports.c — the report writers (reports/report.h) on a synthetic run
 * of 30 cases over three kernel modes and four KV cache formats: some
 * failing, some without a verdict, an infinite ratio, a message full of
 * markup and a control character, awkward doubles. Each file is read back: summary.json parses
 * and its numbers are exact, junit.xml is well-formed (checked here in C,
 * and by xmllint when installed) with the right counts, summary.md has every
 * replay command, index.html has its plots and no unescaped text; failures
 * of kvc_report_write leave nothing behind. A second, small run checks the
 * per-mode and per-format numbers (report_stats.h) against values worked
 * out by hand, in the stats and in every report; and the campaign's
 * KV-format label, record and console summary line.
 *
 * Suite "reports": what a person triages first. A third run of 12 cases
 * has its failures grouped by verdict kind and by flag by hand
 * (report_groups.h): counts, the order of the worst few, and index.html
 * and summary.md opening with them; the HTML failure list stays capped and
 * small on 20,000 cases; hostile text is escaped; the interrupted banner
 * and the state reach every format; reproducer links appear exactly when
 * a record names a file; junit.xml with flags validates against
 * tests/junit.xsd.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../reports/report.h"
#include "../reports/report_groups.h"
#include "../reports/report_stats.h"
#include "../reports/report_text.h"
#include "../tools/campaign.h"

#define NREC 30
#define EVIL_MSG "bad <&\"'> \x01 value"

/* ---- the synthetic run ---- */

typedef struct fixture {
    kvc_case_record rec[NREC];
    kvc_run_report run;
} fixture;

static const char *const modes[3] = {"paged", "blocked", "qeff"};
static const char *const formats[4] = {"f32", "bf16", "fp8_e4m3/token",
                                       "nvfp4/group"};

static void make_run(fixture *fx)
{
    static const int dims[9] = {1, 4, 16, 64, 128, 256, 80, 96, 112};
    static const int blocks[4] = {1, 8, 16, 32};
    static const int heads[4][2] = {{8, 8}, {8, 2}, {32, 4}, {4, 1}};
    size_t i;

    memset(fx, 0, sizeof *fx);
    for (i = 0; i < NREC; i++) {
        kvc_case_record *c = &fx->rec[i];
        c->index = 1000 + 7 * i;
        c->mode = modes[i % 3];
        snprintf(c->kv_format, sizeof c->kv_format, "%s", formats[i % 4]);
        c->has_verdict = 1;
        c->ratio = pow(10.0, -6.0 + 0.25 * (double)i);
        c->allowed = 1e-3;
        c->err = c->ratio * c->allowed;
        c->passed = c->ratio <= 1.0;
        c->outcome = c->passed ? "pass" : "numeric";
        c->num_seqs = 1 + (int)(i % 4);
        c->num_q_heads = heads[i % 4][0];
        c->num_kv_heads = heads[i % 4][1];
        c->head_dim = dims[i % 9];
        c->block_size = blocks[(i / 3) % 4];
        c->total_q_tokens = 5 + (int)i;
        c->max_kv_len = 100 + 10 * (int)i;
        c->seconds = 0.001 * (double)(i + 1);
        snprintf(c->flags, sizeof c->flags, "%s partial_block",
                 i % 2 ? "gqa" : "mha");
        snprintf(c->desc, sizeof c->desc, "S=%d Hq=%d Hkv=%d D=%d bs=%d",
                 c->num_seqs, c->num_q_heads, c->num_kv_heads, c->head_dim,
                 c->block_size);
        if (!c->passed)
            snprintf(c->message, sizeof c->message,
                     "max |err| %.3g at row %zu", c->err, i);
        snprintf(c->replay, sizeof c->replay,
                 "kvcheck replay --seed 7 --case %" PRIu64 " --mode %s",
                 c->index, c->mode);
    }
    /* a failure without a numeric verdict */
    fx->rec[3].has_verdict = 0;
    fx->rec[3].passed = 0;
    fx->rec[3].outcome = "kernel-error";
    snprintf(fx->rec[3].message, sizeof fx->rec[3].message,
             "kernel returned status 3");
    /* a pass without a verdict (a rejected-input case) */
    fx->rec[5].has_verdict = 0;
    /* an infinite ratio */
    fx->rec[7].ratio = INFINITY;
    fx->rec[7].err = INFINITY;
    fx->rec[7].passed = 0;
    fx->rec[7].outcome = "numeric";
    snprintf(fx->rec[7].message, sizeof fx->rec[7].message, "inf in output");
    /* ratio exactly 0 */
    fx->rec[9].ratio = 0.0;
    fx->rec[9].err = 0.0;
    /* markup and a control character, an invalid UTF-8 byte in desc */
    fx->rec[11].passed = 0;
    fx->rec[11].outcome = "cache";
    snprintf(fx->rec[11].message, sizeof fx->rec[11].message, "%s", EVIL_MSG);
    snprintf(fx->rec[11].desc, sizeof fx->rec[11].desc, "odd \xff byte");
    /* awkward doubles */
    fx->rec[13].err = 0.1;
    fx->rec[13].allowed = 1.0 / 3.0;
    fx->rec[14].err = 5e-324;
    fx->rec[14].allowed = DBL_MAX;

    fx->run.tool_version = "kvcheck 0.1";
    fx->run.command = "kvcheck campaign --cases 30 --seed 7 --report out";
    fx->run.kernel_name = "libkvattn";
    fx->run.seed = 7;
    fx->run.shard_index = 0;
    fx->run.shard_count = 1;
    fx->run.threshold = 1.0;
    fx->run.seconds = 1.5;
    fx->run.started_utc = "2024-05-01T12:34:56Z";
    fx->run.num_records = NREC;
    fx->run.records = fx->rec;
}

/* ---- files and directories ---- */

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *d;

    cr_assert(asprintf(&d, "%s/kvc_reports_XXXXXX",
                       base && base[0] ? base : "/tmp") > 0);
    cr_assert_not_null(mkdtemp(d), "mkdtemp: %s", strerror(errno));
    return d;
}

static int rm_one(const char *path, const struct stat *st, int type,
                  struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void rm_rf(char *dir)
{
    chmod(dir, 0700);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char *p = path_in(dir, name), *buf;
    FILE *f = fopen(p, "rb");
    long n;

    cr_assert_not_null(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    free(p);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* The names in dir, sorted and joined with spaces. */
static char *listing(const char *dir)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort), i;
    size_t cap = 1;
    char *out;

    cr_assert(n >= 0);
    for (i = 0; i < n; i++)
        cap += strlen(ents[i]->d_name) + 1;
    out = calloc(cap, 1);
    for (i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
            if (out[0])
                strcat(out, " ");
            strcat(out, ents[i]->d_name);
        }
        free(ents[i]);
    }
    free(ents);
    return out;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    const char *p = hay;

    while ((p = strstr(p, needle))) {
        n++;
        p += k;
    }
    return n;
}

/* A report written into a fresh temp dir ("out" in it); the dir is
 * returned. */
static char *write_run(const kvc_run_report *run)
{
    char *dir = make_tmpdir(), *out = path_in(dir, "out");
    char err[512];

    cr_assert_eq(kvc_report_write(run, out, err, sizeof err), 0, "%s", err);
    free(out);
    return dir;
}

static char *write_report(const fixture *fx)
{
    return write_run(&fx->run);
}

static char *read_out(const char *dir, const char *name)
{
    char *p = path_in(dir, "out"), *s = slurp(p, name, NULL);
    free(p);
    return s;
}

/* ---- summary.json ---- */

static const cJSON *case_by_index(const cJSON *cases, uint64_t index)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "index");
        if (cJSON_IsNumber(i) && (uint64_t)i->valuedouble == index)
            return c;
    }
    return NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

Test(reports_json, parses_and_counts_match)
{
    fixture fx;
    char *dir, *text;
    cJSON *root;
    const cJSON *counts, *cases, *pm, *c;
    size_t i, m, failed = 0;

    make_run(&fx);
    dir = write_report(&fx);
    text = read_out(dir, "summary.json");
    root = cJSON_Parse(text);
    cr_assert_not_null(root, "summary.json does not parse near: %.40s",
                       cJSON_GetErrorPtr());

    for (i = 0; i < NREC; i++)
        failed += !fx.rec[i].passed;
    counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
    cr_assert_eq(num(counts, "cases"), NREC);
    cr_assert_eq(num(counts, "failed"), (double)failed);
    pm = cJSON_GetObjectItemCaseSensitive(counts, "modes");
    cr_assert_eq(cJSON_GetArraySize(pm), 3);
    for (m = 0; m < 3; m++) {
        size_t run = 0, fail = 0;
        const cJSON *mo = cJSON_GetObjectItemCaseSensitive(pm, modes[m]);
        for (i = 0; i < NREC; i++)
            if (!strcmp(fx.rec[i].mode, modes[m])) {
                run++;
                fail += !fx.rec[i].passed;
            }
        cr_assert_not_null(mo, "mode %s missing", modes[m]);
        cr_assert_eq(num(mo, "run"), (double)run, "%s run", modes[m]);
        cr_assert_eq(num(mo, "failed"), (double)fail, "%s failed", modes[m]);
    }
    /* per KV cache format, counted by hand from make_run: format i % 4,
     * failures at i = 3, 7, 11 and 25..29 */
    {
        static const struct {
            const char *name;
            double run, failed;
        } want[4] = {{"bf16", 8, 2}, {"f32", 8, 1},
                     {"fp8_e4m3/token", 7, 1}, {"nvfp4/group", 7, 4}};
        const cJSON *pf = cJSON_GetObjectItemCaseSensitive(counts, "formats");
        cr_assert_eq(cJSON_GetArraySize(pf), 4);
        for (m = 0; m < 4; m++) {
            const cJSON *fo =
                cJSON_GetObjectItemCaseSensitive(pf, want[m].name);
            cr_assert_not_null(fo, "format %s missing", want[m].name);
            cr_assert_eq(num(fo, "run"), want[m].run, "%s", want[m].name);
            cr_assert_eq(num(fo, "failed"), want[m].failed, "%s",
                         want[m].name);
        }
    }
    /* the worst ratio is the infinite one, written as a string */
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(counts, "worst_ratio")
                         ->valuestring, "inf");
    cr_assert_eq(num(counts, "worst_index"), (double)fx.rec[7].index);

    cr_assert_str_eq(cJSON_GetObjectItem(root, "shard")->valuestring, "0/1");
    cr_assert_str_eq(cJSON_GetObjectItem(root, "kernel")->valuestring,
                     "libkvattn");
    cr_assert_str_eq(cJSON_GetObjectItem(root, "started_utc")->valuestring,
                     "2024-05-01T12:34:56Z");
    cr_assert_eq(num(root, "seed"), 7);
    cr_assert_eq(num(root, "threshold"), 1.0);

    cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    cr_assert_eq(cJSON_GetArraySize(cases), NREC);
    for (i = 0; i < NREC; i++) {
        const cJSON *flags;
        c = case_by_index(cases, fx.rec[i].index);
        cr_assert_not_null(c);
        cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(c, "passed")),
                     fx.rec[i].passed != 0);
        cr_assert_eq(cJSON_HasObjectItem(c, "ratio"), fx.rec[i].has_verdict);
        cr_assert_eq(num(c, "head_dim"), fx.rec[i].head_dim);
        cr_assert_str_eq(cJSON_GetObjectItem(c, "replay")->valuestring,
                         fx.rec[i].replay);
        cr_assert_str_eq(cJSON_GetObjectItem(c, "kv_format")->valuestring,
                         formats[i % 4]);
        flags = cJSON_GetObjectItem(c, "flags");
        cr_assert_eq(cJSON_GetArraySize(flags), 2);
        cr_assert_str_eq(cJSON_GetArrayItem(flags, 1)->valuestring,
                         "partial_block");
    }
    /* the message comes back byte for byte, control character included */
    c = case_by_index(cases, fx.rec[11].index);
    cr_assert_str_eq(cJSON_GetObjectItem(c, "message")->valuestring, EVIL_MSG);
    /* an invalid UTF-8 byte became U+FFFD */
    cr_assert_str_eq(cJSON_GetObjectItem(c, "desc")->valuestring,
                     "odd \xef\xbf\xbd byte");
    c = case_by_index(cases, fx.rec[7].index);
    cr_assert_str_eq(cJSON_GetObjectItem(c, "ratio")->valuestring, "inf");

    cJSON_Delete(root);
    free(text);
    rm_rf(dir);
}

/* The text of the number after "key": inside the case with this index. */
static double raw_number(const char *text, uint64_t index, const char *key)
{
    char pat[64], kpat[64];
    const char *p;
    char *end;
    double v;

    snprintf(pat, sizeof pat, "\"index\":\t%" PRIu64 ",", index);
    p = strstr(text, pat);
    cr_assert_not_null(p, "no case %" PRIu64, index);
    snprintf(kpat, sizeof kpat, "\"%s\":\t", key);
    p = strstr(p, kpat);
    cr_assert_not_null(p, "no %s", key);
    p += strlen(kpat);
    errno = 0;
    v = strtod(p, &end);
    cr_assert(end > p && (*end == ',' || *end == '\n'), "bad number at %.30s",
              p);
    return v;
}

Test(reports_json, doubles_round_trip_exactly)
{
    fixture fx;
    char *dir, *text;
    cJSON *root;
    const cJSON *cases;

    make_run(&fx);
    dir = write_report(&fx);
    text = read_out(dir, "summary.json");

    /* from the text with strtod */
    cr_assert_eq(raw_number(text, fx.rec[13].index, "err"), 0.1);
    cr_assert_eq(raw_number(text, fx.rec[13].index, "allowed"), 1.0 / 3.0);
    cr_assert_eq(raw_number(text, fx.rec[14].index, "err"), 5e-324);
    cr_assert_eq(raw_number(text, fx.rec[14].index, "allowed"), DBL_MAX);
    for (size_t i = 0; i < NREC; i++)
        if (fx.rec[i].has_verdict && isfinite(fx.rec[i].ratio))
            cr_assert_eq(raw_number(text, fx.rec[i].index, "ratio"),
                         fx.rec[i].ratio, "case %zu", i);

    /* and through cJSON's parser */
    root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cases = cJSON_GetObjectItem(root, "cases");
    cr_assert_eq(num(case_by_index(cases, fx.rec[14].index), "allowed"),
                 DBL_MAX);
    cr_assert_eq(num(case_by_index(cases, fx.rec[14].index), "err"), 5e-324);
    cJSON_Delete(root);
    free(text);
    rm_rf(dir);
}

Test(reports_json, number_format_is_exact_and_short)
{
    char buf[KVR_NUM_LEN];
    uint64_t x = 0x9E3779B97F4A7C15u;
    int i;

    kvr_fmt_exact(buf, 0.1);
    cr_assert_str_eq(buf, "0.1");
    kvr_fmt_exact(buf, DBL_MAX);
    cr_assert_str_eq(buf, "1.7976931348623157e+308");
    kvr_fmt_exact(buf, -INFINITY);
    cr_assert_str_eq(buf, "-inf");
    kvr_fmt_exact(buf, NAN);
    cr_assert_str_eq(buf, "nan");
    for (i = 0; i < 200000; i++) { /* random bit patterns */
        double v;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        kvr_fmt_exact(buf, v);
        cr_assert_eq(strtod(buf, NULL), v, "%a printed as %s", v, buf);
    }
}

/* ---- junit.xml ---- */

/* A small XML well-formedness check: tags nest, attributes are quoted,
 * '&' starts a known entity or character reference, no '<' in text or
 * attribute values, no forbidden control character, one root element.
 * Checks the required attributes of the JUnit elements on the way. */
static int entity_ok(const char *p)
{
    static const char *const names[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                        "&apos;"};
    size_t i;

    for (i = 0; i < 5; i++)
        if (!strncmp(p, names[i], strlen(names[i])))
            return 1;
    if (p[1] == '#') {
        p += 2;
        if (*p == 'x')
            p++;
        if (!*p || *p == ';')
            return 0;
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
               (*p >= 'A' && *p <= 'F'))
            p++;
        return *p == ';';
    }
    return 0;
}

static const char *const required[][7] = {
    {"testsuites", "name", "tests", "failures", "errors", "time", NULL},
    {"testsuite", "name", "tests", "failures", "errors", "skipped", "time"},
    {"testcase", "classname", "name", "time", NULL},
    {"failure", "message", "type", NULL},
    {"property", "name", "value", NULL},
};

static void check_xml(const char *s)
{
    char stack[16][32];
    int depth = 0, roots = 0;
    const char *p = s;

    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        cr_assert_not_null(p);
        p += 2;
    }
    while (*p) {
        if (*p != '<') {
            unsigned char ch = (unsigned char)*p;
            cr_assert(ch >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r',
                      "control character 0x%02x in text", ch);
            cr_assert(*p != '&' || entity_ok(p), "bad entity at %.20s", p);
            cr_assert(*p != '>' , "raw '>' in text at %.20s", p);
            cr_assert(depth > 0 || ch == '\n' || ch == ' ',
                      "text outside the root: %.20s", p);
            p++;
            continue;
        }
        if (p[1] == '/') { /* end tag */
            size_t n = strcspn(p + 2, ">");
            cr_assert(depth > 0, "end tag without start");
            depth--;
            cr_assert(strlen(stack[depth]) == n &&
                          !strncmp(p + 2, stack[depth], n),
                      "</%.*s> closes <%s>", (int)n, p + 2, stack[depth]);
            p += n + 3;
            continue;
        }
        {
            char name[32], attrs[8][32];
            size_t n = strcspn(p + 1, " />"), na = 0, r, k;
            cr_assert(n > 0 && n < sizeof name, "bad tag at %.20s", p);
            memcpy(name, p + 1, n);
            name[n] = '\0';
            p += 1 + n;
            for (;;) { /* attributes */
                size_t an;
                while (*p == ' ')
                    p++;
                if (*p == '>' || !strncmp(p, "/>", 2))
                    break;
                an = strcspn(p, "=");
                cr_assert(an > 0 && an < 32 && p[an + 1] == '"',
                          "bad attribute at %.20s", p);
                if (na < 8) {
                    memcpy(attrs[na], p, an);
                    attrs[na++][an] = '\0';
                }
                p += an + 2;
                while (*p != '"') {
                    cr_assert(*p && *p != '<', "'<' in attribute of <%s>",
                              name);
                    cr_assert((unsigned char)*p >= 0x20,
                              "raw control character in attribute");
                    cr_assert(*p != '&' || entity_ok(p),
                              "bad entity in attribute at %.20s", p);
                    p++;
                }
                p++;
            }
            for (r = 0; r < sizeof required / sizeof required[0]; r++) {
                if (strcmp(required[r][0], name))
                    continue;
                for (k = 1; k < 7 && required[r][k]; k++) {
                    size_t a;
                    for (a = 0; a < na; a++)
                        if (!strcmp(attrs[a], required[r][k]))
                            break;
                    cr_assert(a < na, "<%s> lacks %s", name, required[r][k]);
                }
            }
            if (depth == 0)
                roots++;
            if (*p == '/') {
                p += 2;
                continue;
            }
            cr_assert(depth < 16);
            strcpy(stack[depth++], name);
            p++;
        }
    }
    cr_assert_eq(depth, 0, "unclosed <%s>", depth ? stack[depth - 1] : "");
    cr_assert_eq(roots, 1);
}

Test(reports_junit, counts_escaping_and_well_formed)
{
    fixture fx;
    char *dir = NULL, *xml, *cmd, *p;
    size_t i, failed = 0;

    make_run(&fx);
    dir = write_report(&fx);
    xml = read_out(dir, "junit.xml");
    for (i = 0; i < NREC; i++)
        failed += !fx.rec[i].passed;

    cr_assert_eq(count_of(xml, "<testcase "), NREC);
    cr_assert_eq(count_of(xml, "<failure "), failed);
    cr_assert_eq(count_of(xml, "<testsuite "), 3);
    cr_assert(strstr(xml, "<testsuite name=\"kvcheck.paged\" tests=\"10\""));
    cr_assert(strstr(xml, "classname=\"kvcheck.paged\" name=\"case 1000 "
                          "(f32)\""));
    cr_assert(strstr(xml, "classname=\"kvcheck.qeff\" name=\"case 1077 "
                          "(nvfp4/group)\""));
    cr_assert(strstr(xml, "timestamp=\"2024-05-01T12:34:56\""));
    /* <&"'> in an attribute, the control character dropped */
    cr_assert(strstr(xml, "message=\"cache: bad &lt;&amp;&quot;&apos;&gt;  "
                          "value\""),
              "escaped message missing");
    cr_assert_null(strchr(xml, '\x01'));
    cr_assert_null(strstr(xml, "<&"));
    /* the failure text has the replay command and the numbers */
    cr_assert(strstr(xml, "replay: kvcheck replay --seed 7 --case 1049 "
                          "--mode blocked</failure>"));
    p = strstr(xml, "name=\"case 1049 (nvfp4/group)\"");
    cr_assert(p && strstr(p, "error inf, allowed 0.001, ratio inf"));
    check_xml(xml);

    /* a real XML parser when one is installed; not required */
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        cr_assert(asprintf(&cmd, "xmllint --noout '%s/out/junit.xml'", dir) >
                  0);
        cr_assert_eq(system(cmd), 0, "xmllint rejects junit.xml");
        free(cmd);
    } else {
        cr_log_info("xmllint not installed: only the C structure check ran");
    }
    free(xml);
    rm_rf(dir);
}

/* ---- summary.md ---- */

Test(reports_markdown, failures_with_replay_commands)
{
    fixture fx;
    char *dir, *md;
    size_t i;

    make_run(&fx);
    dir = write_report(&fx);
    md = read_out(dir, "summary.md");
    cr_assert(!strncmp(md, "# kvcheck: FAILED", 17), "title: %.40s", md);
    for (i = 0; i < NREC; i++)
        if (!fx.rec[i].passed)
            cr_assert(strstr(md, fx.rec[i].replay), "no replay for case %zu",
                      i);
    cr_assert(strstr(md, "| paged | 10 |"));
    cr_assert(strstr(md, "## The 10 worst cases by error ratio"));
    /* the worst case is the infinite ratio */
    cr_assert(strstr(md, "| 1 | 1049 | blocked | nvfp4/group | numeric | inf "
                         "|"));
    /* a failure's heading names its mode and format */
    cr_assert(strstr(md, "### case 1021 (paged, nvfp4/group): kernel-error"));
    cr_assert(strstr(md, "bad &lt;&amp;\"'&gt;  value"));
    cr_assert_null(strchr(md, '\x01'));
    free(md);
    rm_rf(dir);
}

Test(reports_markdown, passing_run_says_passed)
{
    fixture fx;
    char *dir, *md;
    size_t i;

    make_run(&fx);
    for (i = 0; i < NREC; i++)
        fx.rec[i].passed = 1;
    dir = write_report(&fx);
    md = read_out(dir, "summary.md");
    cr_assert(!strncmp(md, "# kvcheck: PASSED (30 cases)", 28), "%.40s", md);
    cr_assert(strstr(md, "## Failures (0)\n\nNone."));
    cr_assert(strstr(md, "Exit status **0**: every checked case passed."));
    cr_assert_null(strstr(md, "## What failed"));
    free(md);
    md = read_out(dir, "index.html");
    cr_assert(strstr(md, "<div class=\"banner passed\">\n<h1>kvcheck: "
                         "PASSED</h1>"));
    cr_assert_null(strstr(md, "<h2>What failed</h2>"));
    free(md);
    rm_rf(dir);
}

/* ---- index.html ---- */

Test(reports_html, plots_and_escaping)
{
    fixture fx;
    char *dir, *html;

    make_run(&fx);
    dir = write_report(&fx);
    html = read_out(dir, "index.html");
    cr_assert(!strncmp(html, "<!DOCTYPE html>", 15));
    cr_assert(strstr(html, "<svg"));
    cr_assert_eq(count_of(html, "<svg class=\"histogram\""), 3);
    cr_assert_eq(count_of(html, "class=\"threshold\""), 3);
    cr_assert(strstr(html, "paged: 9 cases with a verdict"));
    cr_assert(count_of(html, "<svg class=\"coverage\"") >= 3);
    cr_assert(strstr(html, "Worst cases (top 20 by error ratio)"));
    cr_assert(strstr(html, "bad &lt;&amp;&quot;&#39;&gt;  value"));
    cr_assert_null(strstr(html, "<&"));
    cr_assert_null(strchr(html, '\x01'));
    cr_assert_null(strstr(html, "<script"));
    cr_assert_null(strstr(html, "http://www.w3.org/1999")); /* no XHTML ns */
    cr_assert_null(strstr(html, "src="));
    /* links only to anchors in the page (no repro files in this run) */
    cr_assert_eq(count_of(html, "href="), count_of(html, "href=\"#case-"));
    free(html);
    rm_rf(dir);
}

/* ---- kvc_report_write ---- */

static const char *const outputs[4] = {"index.html", "junit.xml",
                                       "summary.json", "summary.md"};

Test(reports_dir, writes_four_files_and_no_temporaries)
{
    fixture fx;
    char *dir = make_tmpdir(), *deep = path_in(dir, "a/b//c/"), *ls;
    char *deep_clean = path_in(dir, "a/b/c");
    char err[256];

    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, deep, err, sizeof err), 0, "%s",
                 err);
    ls = listing(deep_clean);
    cr_assert_str_eq(ls, "index.html junit.xml summary.json summary.md");
    free(ls);
    /* again into the same place: replaced, still no temporaries */
    cr_assert_eq(kvc_report_write(&fx.run, deep, err, sizeof err), 0, "%s",
                 err);
    ls = listing(deep_clean);
    cr_assert_str_eq(ls, "index.html junit.xml summary.json summary.md");
    free(ls);
    free(deep);
    free(deep_clean);
    rm_rf(dir);
}

Test(reports_dir, output_is_deterministic)
{
    fixture fx;
    char *a, *b, *pa, *pb;
    size_t i;

    make_run(&fx);
    a = write_report(&fx);
    b = write_report(&fx);
    pa = path_in(a, "out");
    pb = path_in(b, "out");
    for (i = 0; i < 4; i++) {
        size_t la, lb;
        char *x = slurp(pa, outputs[i], &la), *y = slurp(pb, outputs[i], &lb);
        cr_assert(la == lb && !memcmp(x, y, la), "%s differs", outputs[i]);
        free(x);
        free(y);
    }
    free(pa);
    free(pb);
    rm_rf(a);
    rm_rf(b);
}

Test(reports_dir, parent_is_a_file_fails_cleanly)
{
    fixture fx;
    char *dir = make_tmpdir(), *file = path_in(dir, "file");
    char *target = path_in(dir, "file/out"), *ls;
    char err[512];
    FILE *f = fopen(file, "w");

    cr_assert_not_null(f);
    fputs("keep me\n", f);
    fclose(f);
    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, target, err, sizeof err), -1);
    cr_assert(strstr(err, target), "message does not name the path: %s", err);
    ls = listing(dir);
    cr_assert_str_eq(ls, "file");
    free(ls);
    free(file);
    free(target);
    rm_rf(dir);
}

Test(reports_dir, failed_mkdir_removes_created_parents)
{
    fixture fx;
    char *dir = make_tmpdir(), *target, *ls;
    char err[512], longname[400];

    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert(asprintf(&target, "%s/new1/new2/%s", dir, longname) > 0);
    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, target, err, sizeof err), -1);
    cr_assert(strstr(err, target), "message does not name the path: %s", err);
    ls = listing(dir);
    cr_assert_str_eq(ls, "", "left behind: %s", ls);
    free(ls);
    free(target);
    rm_rf(dir);
}

Test(reports_dir, failed_write_removes_temporaries)
{
    fixture fx;
    char *dir = make_tmpdir(), *blocker = path_in(dir, ".junit.xml.tmp"), *ls;
    char err[512];

    /* a directory where the second temporary file must go */
    cr_assert_eq(mkdir(blocker, 0700), 0);
    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, dir, err, sizeof err), -1);
    cr_assert(strstr(err, "junit.xml"), "%s", err);
    ls = listing(dir);
    cr_assert_str_eq(ls, ".junit.xml.tmp", "left behind: %s", ls);
    free(ls);
    free(blocker);
    rm_rf(dir);
}

Test(reports_dir, failed_rename_removes_temporaries)
{
    fixture fx;
    char *dir = make_tmpdir(), *blocker = path_in(dir, "summary.json/x"), *ls;
    char *sj = path_in(dir, "summary.json");
    char err[512];

    /* a non-empty directory where summary.json must go */
    cr_assert_eq(mkdir(sj, 0700), 0);
    cr_assert_eq(mkdir(blocker, 0700), 0);
    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, dir, err, sizeof err), -1);
    cr_assert(strstr(err, "summary.json"), "%s", err);
    ls = listing(dir);
    cr_assert_str_eq(ls, "summary.json", "left behind: %s", ls);
    free(ls);
    free(sj);
    free(blocker);
    rm_rf(dir);
}

Test(reports_dir, bad_arguments)
{
    fixture fx;
    char err[128];

    make_run(&fx);
    cr_assert_eq(kvc_report_write(&fx.run, "", err, sizeof err), -1);
    cr_assert(strlen(err) > 0);
    cr_assert_eq(kvc_report_write(NULL, "/nonexistent/x", err, sizeof err),
                 -1);
    cr_assert(strstr(err, "/nonexistent/x"));
    cr_assert_eq(kvc_report_write(&fx.run, "", NULL, 0), -1);
    fx.run.records = NULL;
    cr_assert_eq(kvc_report_write_json(&fx.run, stdout), -1);
}

Test(reports_dir, empty_run_and_null_strings)
{
    kvc_run_report run;
    char *dir, *text, *xml;
    cJSON *root;

    memset(&run, 0, sizeof run);
    run.threshold = 1.0;
    dir = make_tmpdir();
    {
        char *out = path_in(dir, "out"), err[256];
        cr_assert_eq(kvc_report_write(&run, out, err, sizeof err), 0, "%s",
                     err);
        free(out);
    }
    text = read_out(dir, "summary.json");
    root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(root, "kernel")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(root, "counts"), "worst_ratio")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "cases")), 0);
    cJSON_Delete(root);
    xml = read_out(dir, "junit.xml");
    check_xml(xml);
    cr_assert(strstr(xml, "tests=\"0\""));
    free(xml);
    free(text);
    rm_rf(dir);
}

/* ---- per-mode and per-format groups, by hand ----
 *
 * Ten records; every expected number below is worked out by hand from
 * this table (seconds of record i are 0.25 * (i + 1), index 100 + i):
 *
 *   i  mode     format          ratio       passed
 *   0  paged    f32             0.5         yes
 *   1  paged    nvfp4/group     2           no
 *   2  blocked  nvfp4/group     0.25        yes
 *   3  blocked  fp8_e4m3/token  (none)      no (kernel-error)
 *   4  qeff     nvfp4/group     4           no
 *   5  qeff     f32             0.125       yes
 *   6  paged    fp8_e4m3/token  0.75        yes
 *   7  paged    f32             inf         no
 *   8  blocked  nvfp4/group     0.5         yes
 *   9  qeff     "" (unknown)    0.0625      yes
 */
#define NSMALL 10

typedef struct small_run {
    kvc_case_record rec[NSMALL];
    kvc_run_report run;
} small_run;

static void make_small_run(small_run *sr)
{
    static const struct {
        const char *mode, *format;
        int verdict;
        double ratio;
    } t[NSMALL] = {
        {"paged", "f32", 1, 0.5},
        {"paged", "nvfp4/group", 1, 2.0},
        {"blocked", "nvfp4/group", 1, 0.25},
        {"blocked", "fp8_e4m3/token", 0, 0.0},
        {"qeff", "nvfp4/group", 1, 4.0},
        {"qeff", "f32", 1, 0.125},
        {"paged", "fp8_e4m3/token", 1, 0.75},
        {"paged", "f32", 1, INFINITY},
        {"blocked", "nvfp4/group", 1, 0.5},
        {"qeff", "", 1, 0.0625},
    };
    size_t i;

    memset(sr, 0, sizeof *sr);
    for (i = 0; i < NSMALL; i++) {
        kvc_case_record *c = &sr->rec[i];
        c->index = 100 + i;
        c->mode = t[i].mode;
        snprintf(c->kv_format, sizeof c->kv_format, "%s", t[i].format);
        c->has_verdict = t[i].verdict;
        c->ratio = t[i].ratio;
        c->allowed = 1e-3;
        c->err = c->ratio * c->allowed;
        c->passed = t[i].verdict && c->ratio <= 1.0;
        c->outcome = c->passed ? "pass"
                     : t[i].verdict ? "numeric" : "kernel-error";
        c->num_seqs = 1;
        c->num_q_heads = 8;
        c->num_kv_heads = 2;
        c->head_dim = 64;
        c->block_size = 16;
        c->seconds = 0.25 * (double)(i + 1);
        snprintf(c->replay, sizeof c->replay,
                 "kvcheck replay --seed 5 --case %" PRIu64, c->index);
        if (!c->passed)
            snprintf(c->message, sizeof c->message, "case %zu failed", i);
    }
    sr->run.tool_version = "kvcheck 0.1";
    sr->run.command = "kvcheck run --cases 10 --seed 5";
    sr->run.kernel_name = "libkvattn";
    sr->run.seed = 5;
    sr->run.shard_count = 1;
    sr->run.threshold = 1.0;
    sr->run.seconds = 14.0;
    sr->run.started_utc = "2024-05-01T12:34:56Z";
    sr->run.num_records = NSMALL;
    sr->run.records = sr->rec;
}

typedef struct want_group {
    const char *name;
    size_t run, failed, verdicts, worst; /* worst: record position */
    double median, seconds;
} want_group;

static void check_grouping(const kvr_grouping *g, const want_group *w,
                           size_t n, const char *what)
{
    size_t m;

    cr_assert_eq(g->n, n, "%s: %zu groups", what, g->n);
    for (m = 0; m < n; m++) {
        const kvr_group *gr = &g->groups[m];
        cr_assert_str_eq(gr->name, w[m].name, "%s %zu", what, m);
        cr_assert_eq(gr->run, w[m].run, "%s run", w[m].name);
        cr_assert_eq(gr->failed, w[m].failed, "%s failed", w[m].name);
        cr_assert_eq(gr->verdicts, w[m].verdicts, "%s verdicts", w[m].name);
        cr_assert_eq(gr->worst, w[m].worst, "%s worst at %zu", w[m].name,
                     gr->worst);
        cr_assert_eq(gr->median, w[m].median, "%s median %g", w[m].name,
                     gr->median);
        cr_assert_eq(gr->seconds, w[m].seconds, "%s seconds %g", w[m].name,
                     gr->seconds);
    }
}

Test(reports_groups, stats_per_format_and_per_mode)
{
    static const want_group formats_want[4] = {
        {"f32", 3, 1, 3, 7, 0.5, 3.75},
        {"fp8_e4m3/token", 2, 1, 1, 6, 0.75, 2.75},
        {"nvfp4/group", 4, 2, 4, 4, 1.25, 4.75},
        {"unknown", 1, 0, 1, 9, 0.0625, 2.5},
    };
    static const want_group modes_want[3] = {
        {"blocked", 3, 1, 2, 8, 0.375, 4.0},
        {"paged", 4, 2, 4, 7, 1.375, 4.5},
        {"qeff", 3, 1, 3, 4, 0.125, 5.25},
    };
    static const size_t format_of[NSMALL] = {0, 2, 2, 1, 2, 0, 1, 0, 2, 3};
    small_run sr;
    kvr_stats st;
    size_t i;

    make_small_run(&sr);
    cr_assert_eq(kvr_stats_init(&st, &sr.run), 0);
    cr_assert_eq(st.cases, 10);
    cr_assert_eq(st.failed, 4);
    cr_assert_eq(st.verdicts, 9);
    cr_assert_eq(st.worst, 7);
    check_grouping(&st.formats, formats_want, 4, "formats");
    check_grouping(&st.modes, modes_want, 3, "modes");
    for (i = 0; i < NSMALL; i++)
        cr_assert_eq(st.formats.of[i], format_of[i], "record %zu", i);
    kvr_stats_free(&st);

    /* a kv_format without its NUL reads as unknown */
    memset(sr.rec[0].kv_format, 'x', sizeof sr.rec[0].kv_format);
    cr_assert_str_eq(kvr_format_name(&sr.rec[0]), "unknown");
}

Test(reports_groups, every_report_breaks_down_by_format)
{
    small_run sr;
    char *dir, *md, *text, *html, *xml, *cmd;
    const char *modes_at, *formats_at, *failures_at;
    cJSON *root;
    const cJSON *pf, *fo, *cases;
    static const char *const case_format[NSMALL] = {
        "f32", "nvfp4/group", "nvfp4/group", "fp8_e4m3/token", "nvfp4/group",
        "f32", "fp8_e4m3/token", "f32", "nvfp4/group", "unknown"};
    size_t i;

    make_small_run(&sr);
    dir = write_run(&sr.run);

    /* summary.md: the formats table right after the modes table */
    md = read_out(dir, "summary.md");
    modes_at = strstr(md, "## Kernel modes\n");
    formats_at = strstr(md, "## KV cache formats\n");
    failures_at = strstr(md, "## Failures (4)\n");
    cr_assert(modes_at && formats_at && failures_at);
    cr_assert(modes_at < formats_at && formats_at < failures_at);
    cr_assert(strstr(md,
        "## Kernel modes\n\n"
        "| mode | cases | failed | with verdict | worst ratio | median ratio |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| blocked | 3 | 1 | 2 | 0.5 (case 108) | 0.375 |\n"
        "| paged | 4 | 2 | 4 | inf (case 107) | 1.38 |\n"
        "| qeff | 3 | 1 | 3 | 4 (case 104) | 0.125 |\n\n"
        "## KV cache formats\n\n"
        "| KV format | cases | failed | with verdict | worst ratio | "
        "median ratio |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| f32 | 3 | 1 | 3 | inf (case 107) | 0.5 |\n"
        "| fp8_e4m3/token | 2 | 1 | 1 | 0.75 (case 106) | 0.75 |\n"
        "| nvfp4/group | 4 | 2 | 4 | 4 (case 104) | 1.25 |\n"
        "| unknown | 1 | 0 | 1 | 0.0625 (case 109) | 0.0625 |\n\n"
        "## Failures (4)\n"), "tables:\n%.1200s", modes_at);
    cr_assert(strstr(md, "### case 103 (blocked, fp8_e4m3/token): "
                         "kernel-error"));
    cr_assert(strstr(md, "| 1 | 107 | paged | f32 | numeric | inf |"));

    /* summary.json: kv_format per case, counts.formats per format */
    text = read_out(dir, "summary.json");
    root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    for (i = 0; i < NSMALL; i++) {
        const cJSON *c = case_by_index(cases, 100 + i);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(c, "kv_format");
        cr_assert(cJSON_IsString(k), "case %zu has no kv_format", i);
        cr_assert_str_eq(k->valuestring, case_format[i], "case %zu", i);
    }
    pf = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "counts"), "formats");
    cr_assert_eq(cJSON_GetArraySize(pf), 4);
    fo = cJSON_GetObjectItemCaseSensitive(pf, "nvfp4/group");
    cr_assert_not_null(fo);
    cr_assert_eq(num(fo, "run"), 4);
    cr_assert_eq(num(fo, "failed"), 2);
    cr_assert_eq(num(fo, "verdicts"), 4);
    cr_assert_eq(num(fo, "worst_ratio"), 4.0);
    cr_assert_eq(num(fo, "worst_index"), 104);
    cr_assert_eq(num(fo, "median_ratio"), 1.25);
    fo = cJSON_GetObjectItemCaseSensitive(pf, "f32");
    cr_assert_eq(num(fo, "run"), 3);
    cr_assert_eq(num(fo, "failed"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(fo, "worst_ratio")->valuestring,
                     "inf");
    fo = cJSON_GetObjectItemCaseSensitive(pf, "fp8_e4m3/token");
    cr_assert_eq(num(fo, "run"), 2);
    cr_assert_eq(num(fo, "verdicts"), 1);
    fo = cJSON_GetObjectItemCaseSensitive(pf, "unknown");
    cr_assert_eq(num(fo, "run"), 1);
    cr_assert_eq(num(fo, "failed"), 0);
    /* the per-mode objects have the same shape */
    fo = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "counts"), "modes"),
        "paged");
    cr_assert_eq(num(fo, "median_ratio"), 1.375);
    cJSON_Delete(root);

    /* index.html: the same table */
    html = read_out(dir, "index.html");
    cr_assert(strstr(html, "<h2>KV cache formats</h2>\n<table class=\""
                           "formats\">\n<tr><th>KV format</th>"));
    cr_assert(strstr(html, "<tr class=\"failed\"><td>nvfp4/group</td>"
                           "<td class=\"num\">4</td><td class=\"num\">2</td>"
                           "<td class=\"num\">4</td><td class=\"num\">4</td>"
                           "<td class=\"num\">104</td>"
                           "<td class=\"num\">1.25</td></tr>"));
    cr_assert(strstr(html, "<tr><td>unknown</td><td class=\"num\">1</td>"
                           "<td class=\"num\">0</td>"));
    cr_assert(strstr(html, "<h2>Kernel modes</h2>") <
              strstr(html, "<h2>KV cache formats</h2>"));

    /* junit.xml: the format in each testcase's name; still valid */
    xml = read_out(dir, "junit.xml");
    cr_assert(strstr(xml, "classname=\"kvcheck.qeff\" name=\"case 104 "
                          "(nvfp4/group)\""));
    cr_assert(strstr(xml, "classname=\"kvcheck.qeff\" name=\"case 109 "
                          "(unknown)\""));
    cr_assert_eq(count_of(xml, "(nvfp4/group)\""), 4);
    check_xml(xml);
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        cr_assert(asprintf(&cmd, "xmllint --noout --schema tests/junit.xsd "
                                 "'%s/out/junit.xml' 2>/dev/null", dir) > 0);
        cr_assert_eq(system(cmd), 0, "junit.xml does not validate");
        free(cmd);
    }
    free(xml);
    free(html);
    free(text);
    free(md);
    rm_rf(dir);
}

/* ---- the campaign's format label, record and console line ---- */

Test(reports_campaign, kv_format_labels)
{
    char b[KVC_KV_FORMAT_LEN];

    kvc_kv_format_label(KVC_KV_F32, KVC_SCALE_NONE, b, sizeof b);
    cr_assert_str_eq(b, "f32");
    kvc_kv_format_label(KVC_KV_BF16, KVC_SCALE_NONE, b, sizeof b);
    cr_assert_str_eq(b, "bf16");
    kvc_kv_format_label(KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN, b, sizeof b);
    cr_assert_str_eq(b, "fp8_e4m3/token");
    kvc_kv_format_label(KVC_KV_INT8, KVC_SCALE_HEAD, b, sizeof b);
    cr_assert_str_eq(b, "int8/attn_head");
    kvc_kv_format_label(KVC_KV_FP8_E5M2, KVC_SCALE_TENSOR, b, sizeof b);
    cr_assert_str_eq(b, "fp8_e5m2/tensor");
    kvc_kv_format_label(KVC_KV_NVFP4, KVC_SCALE_GROUP, b, sizeof b);
    cr_assert_str_eq(b, "nvfp4/group");
}

Test(reports_campaign, record_fill_sets_kv_format)
{
    static const char *const valid[13] = {
        "f32", "f16", "bf16", "fp8_e4m3/tensor", "fp8_e4m3/attn_head",
        "fp8_e4m3/token", "fp8_e5m2/tensor", "fp8_e5m2/attn_head",
        "fp8_e5m2/token", "int8/tensor", "int8/attn_head", "int8/token",
        "nvfp4/group"};
    kvc_campaign_opts o = {.seed = 3, .cases = 200, .forced_mode = -1,
                           .shard_count = 1};
    int plain = 0, scaled = 0;
    uint64_t idx;

    for (idx = 0; idx < 200; idx++) {
        kvc_case c;
        kvc_result r;
        kvc_case_record rec;
        char err[256];
        const char *dt;
        size_t v;

        if (kvc_case_generate(o.seed, idx, -1, &c, err, sizeof err) != 0)
            continue;
        memset(&r, 0, sizeof r);
        r.outcome = KVC_PASS;
        r.verdict.seq = -1;
        kvc_record_fill(&rec, &o, &c, &r, idx, 0.0);
        for (v = 0; v < 13; v++)
            if (!strcmp(rec.kv_format, valid[v]))
                break;
        cr_assert(v < 13, "case %" PRIu64 ": kv_format \"%s\"", idx,
                  rec.kv_format);
        dt = kvc_kv_dtype_name(c.prob.quant.dtype);
        cr_assert(!strncmp(rec.kv_format, dt, strlen(dt)),
                  "case %" PRIu64 ": %s is not %s", idx, rec.kv_format, dt);
        if (strchr(rec.kv_format, '/'))
            scaled++;
        else
            plain++;
        kvc_case_free(&c);
    }
    cr_assert(plain > 0 && scaled > 0, "plain %d, scaled %d", plain, scaled);
}

static char *summary_text(const kvc_campaign_stats *st)
{
    kvc_campaign_opts o = {.seed = 9, .cases = 12, .forced_mode = -1,
                           .shard_count = 1};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    kvc_campaign_print_summary(f, &o, st);
    fclose(f);
    return buf;
}

Test(reports_campaign, console_summary_has_a_formats_line)
{
    kvc_campaign_stats st;
    char *out;

    memset(&st, 0, sizeof st);
    st.run = 12;
    st.run_by_mode[0] = 12;
    st.run_by_format[KVC_KV_F32][KVC_SCALE_NONE] = 8;
    st.run_by_format[KVC_KV_F16][KVC_SCALE_NONE] = 1;
    st.run_by_format[KVC_KV_FP8_E4M3][KVC_SCALE_TOKEN] = 0;
    st.run_by_format[KVC_KV_NVFP4][KVC_SCALE_GROUP] = 3;
    st.failed = 2;
    st.failed_by_format[KVC_KV_NVFP4][KVC_SCALE_GROUP] = 2;
    st.failed_by_outcome[KVC_FAIL_NUMERIC] = 2;
    out = summary_text(&st);
    cr_assert(strstr(out, "\n  formats: f32 8, f16 1, nvfp4/group 3 "
                          "(failed: nvfp4/group 2)\n  failed: 2"),
              "%s", out);
    free(out);

    /* nothing failed: no failed part */
    st.failed = 0;
    st.failed_by_format[KVC_KV_NVFP4][KVC_SCALE_GROUP] = 0;
    st.failed_by_outcome[KVC_FAIL_NUMERIC] = 0;
    out = summary_text(&st);
    cr_assert(strstr(out, "\n  formats: f32 8, f16 1, nvfp4/group 3\n"),
              "%s", out);
    free(out);
}

/* libkvattn, except paged attention adds 1000 to its first output: every
 * paged case whose first row counts fails, whatever its KV format. */
static kva_status paged_off_by_1000(const kva_attn_params *p,
                                    const kva_paged_cache *c,
                                    const kva_paged_batch *b, const float *q,
                                    int64_t num_tokens, float *out,
                                    float *lse, kva_error *err)
{
    kva_status s = kvc_builtin_kernel.paged_attention(p, c, b, q, num_tokens,
                                                      out, lse, err);
    if (s == KVA_OK && num_tokens > 0)
        out[0] += 1000.0f;
    return s;
}

Test(reports_campaign, per_format_counters_match_the_records, .timeout = 120)
{
    kvc_kernel k = kvc_builtin_kernel;
    kvc_campaign_opts o = {.seed = 3, .cases = 150, .forced_mode = -1,
                           .shard_count = 1, .collect_records = 1};
    kvc_campaign_stats st;
    uint64_t run = 0, failed = 0;
    size_t formats_seen = 0;

    k.name = "paged-off-by-1000";
    k.paged_attention = paged_off_by_1000;
    kvc_campaign_run(&o, &k, &st);
    cr_assert_eq(st.num_records, st.run);
    cr_assert_gt(st.failed, 0);
    for (int d = 0; d <= KVC_KV_DTYPE_COUNT; d++)
        for (int kd = 0; kd <= KVC_SCALE_KIND_COUNT; kd++) {
            uint64_t nrun = 0, nfail = 0;
            char name[KVC_KV_FORMAT_LEN];

            kvc_kv_format_label((kvc_kv_dtype)d, (kvc_scale_kind)kd, name,
                                sizeof name);
            for (size_t i = 0; i < st.num_records; i++)
                if (!strcmp(st.records[i].kv_format, name)) {
                    nrun++;
                    nfail += !st.records[i].passed;
                }
            if (d == KVC_KV_DTYPE_COUNT || kd == KVC_SCALE_KIND_COUNT) {
                cr_assert_eq(st.run_by_format[d][kd], 0, "%s", name);
                continue; /* "?" labels are shared by several slots */
            }
            cr_assert_eq(st.run_by_format[d][kd], nrun, "%s run", name);
            cr_assert_eq(st.failed_by_format[d][kd], nfail, "%s failed",
                         name);
            run += nrun;
            failed += nfail;
            formats_seen += nrun > 0;
        }
    /* the rest are stateful sequences (generators/stateful.h): no cache
     * format of their own */
    uint64_t stateful = 0;
    for (size_t i = 0; i < st.num_records; i++)
        if (st.records[i].stateful[0]) {
            stateful++;
            cr_assert_str_eq(st.records[i].kv_format, "-");
        }
    cr_assert_eq(run + stateful, st.run);
    cr_assert_eq(failed, st.failed);
    cr_assert_geq(formats_seen, 4);
    kvc_campaign_stats_free(&st);
}

/* ---- what failed: failures by verdict kind and by flag ---- */

/* A run of 12 cases whose groups are worked out by hand (index = 10 + pos):
 *
 *   pos  outcome  verdict ratio  flags
 *    0   pass     0.1            "mha decode"
 *    1   numeric  5              "gqa decode"
 *    2   numeric  50             "gqa,prefill gqa"  (gqa twice: counts once)
 *    3   numeric  NaN            "mha prefill"
 *    4   numeric  2              "gqa"
 *    5   crash    (none)         "prefill window"
 *    6   crash    (none)         "window"
 *    7   timeout  (none)         ""
 *    8   pass     0.2            "window gqa"
 *    9   bounds   0.5            "mha"
 *   10   numeric  inf            "decode"
 *   11   pass     0.3            "prefill"
 *
 * kinds, most failures first: numeric 5 (worst NaN, inf, 50), crash 2
 * (lowest index first: 15, 16), bounds 1, timeout 1 (ties by name).
 * flags: gqa 3 of 4 (50, 5, 2), prefill 3 of 4 (NaN, 50, then the crash:
 * a verdict ranks before none), decode 2 of 3 (inf, 5), mha 2 of 3 (NaN,
 * 0.5), window 2 of 3 (15, 16).
 */
#define NTRIAGE 12

typedef struct triage_run {
    kvc_case_record rec[NTRIAGE];
    kvc_run_report run;
} triage_run;

static void make_triage_run(triage_run *tr)
{
    static const struct {
        const char *outcome, *flags;
        int verdict;
        double ratio;
    } t[NTRIAGE] = {
        {"pass", "mha decode", 1, 0.1},
        {"numeric", "gqa decode", 1, 5},
        {"numeric", "gqa,prefill gqa", 1, 50},
        {"numeric", "mha prefill", 1, NAN},
        {"numeric", "gqa", 1, 2},
        {"crash", "prefill window", 0, 0},
        {"crash", "window", 0, 0},
        {"timeout", "", 0, 0},
        {"pass", "window gqa", 1, 0.2},
        {"bounds", "mha", 1, 0.5},
        {"numeric", "decode", 1, INFINITY},
        {"pass", "prefill", 1, 0.3},
    };
    size_t i;

    memset(tr, 0, sizeof *tr);
    for (i = 0; i < NTRIAGE; i++) {
        kvc_case_record *c = &tr->rec[i];
        c->index = 10 + i;
        c->mode = "paged";
        c->outcome = t[i].outcome;
        c->passed = !strcmp(t[i].outcome, "pass");
        c->has_verdict = t[i].verdict;
        c->ratio = t[i].ratio;
        c->allowed = 1e-3;
        c->err = c->ratio * c->allowed;
        snprintf(c->kv_format, sizeof c->kv_format, "f32");
        snprintf(c->flags, sizeof c->flags, "%s", t[i].flags);
        snprintf(c->replay, sizeof c->replay,
                 "kvcheck replay --seed 9 --case %" PRIu64, c->index);
        if (!c->passed)
            snprintf(c->message, sizeof c->message, "case %zu: %s", i,
                     t[i].outcome);
    }
    tr->run.tool_version = "kvcheck 0.1";
    tr->run.command = "kvcheck run --cases 12 --seed 9";
    tr->run.kernel_name = "planted";
    tr->run.seed = 9;
    tr->run.shard_count = 1;
    tr->run.threshold = 1.0;
    tr->run.started_utc = "2024-05-01T12:34:56Z";
    tr->run.num_records = NTRIAGE;
    tr->run.records = tr->rec;
}

typedef struct want_fail {
    const char *name;
    size_t run, failed, nworst, worst[KVR_GROUP_WORST];
} want_fail;

static void check_fail_groups(const kvr_fail_group *g, size_t n,
                              const want_fail *w, size_t nw, const char *what)
{
    size_t i, k;

    cr_assert_eq(n, nw, "%s: %zu groups", what, n);
    for (i = 0; i < nw; i++) {
        cr_assert_str_eq(g[i].name, w[i].name, "%s %zu", what, i);
        cr_assert_eq(g[i].run, w[i].run, "%s run %zu", w[i].name, g[i].run);
        cr_assert_eq(g[i].failed, w[i].failed, "%s failed %zu", w[i].name,
                     g[i].failed);
        cr_assert_eq(g[i].nworst, w[i].nworst, "%s nworst", w[i].name);
        for (k = 0; k < w[i].nworst; k++)
            cr_assert_eq(g[i].worst[k], w[i].worst[k], "%s worst[%zu] = %zu",
                         w[i].name, k, g[i].worst[k]);
    }
}

Test(reports, failures_grouped_by_kind_and_flag)
{
    static const want_fail kinds[4] = {
        {"numeric", 5, 5, 3, {3, 10, 2}},
        {"crash", 2, 2, 2, {5, 6}},
        {"bounds", 1, 1, 1, {9}},
        {"timeout", 1, 1, 1, {7}},
    };
    static const want_fail flags[5] = {
        {"gqa", 4, 3, 3, {2, 1, 4}},
        {"prefill", 4, 3, 3, {3, 2, 5}},
        {"decode", 3, 2, 2, {10, 1}},
        {"mha", 3, 2, 2, {3, 9}},
        {"window", 3, 2, 2, {5, 6}},
    };
    triage_run tr;
    kvr_failures g;

    make_triage_run(&tr);
    cr_assert_eq(kvr_failures_init(&g, &tr.run), 0);
    cr_assert_eq(g.failed, 9);
    check_fail_groups(g.kinds, g.nkinds, kinds, 4, "kinds");
    check_fail_groups(g.flags, g.nflags, flags, 5, "flags");
    /* shown once: kinds first, then flags in order */
    cr_assert(kvr_worst_shown(&g, 2, 0, 0)); /* numeric showed it */
    cr_assert(!kvr_worst_shown(&g, 1, 0, 1)); /* gqa's second, new */
    cr_assert(kvr_worst_shown(&g, 1, 2, 1)); /* decode's: gqa showed it */
    kvr_failures_free(&g);

    /* a passing run has no groups */
    for (size_t i = 0; i < NTRIAGE; i++)
        tr.rec[i].passed = 1;
    cr_assert_eq(kvr_failures_init(&g, &tr.run), 0);
    cr_assert_eq(g.failed + g.nkinds + g.nflags, 0);
    kvr_failures_free(&g);
}

Test(reports, worst_order_keeps_the_worst_few)
{
    triage_run tr;
    kvr_failures g;
    size_t i;

    /* 12 numeric failures whose ratios rise with the index but for two
     * ties (the lower index wins) and one without a verdict (last) */
    make_triage_run(&tr);
    for (i = 0; i < NTRIAGE; i++) {
        tr.rec[i].passed = 0;
        tr.rec[i].outcome = "numeric";
        tr.rec[i].has_verdict = 1;
        tr.rec[i].ratio = (double)i;
        snprintf(tr.rec[i].flags, sizeof tr.rec[i].flags, "x");
    }
    tr.rec[11].has_verdict = 0; /* would be the worst by ratio */
    tr.rec[4].ratio = 10;       /* ties with 10: index 14 first */
    cr_assert_eq(kvr_failures_init(&g, &tr.run), 0);
    cr_assert_eq(g.nkinds, 1);
    cr_assert_eq(g.kinds[0].nworst, 3);
    cr_assert_eq(g.kinds[0].worst[0], 4);
    cr_assert_eq(g.kinds[0].worst[1], 10);
    cr_assert_eq(g.kinds[0].worst[2], 9);
    cr_assert_eq(g.flags[0].worst[0], 4);
    cr_assert_lt(kvr_fail_cmp(&tr.run, 0, 11), 0); /* verdict before none */
    cr_assert_gt(kvr_fail_cmp(&tr.run, 10, 4), 0);
    cr_assert_eq(kvr_fail_cmp(&tr.run, 3, 3), 0);
    kvr_failures_free(&g);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The text of s from the first occurrence of from to the next until (or
 * the end), malloc'd; NULL when from is absent. */
static char *section(const char *s, const char *from, const char *until)
{
    const char *a = strstr(s, from), *b;

    if (!a)
        return NULL;
    b = strstr(a + strlen(from), until);
    return strndup(a, b ? (size_t)(b - a) : strlen(a));
}

Test(reports, html_and_markdown_open_with_what_failed)
{
    triage_run tr;
    char *dir, *html, *md, *s;
    const char *what, *plots, *c13, *c20, *c12;

    make_triage_run(&tr);
    dir = write_run(&tr.run);
    html = read_out(dir, "index.html");
    cr_assert(strstr(html, "<div class=\"banner failed\">\n<h1>kvcheck: "
                           "FAILED</h1>"));
    cr_assert(strstr(html, "<b>9 of 12 cases failed</b> (12 of 12 planned"));
    cr_assert(strstr(html, "Exit status <b>1</b>: a case failed."));
    cr_assert(strstr(html, "<h2>What failed</h2>\n<p>Failures by kernel mode: "
                           "paged 9 of 12; by KV cache format: f32 9 of "
                           "12.</p>"));
    what = strstr(html, "<h2>What failed</h2>");
    plots = strstr(html, "<svg");
    cr_assert(what && plots && what < plots && what < strstr(html, "seed"));
    /* numeric's cards, worst first: NaN (13), inf (20), 50 (12) */
    s = section(html, "<h3>numeric: 5 failures, the worst 3</h3>", "<h3>");
    cr_assert_not_null(s);
    c13 = strstr(s, "id=\"case-13\""), c20 = strstr(s, "id=\"case-20\"");
    c12 = strstr(s, "id=\"case-12\"");
    cr_assert(c13 && c20 && c12 && c13 < c20 && c20 < c12, "%s", s);
    free(s);
    /* flags: counts, the share failed, each card's flags */
    cr_assert(strstr(html, "<tr><td>gqa</td><td class=\"num\">3</td><td "
                           "class=\"num\">4</td><td class=\"num\">75%</td>"));
    cr_assert(strstr(html, "<tr><td>crash</td><td class=\"num\">2</td>"));
    cr_assert(strstr(html, "flags: <span class=\"flag\">gqa</span><span "
                           "class=\"flag\">prefill</span><span class=\"flag\">"
                           "gqa</span>"));
    /* gqa's second worst (11) is not a kind's worst: a card of its own */
    s = section(html, "<h2>The worst of each flag</h2>", "<h2>");
    cr_assert(strstr(html, "<h2>The worst of each flag</h2>") > plots);
    cr_assert(s && strstr(s, "id=\"case-11\"") && !strstr(s, "id=\"case-12\""));
    cr_assert(strstr(s, "among the worst of flag: gqa, decode"), "%s", s);
    free(s);
    cr_assert_eq(count_of(html, "id=\"case-"), 9); /* each worst once */

    md = read_out(dir, "summary.md");
    cr_assert(starts_with(md, "# kvcheck: FAILED (9 of 12 cases failed)\n\n12 "
                              "of 12 planned cases done. Exit status **1**: a "
                              "case failed.\n\n## What failed\n\nFailures by "
                              "kernel mode: paged 9 of 12; by KV cache format: "
                              "f32 9 of 12.\n\n"), "%s", md);
    cr_assert(strstr(md, "| numeric | 5 | case 13 (ratio nan), case 20 "
                         "(ratio inf), "
                         "case 12 (ratio 50) |"), "%s", md);
    cr_assert(strstr(md, "| gqa | 3 | 4 | 75% | case 12 (ratio 50), case 11 "
                         "(ratio 5), case 14 (ratio 2) |"));
    cr_assert(strstr(md, "#### case 13: numeric, ratio nan"));
    cr_assert(strstr(md, "Flags: `gqa` `prefill` `gqa`"));
    cr_assert(strstr(md, "## What failed") < strstr(md, "## The run"));
    cr_assert(strstr(md, "## KV cache formats") <
                  strstr(md, "## The worst of each flag"));
    cr_assert(strstr(md, "#### case 11: numeric"));
    cr_assert(strstr(md, "```\nkvcheck replay --seed 9 --case 12\n```"));
    free(md);
    free(html);
    rm_rf(dir);
}

Test(reports, html_caps_the_failure_list_and_stays_small, .timeout = 60)
{
    const size_t n = 20000;
    kvc_case_record *rec = calloc(n, sizeof *rec);
    kvc_run_report run = {0};
    char *dir, *html, *list, *p;
    size_t i, len;

    cr_assert_not_null(rec);
    for (i = 0; i < n; i++) { /* every 4th case fails, as a real campaign */
        kvc_case_record *c = &rec[i];
        c->index = i;
        c->mode = i % 2 ? "paged" : "blocked";
        c->passed = i % 4 != 0;
        c->outcome = c->passed ? "pass" : i % 8 ? "numeric" : "cache";
        c->has_verdict = 1;
        c->ratio = c->passed ? 0.01 : (double)(i % 997) + 2;
        c->allowed = 1e-6;
        c->err = c->ratio * c->allowed;
        c->num_seqs = 3, c->num_q_heads = 8, c->num_kv_heads = 2;
        c->head_dim = 64 + 16 * (int)(i % 5);
        c->block_size = 16 << (i % 3);
        snprintf(c->kv_format, sizeof c->kv_format, "f32");
        snprintf(c->flags, sizeof c->flags, "prefill decode gqa "
                 "seq_on_block_edge odd_head_dim window f%zu", i % 30);
        snprintf(c->desc, sizeof c->desc, "paged S=3 Hq/Hkv=8/2 D=%d "
                 "B=%d ctx+q=[231+13,153+23,31+1] causal", c->head_dim,
                 c->block_size);
        if (!c->passed)
            snprintf(c->message, sizeof c->message, "out[seq 2, token 36, "
                     "head 10, dim 7]: got -0.99 want 0.2 ratio %g", c->ratio);
        snprintf(c->replay, sizeof c->replay, "kvcheck replay --seed 1 "
                 "--case %zu --kernel all --kernel-lib build/tests/"
                 "libkvattn_planted_no_rescale.so", i);
    }
    run.kernel_name = "planted";
    run.shard_count = 1;
    run.threshold = 1.0;
    run.num_records = n;
    run.records = rec;
    dir = write_run(&run);
    p = path_in(dir, "out");
    html = slurp(p, "index.html", &len);
    free(p);
    cr_assert_lt(len, 3u << 20, "index.html is %zu bytes", len);
    list = section(html, "<details>", "</details>");
    cr_assert_not_null(list);
    cr_assert_eq(count_of(list, "<tr><td class=\"num\">"), 500);
    cr_assert(strstr(list, "(the first 500)"));
    cr_assert(strstr(html, "and 4500 more failures not listed here: "
                           "summary.json has them all"));
    /* the banner and the groups come before the plots */
    cr_assert(strstr(html, "<b>5000 of 20000 cases failed</b>"));
    cr_assert(strstr(html, "<h2>What failed</h2>") < strstr(html, "<svg"));
    free(list);
    free(html);
    free(rec);
    rm_rf(dir);
}

#define HOSTILE "</code><script>alert(1)</script>&\"'"

Test(reports, hostile_text_is_escaped)
{
    fixture fx;
    kvc_case_record *c;
    char *dir, *html, *md;
    const char *p;

    make_run(&fx);
    c = &fx.rec[7]; /* the worst failure: in every section */
    snprintf(c->message, sizeof c->message, "%s", HOSTILE);
    snprintf(c->flags, sizeof c->flags, "gqa <b>bold</b>");
    snprintf(c->replay, sizeof c->replay, "kvcheck replay '%s'", HOSTILE);
    snprintf(c->desc, sizeof c->desc, "%s", HOSTILE);
    snprintf(c->repro, sizeof c->repro, "x\"><script>.json");
    dir = write_report(&fx);
    html = read_out(dir, "index.html");
    cr_assert_null(strstr(html, "<script"));
    cr_assert_null(strstr(html, "<b>bold"));
    cr_assert(strstr(html, "&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
                           "&amp;&quot;&#39;"));
    cr_assert(strstr(html, "<span class=\"flag\">&lt;b&gt;bold&lt;/b&gt;"
                           "</span>"));
    cr_assert(strstr(html, "<a href=\"x%22%3E%3Cscript%3E.json\">"));
    md = read_out(dir, "summary.md");
    /* raw only as code (a fenced block or a span: shown, never run) */
    for (p = strstr(md, "<script"); p; p = strstr(p + 1, "<script")) {
        const char *line = p;
        while (line > md && line[-1] != '\n')
            line--;
        cr_assert(!strncmp(line, "kvcheck replay '", 16) ||
                      strstr(line, "`kvcheck replay '") < p,
                  "raw markup outside code: %.80s", line);
    }
    cr_assert(strstr(md, "&lt;/code&gt;&lt;script&gt;"));
    cr_assert(strstr(md, "(x%22%3E%3Cscript%3E.json)"));
    free(md);
    free(html);
    rm_rf(dir);
}

Test(reports, interrupted_banner_and_state_everywhere)
{
    fixture fx;
    char *dir, *html, *md, *json, *xml;
    cJSON *root;

    make_run(&fx);
    fx.run.state = "interrupted";
    fx.run.cases_planned = 100;
    dir = write_report(&fx);
    html = read_out(dir, "index.html");
    cr_assert(strstr(html, "<div class=\"banner interrupted\">\n<h1>kvcheck: "
                           "INTERRUPTED</h1>\n<p><b>30 of 100 planned cases "
                           "done</b>, 8 failed so far"), "%.600s",
              strstr(html, "<div class=\"banner"));
    cr_assert(strstr(html, "(so far; not final)"));
    cr_assert(strstr(html, "<title>kvcheck report: INTERRUPTED</title>"));
    md = read_out(dir, "summary.md");
    cr_assert(starts_with(md, "# kvcheck: INTERRUPTED (30 of 100 planned "
                              "cases done, 8 failed so far)\n"), "%.100s", md);
    cr_assert(strstr(md, "- **state:** interrupted"));
    json = read_out(dir, "summary.json");
    root = cJSON_Parse(json);
    cr_assert_not_null(root);
    cr_assert_str_eq(cJSON_GetObjectItem(root, "state")->valuestring,
                     "interrupted");
    cr_assert_eq(num(root, "cases_planned"), 100);
    cr_assert_eq(num(root, "exit_status"), 1);
    cJSON_Delete(root);
    xml = read_out(dir, "junit.xml");
    cr_assert_eq(count_of(xml, "<property name=\"state\" value=\"interrupted\""
                               "/>"), 3);
    cr_assert(strstr(xml, "<property name=\"cases_planned\" value=\"100\"/>"));
    free(xml);
    free(json);
    free(md);
    free(html);
    rm_rf(dir);

    /* complete: the caller's exit status and its meaning */
    fx.run.state = "complete";
    fx.run.exit_status = 3;
    dir = write_report(&fx);
    html = read_out(dir, "index.html");
    cr_assert(strstr(html, "<h1>kvcheck: FAILED</h1>"));
    cr_assert(strstr(html, "Exit status <b>3</b>: I/O or internal error."));
    free(html);
    rm_rf(dir);
}

/* Whether the text from "from" to the next "until" contains needle. */
static int section_has(const char *s, const char *from, const char *until,
                       const char *needle)
{
    char *sec = section(s, from, until);
    int has;

    cr_assert_not_null(sec, "no %s", from);
    has = strstr(sec, needle) != NULL;
    free(sec);
    return has;
}

Test(reports, repro_links_exactly_when_set)
{
    fixture fx;
    char *dir, *html, *md, *json, from[64];
    const cJSON *cases, *c;
    cJSON *root;
    size_t i, with = 0;

    make_run(&fx);
    snprintf(fx.rec[7].repro, sizeof fx.rec[7].repro, "repro-case-1049.json");
    snprintf(fx.rec[3].repro, sizeof fx.rec[3].repro, "repro dir/case:1021.json");
    dir = write_report(&fx);
    html = read_out(dir, "index.html");
    md = read_out(dir, "summary.md");
    for (i = 0; i < NREC; i++) {
        int set = fx.rec[i].repro[0] != 0;
        if (fx.rec[i].passed)
            continue;
        with += set;
        /* its row in the full list, its section in summary.md */
        snprintf(from, sizeof from, "<tr><td class=\"num\">%" PRIu64 "</td>",
                 fx.rec[i].index);
        cr_assert_eq(section_has(html, from, "</tr>", "class=\"repro\""), set,
                     "case %" PRIu64, fx.rec[i].index);
        snprintf(from, sizeof from, "### case %" PRIu64 " (",
                 fx.rec[i].index);
        cr_assert_eq(section_has(md, from, "###", "Reproducer: ["), set,
                     "case %" PRIu64, fx.rec[i].index);
    }
    cr_assert_eq(with, 2);
    cr_assert_eq(count_of(html, "class=\"repro\""),
                 count_of(html, "<a href=\"repro-case-1049.json\">") +
                     count_of(html, "<a href=\"repro%20dir/case%3A1021.json\">"));
    cr_assert(strstr(md, "Reproducer: [repro dir/case:1021.json]"
                         "(repro%20dir/case%3A1021.json)"));
    json = read_out(dir, "summary.json");
    root = cJSON_Parse(json);
    cases = cJSON_GetObjectItem(root, "cases");
    c = case_by_index(cases, 1049);
    cr_assert_str_eq(cJSON_GetObjectItem(c, "repro")->valuestring,
                     "repro-case-1049.json");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(case_by_index(cases, 1000),
                                               "repro")));
    cJSON_Delete(root);
    free(json);
    free(md);
    free(html);
    rm_rf(dir);
}

Test(reports, junit_with_flags_validates)
{
    fixture fx;
    char *dir, *xml, *cmd;

    cr_assert_eq(system("command -v xmllint > /dev/null"), 0,
                 "xmllint missing: run `make deps` (libxml2-utils)");
    make_run(&fx);
    fx.run.state = "interrupted";
    fx.run.cases_planned = 40;
    snprintf(fx.rec[7].flags, sizeof fx.rec[7].flags, "gqa <odd> & \"flag\"");
    snprintf(fx.rec[7].repro, sizeof fx.rec[7].repro, "repro-case-1049.json");
    dir = write_report(&fx);
    xml = read_out(dir, "junit.xml");
    cr_assert(strstr(xml, "flags: mha partial_block\nreplay: "));
    cr_assert(strstr(xml, "flags: gqa &lt;odd&gt; &amp; &quot;flag&quot;\n"
                          "reproducer: repro-case-1049.json\nreplay: "));
    cr_assert_eq(count_of(xml, "\nflags: "), count_of(xml, "<failure "));
    check_xml(xml);
    cr_assert(asprintf(&cmd, "xmllint --noout --schema tests/junit.xsd "
                             "'%s/out/junit.xml' 2>/dev/null", dir) > 0);
    cr_assert_eq(system(cmd), 0, "junit.xml does not validate");
    free(cmd);
    free(xml);
    rm_rf(dir);
}
