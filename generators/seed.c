/* seed.c — the per-case seed (splitmix64) and the case RNG helpers. */
#include "gen_internal.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

uint64_t kvcg_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 is a bijection, so distinct indices of one seed get distinct
 * case seeds. */
uint64_t kvc_case_seed(uint64_t seed, uint64_t index)
{
    return kvcg_splitmix64(kvcg_splitmix64(seed) ^ index);
}

uint64_t kvc_attempt_seed(uint64_t seed, uint64_t index, int attempt)
{
    uint64_t cs = kvc_case_seed(seed, index);
    return attempt <= 0 ? cs : kvcg_splitmix64(cs ^ kvcg_splitmix64((uint64_t)attempt));
}

gsl_rng *kvcg_rng_new(uint64_t seed)
{
    /* Process-global but idempotent: GSL's default handler aborts. */
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return NULL;
    /* mt19937 uses the low 32 bits of its seed: fold the high half in. */
    gsl_rng_set(r, (unsigned long)((seed ^ (seed >> 32)) & 0xffffffffULL));
    return r;
}

uint64_t kvcg_rng_u64(gsl_rng *r)
{
    uint64_t hi = (uint64_t)gsl_rng_get(r) & 0xffffffffULL;
    uint64_t lo = (uint64_t)gsl_rng_get(r) & 0xffffffffULL;
    return (hi << 32) | lo;
}

int kvcg_int(gsl_rng *r, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)gsl_rng_uniform_int(r, (unsigned long)((int64_t)hi - lo + 1));
}

int kvcg_chance(gsl_rng *r, double p)
{
    return (int)gsl_ran_bernoulli(r, p);
}

int kvcg_pick(gsl_rng *r, const double *w, int n)
{
    gsl_ran_discrete_t *t = gsl_ran_discrete_preproc((size_t)n, w);
    if (!t)
        return 0;
    int k = (int)gsl_ran_discrete(r, t);
    gsl_ran_discrete_free(t);
    return k;
}
