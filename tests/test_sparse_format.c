/*
 * test_sparse_format.c — the golden reader's rules for sparse pools
 * (golden/FORMAT.md, "Sparse pools"): what is accepted, what is refused
 * and with which message, and that version 2 files read as before.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../golden/golden_internal.h"
#include "sparse_fixture.h"

static char *named_text(const char *name)
{
    kvc_golden_file f;
    sparse_named_file(name, &f);
    char *text = sparse_json(&f);
    kvc_golden_free(&f);
    return text;
}

/* A virtual size past 2^40 bytes is refused: no reader should be asked to
 * map it, even without reserving memory. */
Test(sparse_format, refuses_a_virtual_size_beyond_the_bound)
{
    char *text = named_text("paged.large_offsets"); /* f32: 4-byte units */
    cr_assert(strstr(text, "\"kvDtype\": \"f32\"") != NULL);
    char *big = sparse_set_value(text, "poolElems", "274877906945"); /* 2^38+1 */
    sparse_assert_refused(big, "'layout.poolElems'", "exceeds the limit of "
                          "1099511627776 bytes (2^40)");
    free(big);
    big = sparse_set_value(text, "numBlocks", "2147483648");
    sparse_assert_refused(big, "'layout.numBlocks'", "outside 1..2147483647");
    free(big);
    free(text);
}

/* The marker is required exactly when the pool passes the dense limit,
 * only as true, only in version 3, only for paged pools. */
Test(sparse_format, marker_rules)
{
    char *text = named_text("paged.large_offsets");
    char *t = sparse_replace(text, "\"sparse\": true,\n", "");
    sparse_assert_refused(t, "'layout.poolElems'", "must be marked \"sparse\"");
    free(t);
    t = sparse_replace(text, "\"sparse\": true", "\"sparse\": false");
    sparse_assert_refused(t, "'layout.sparse'", "expected true");
    free(t);
    t = sparse_replace(text, "\"schemaVersion\": 3", "\"schemaVersion\": 2");
    sparse_assert_refused(t, "'layout.sparse'", "needs schemaVersion 3");
    free(t);
    free(text);

    /* a small pool marked sparse: one encoding per content */
    text = named_text("paged.decode");
    t = sparse_replace(text, "\"schemaVersion\": 2", "\"schemaVersion\": 3");
    char *u = sparse_replace(t, "\"numBlocks\"", "\"sparse\": true,\n\"numBlocks\"");
    sparse_assert_refused(u, "'layout.sparse'", "within the dense limit");
    free(t);
    free(u);
    free(text);
}

/* What a sparse pool really holds (the blocks its table names) stays
 * within the limit of allocated units. */
Test(sparse_format, refuses_too_many_used_blocks)
{
    kvc_golden_file f;
    sparse_named_file("paged.large_offsets", &f);
    kvc_layout *L = &f.tests[0].c.layout;
    const int S = f.tests[0].c.prob.num_seqs, M = L->max_blocks_per_seq;
    const int wide = (int)(KVCG_GOLDEN_MAX_ELEMS / L->stride_block) + 2 * M;
    int *table = malloc((size_t)S * wide * sizeof *table);
    cr_assert_not_null(table);
    /* entries past a sequence's need may name any block: name new ones */
    for (int s = 0; s < S; s++)
        for (int b = 0; b < wide; b++)
            table[s * wide + b] = b < M ? L->block_table[s * M + b]
                                        : (int)(L->num_blocks - 1 - b - s * wide);
    free(L->block_table);
    L->block_table = table;
    L->max_blocks_per_seq = wide;
    char err[512];
    char *text = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_null(text, "a sparse pool using %d blocks was written", S * wide);
    cr_assert(strstr(err, "'layout.blockTable'") != NULL, "%s", err);
    cr_assert(strstr(err, "blocks a sparse pool uses hold more than") != NULL,
              "%s", err);
    kvc_golden_free(&f);
}

/* Files without a sparse pool stay version 2 (and say nothing of sparse
 * pools); the committed standard files are version 2 and read as before. */
