/*
 * golden_reader.h — the Python reader that golden/FORMAT.md shows (its
 * ```python golden-reader block), written out to run: the code a user
 * copies is the code the tests run (suites golden_format, golden_python).
 */
#ifndef KVC_TEST_GOLDEN_READER_H
#define KVC_TEST_GOLDEN_READER_H

#include <stddef.h>

/* Write the block into dir/reader.py and its path into out (a Criterion
 * assertion fails when FORMAT.md or the block is missing). */
void kvc_extract_golden_reader(const char *dir, char *out, size_t n);

#endif
