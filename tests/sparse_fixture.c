/* sparse_fixture.c — see sparse_fixture.h. */
#include "sparse_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/named.h"

void sparse_named_file(const char *name, kvc_golden_file *f)
{
    const kvc_named_case *nc = NULL;
    for (size_t i = 0; i < kvc_named_count(); i++)
        if (!strcmp(kvc_named_get(i)->name, name))
            nc = kvc_named_get(i);
    cr_assert_not_null(nc, "no named case %s", name);
    kvc_case_spec s = kvc_named_spec(nc);
    char err[512];
    memset(f, 0, sizeof *f);
    snprintf(f->generator, sizeof f->generator, "kvcheck fixture");
    snprintf(f->oracle_version, sizeof f->oracle_version, "%s",
             KVC_ORACLE_VERSION);
    f->tests = calloc(1, sizeof *f->tests);
    cr_assert_not_null(f->tests);
    f->num_tests = 1;
    kvc_golden_test *t = &f->tests[0];
    cr_assert_eq(kvc_case_build(&s, 11, &t->c, err, sizeof err), 0, "%s", err);
    t->tc_id = 1;
    t->flags = t->c.flags;
    t->result = KVC_EXPECT_VALID;
    snprintf(t->comment, sizeof t->comment, "%s", nc->comment);
    cr_assert_eq(kvc_golden_expect(t, err, sizeof err), 0, "%s", err);
}

char *sparse_json(const kvc_golden_file *f)
{
    char err[512];
    char *text = kvc_golden_to_json(f, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    return text;
}

char *sparse_replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "no \"%s\" in the text", from);
    size_t head = (size_t)(at - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(strlen(text) - fl + tl + 1);
    cr_assert_not_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tl);
    strcpy(out + head + tl, at + fl);
    return out;
}

char *sparse_set_value(const char *text, const char *key, const char *value)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(text, pat);
    cr_assert_not_null(at, "no key %s", key);
    at += strlen(pat);
    size_t n = strcspn(at, ",\n");
    char old[128];
    cr_assert_lt(n + strlen(pat), sizeof old);
    snprintf(old, sizeof old, "%s%.*s", pat, (int)n, at);
    char repl[128];
    snprintf(repl, sizeof repl, "%s%s", pat, value);
    return sparse_replace(text, old, repl);
}

void sparse_assert_refused(const char *text, const char *field,
                           const char *why)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_parse(text, strlen(text), "sparse.json", &f, err,
                                  sizeof err), -1,
                 "accepted; expected a refusal naming %s (%s)", field, why);
    cr_assert(strstr(err, field) != NULL, "message lacks %s: %s", field, err);
    cr_assert(strstr(err, why) != NULL, "message lacks \"%s\": %s", why, err);
}

char *sparse_tmp_dir(void)
{
    char *d = strdup("/tmp/kvc_sparse_XXXXXX");
    cr_assert_not_null(d);
    cr_assert_not_null(mkdtemp(d));
    return d;
}

void sparse_rm_dir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}
