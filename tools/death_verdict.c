/* death_verdict.c — verdicts of cases whose worker died. */
#include "death_verdict.h"

#include <stdio.h>
#include <string.h>

static kvc_outcome death_outcome(const kvc_job_death *d)
{
    switch (d->end) {
    case KVC_JOB_SIGNAL: return d->note[0] ? KVC_FAIL_BOUNDS : KVC_FAIL_CRASH;
    case KVC_JOB_EXIT: return KVC_FAIL_EXIT;
    case KVC_JOB_TIMEOUT: return KVC_FAIL_TIMEOUT;
    case KVC_JOB_MEMCHECK: return KVC_FAIL_MEMORY;
    default: return KVC_FAIL_CRASH;
    }
}

void kvc_death_verdict(const kvc_job_death *d, kvc_result *r)
{
    char how[640];
    memset(r, 0, sizeof *r);
    r->verdict.seq = -1;
    r->outcome = death_outcome(d);
    kvc_job_death_text(d, how, sizeof how);
    /* Both parts are bounded; the message keeps what fits. */
    size_t used = 0;
    if (d->note[0])
        used = (size_t)snprintf(r->message, sizeof r->message, "%.300s; ",
                                d->note);
    snprintf(r->message + used, sizeof r->message - used, "%.200s", how);
}
