/*
 * golden_variant.h — the `variant` object of an invalid golden test
 * (FORMAT.md, "variant"): a valid case whose kernel call gets one
 * attention parameter, query_start_loc entry, cache description field,
 * static scale or stride broken, as the campaign's invalid variants do
 * (generators/invalid.h). Internal to golden/: the reader and the writer
 * share the field table here, so what one writes the other reads.
 *
 * The object holds the rule's name, its one-line description (`what`) and
 * exactly the values handed to the kernel that differ from the case's own
 * (kvc_invalid_init of the case); nothing else.
 */
#ifndef KVC_GOLDEN_VARIANT_H
#define KVC_GOLDEN_VARIANT_H

#include <stddef.h>

#include "../generators/invalid.h"
#include "golden.h"

struct cJSON;

/* Whether a rule is broken in what the runner hands the kernel (a variant
 * can carry it) rather than in the case's own arrays. */
int kvcg_variant_rule(kvc_invalid_rule r);

/* The object's text at indentation `level` (2 spaces a level): "{\n",
 * one key per line at level + 1, then the closing brace at `level`, no
 * trailing comma or newline. malloc'd; NULL when out of memory or when
 * inv's rule is not a variant rule. */
char *kvcg_variant_text(const kvc_invalid *inv, const kvc_case *c, int level);

/* Parse the object x of a test whose case c is built (its flags as the
 * file states them in c->flags): *inv = kvc_invalid_init(c) plus x's
 * overrides. Returns 0, or -1 with the field ("variant.softcap") in
 * field[] and the message in msg[]. */
int kvcg_variant_parse(const struct cJSON *x, const kvc_case *c,
                       kvc_invalid *inv, char *field, size_t fieldlen,
                       char *msg, size_t msglen);

#endif /* KVC_GOLDEN_VARIANT_H */
