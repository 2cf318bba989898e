/*
 * fuzz_golden_parse.c — the golden/reproducer JSON reader on arbitrary
 * bytes (golden/golden.h):
 *   - kvc_golden_parse gets an exactly-sized, NOT NUL-terminated copy of the
 *     input (the API takes a length), so a read past the end is caught;
 *   - on failure: a non-empty message, and *f all zero ("never a partly
 *     filled *f");
 *   - on success: serializing the parsed file and parsing that again must
 *     succeed, and serializing the second parse must give the same bytes
 *     (write∘parse is idempotent: what the reader accepts, the writer can
 *     represent and the reader reads back identically); then
 *     kvc_golden_free.
 * The same bytes go to the cache operation vectors' reader
 * (golden/golden_cache.h): a refusal leaves *f all zero.
 * A dictionary of the format's keys is fuzz/dict/golden_parse.dict.
 */
#include <stdlib.h>
#include <string.h>

#include "../golden/golden.h"
#include "../golden/golden_cache.h"
#include "fuzz_helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_dup(data, size, 1);
    kvc_golden_file f;
    char err[512];
    kvc_cache_file cf;
    if (kvc_cache_golden_parse(text, size, "fuzz-input", &cf, err, sizeof err) == 0)
        kvc_cache_golden_free(&cf);
    else
        FZ_ASSERT(cf.num_tests == 0 && cf.tests == NULL, "cache reader: *f left filled");
    memset(&f, 0xA5, sizeof f);
    err[0] = '\0';
    int rc = kvc_golden_parse(text, size, "fuzz-input", &f, err, sizeof err);
    free(text);
    if (rc != 0) {
        FZ_ASSERT(rc == -1, "kvc_golden_parse returned %d", rc);
        FZ_ASSERT(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0',
                  "kvc_golden_parse failed without a message");
        FZ_ASSERT(all_zero(&f, sizeof f),
                  "kvc_golden_parse failed (%s) but left *f partly filled",
                  err);
        return 0;
    }

    /* write -> parse -> write must reproduce the first write exactly */
    char *j1 = kvc_golden_to_json(&f, err, sizeof err);
    FZ_ASSERT(j1 != NULL, "a parsed golden file cannot be serialized: %s", err);
    kvc_golden_file g;
    int rc2 = kvc_golden_parse(j1, strlen(j1), "fuzz-roundtrip", &g, err,
                               sizeof err);
    FZ_ASSERT(rc2 == 0, "the serialization of a parsed file does not parse: "
              "%s\n--- serialized ---\n%.2000s", err, j1);
    char *j2 = kvc_golden_to_json(&g, err, sizeof err);
    FZ_ASSERT(j2 != NULL, "re-serialization failed: %s", err);
    FZ_ASSERT(strcmp(j1, j2) == 0, "write(parse(write(f))) != write(f)\n"
              "--- first ---\n%.2000s\n--- second ---\n%.2000s", j1, j2);
    free(j1);
    free(j2);
    kvc_golden_free(&g);
    kvc_golden_free(&f);
    return 0;
}