Test(sparse_format, version_2_files_still_read, .timeout = 60)
{
    char *text = named_text("paged.decode");
    cr_assert(strstr(text, "\"schemaVersion\": 2,\n") != NULL);
    cr_assert(strstr(text, "sparse") == NULL);
    free(text);
    static const char *const committed[] = {
        "golden/vectors/blocked_attention.json",
        "golden/vectors/qeff_paged_attention.json"};
    for (int i = 0; i < 2; i++) {
        FILE *fp = fopen(committed[i], "r");
        cr_assert_not_null(fp, "%s", committed[i]);
        char head[128];
        size_t n = fread(head, 1, sizeof head - 1, fp);
        fclose(fp);
        head[n] = '\0';
        cr_assert(strstr(head, "\"schemaVersion\": 2,") != NULL, "%s",
                  committed[i]);
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(committed[i], &f, err, sizeof err), 0,
                     "%s", err);
        kvc_golden_free(&f);
    }
}

/* schema.json takes a sparse file and refuses the marker as false. */
Test(sparse_format, schema_json_describes_sparse_pools, .timeout = 60)
{
    if (system("python3 -c 'import jsonschema' > /dev/null 2>&1") != 0)
        cr_skip_test("python3 with jsonschema is not installed");
    char *dir = sparse_tmp_dir();
    char *text = named_text("paged.large_offsets");
    char *bad = sparse_replace(text, "\"sparse\": true", "\"sparse\": false");
    const char *const bodies[2] = {text, bad};
    for (int i = 0; i < 2; i++) {
        char path[600], cmd[1600];
        snprintf(path, sizeof path, "%s/f%d.json", dir, i);
        FILE *fp = fopen(path, "w");
        cr_assert_not_null(fp);
        fputs(bodies[i], fp);
        fclose(fp);
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import json, sys, jsonschema; "
                 "jsonschema.validate(json.load(open(sys.argv[2])), "
                 "json.load(open(sys.argv[1])), "
                 "cls=jsonschema.Draft202012Validator)' "
                 "golden/schema.json '%s' > /dev/null 2>&1", path);
        int rc = system(cmd);
        if (i == 0)
            cr_assert_eq(rc, 0, "schema.json refuses a sparse file");
        else
            cr_assert_neq(rc, 0, "schema.json accepts \"sparse\": false");
    }
    free(text);
    free(bad);
    sparse_rm_dir(dir);
}

/* The Python block of FORMAT.md ("golden-rebase") rebases a sparse pool's
 * used blocks and finds every new token where the rebased table says. */
Test(sparse_format, format_md_rebase_snippet_runs, .timeout = 60)
{
    if (system("python3 -c 'import json' > /dev/null 2>&1") != 0)
        cr_skip_test("python3 is not installed");
    FILE *md = fopen("golden/FORMAT.md", "r");
    cr_assert_not_null(md);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, md);
    fclose(md);
    doc[n] = '\0';
    const char *open = "```python golden-rebase\n";
    char *a = strstr(doc, open);
    cr_assert_not_null(a, "no golden-rebase block in golden/FORMAT.md");
    a += strlen(open);
    char *b = strstr(a, "```\n");
    cr_assert_not_null(b);
    *b = '\0';

    char *dir = sparse_tmp_dir();
    char script[600], file[600], cmd[1400], out[1024];
    snprintf(script, sizeof script, "%s/rebase.py", dir);
    snprintf(file, sizeof file, "%s/sparse.json", dir);
    FILE *fp = fopen(script, "w");
    cr_assert_not_null(fp);
    fputs(a, fp);
    fclose(fp);
    char *text = named_text("paged.large_offsets");
    fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(text);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' 2>&1", script, file);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rebase.py: %s", out);
    cr_assert(strstr(out, "tcId 1: ") != NULL, "%s", out);
    cr_assert(strstr(out, "rebased to") != NULL, "%s", out);
    sparse_rm_dir(dir);
}
