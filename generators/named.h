/*
 * named.h — the fixed list of named boundary cases: hand-written specs, one
 * per boundary a kernel is known to get wrong. The tests run each against
 * the oracle, the golden set freezes them, the fuzz seed corpora start from
 * them. Names are "<mode>.<boundary>", unique.
 */
#ifndef KVC_NAMED_H
#define KVC_NAMED_H

#include <stddef.h>

#include "case.h"

typedef struct kvc_named_case {
    const char *name;
    const char *comment;           /* the boundary, one sentence */
    kvc_mode mode;
    void (*tweak)(kvc_case_spec *s); /* applied to kvc_named_base(mode) */
} kvc_named_case;

/* The base every named case starts from: one sequence, GQA 4/2, D 16,
 * B 16, decode at position 20, normal leak-sensitive values. */
kvc_case_spec kvc_named_base(kvc_mode mode);

size_t kvc_named_count(void);
/* Case i (< kvc_named_count()), or NULL. */
const kvc_named_case *kvc_named_get(size_t i);
/* The spec of a named case. */
kvc_case_spec kvc_named_spec(const kvc_named_case *nc);

#endif
