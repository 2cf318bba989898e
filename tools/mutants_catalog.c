/* mutants_catalog.c — the catalog of kernels/mutants.def as data. */
#include <stddef.h>

#include "mutants.h"

const kvc_mutant_info kvc_mutant_catalog[] = {
#define KVA_MUTANT_DEF(id, name, where, cls) {id, name, where, cls},
#include "../kernels/mutants.def"
#undef KVA_MUTANT_DEF
};

const int kvc_mutant_catalog_count =
    (int)(sizeof kvc_mutant_catalog / sizeof kvc_mutant_catalog[0]);

const kvc_mutant_info *kvc_mutant_find(int id)
{
    for (int i = 0; i < kvc_mutant_catalog_count; i++)
        if (kvc_mutant_catalog[i].id == id)
            return &kvc_mutant_catalog[i];
    return NULL;
}
