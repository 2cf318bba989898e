/* golden_free.c — releasing golden tests and files. */
#include "golden.h"

#include <stdlib.h>
#include <string.h>

void kvc_golden_test_free(kvc_golden_test *t)
{
    if (!t)
        return;
    kvc_case_free(&t->c);
    free(t->out);
    free(t->lse);
    free(t->tol_out);
    free(t->tol_lse);
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
