/* golden_reader.c — FORMAT.md's Python reader as a file (golden_reader.h). */
#include "golden_reader.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subprocess.h"

void kvc_extract_golden_reader(const char *dir, char *out, size_t n)
{
    char *md = kvc_read_file("golden/FORMAT.md");
    cr_assert_not_null(md, "golden/FORMAT.md not found (run from the "
                           "repository root)");
    const char *open = "```python golden-reader\n";
    char *a = strstr(md, open);
    cr_assert_not_null(a, "no ```python golden-reader block in "
                          "golden/FORMAT.md");
    a += strlen(open);
    char *b = strstr(a, "\n```");
    cr_assert_not_null(b, "the golden-reader block of golden/FORMAT.md is "
                          "not closed");
    snprintf(out, n, "%s/reader.py", dir);
    FILE *fp = fopen(out, "w");
    cr_assert_not_null(fp);
    fwrite(a, 1, (size_t)(b - a) + 1, fp);
    fclose(fp);
    free(md);
}
