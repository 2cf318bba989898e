/* golden_free.c — releasing golden tests and files. */
#include "golden.h"

#include <stdlib.h>
#include <string.h>

void kvc_golden_expect_clear(kvc_golden_test *t)
{
    if (!t)
        return;
    free(t->out);
    free(t->lse);
    free(t->tol_out);
    free(t->tol_lse);
    free(t->k_codes);
    free(t->v_codes);
    free(t->k_token_scales);
    free(t->v_token_scales);
    free(t->k_group_codes);
    free(t->v_group_codes);
    t->out = t->lse = t->tol_out = t->tol_lse = NULL;
    t->k_codes = t->v_codes = NULL;
    t->k_token_scales = t->v_token_scales = NULL;
    t->k_group_codes = t->v_group_codes = NULL;
}

void kvc_golden_test_free(kvc_golden_test *t)
{
    if (!t)
        return;
    kvc_case_free(&t->c);
    kvc_golden_expect_clear(t);
    memset(t, 0, sizeof *t);
}

void kvc_golden_free(kvc_golden_file *f)
{
    if (!f)
        return;
    for (int i = 0; f->tests && i < f->num_tests; i++)
        kvc_golden_test_free(&f->tests[i]);
    free(f->tests);
    memset(f, 0, sizeof *f);
}
