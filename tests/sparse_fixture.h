/*
 * sparse_fixture.h — helpers the sparse-pool tests share: a golden test
 * built from a named large-offset case, text edits of a written file, and
 * a scratch directory.
 */
#ifndef KVC_SPARSE_FIXTURE_H
#define KVC_SPARSE_FIXTURE_H

#include <stddef.h>

#include "../golden/golden.h"

/* The one-test file of named case `name` (e.g. "paged.large_offsets")
 * built from value seed 11, expected values included. */
void sparse_named_file(const char *name, kvc_golden_file *f);

/* kvc_golden_to_json of f (asserting it succeeds). */
char *sparse_json(const kvc_golden_file *f);

/* A copy of text with the first occurrence of `from` replaced by `to`
 * (asserting there is one). */
char *sparse_replace(const char *text, const char *from, const char *to);

/* A copy of text with the value of the first `"key": ` (up to the next ','
 * or newline) replaced by `value`. */
char *sparse_set_value(const char *text, const char *key, const char *value);

/* Parse text and assert that it is refused with a message containing both
 * `field` and `why`. */
void sparse_assert_refused(const char *text, const char *field,
                           const char *why);

/* A new scratch directory (malloc'd name) and its removal. */
char *sparse_tmp_dir(void);
void sparse_rm_dir(char *dir);

#endif
