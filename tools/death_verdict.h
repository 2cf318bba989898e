/*
 * death_verdict.h — the verdict of a case (or golden test) whose worker
 * process never answered (tools/workers.h): a fault on a guard page is
 * `bounds` (the worker's note names the buffer), any other signal
 * `crash`, any exit `exit`, the deadline `timeout`, errors valgrind
 * counted while it ran `memory`.
 */
#ifndef KVC_DEATH_VERDICT_H
#define KVC_DEATH_VERDICT_H

#include "runner.h"
#include "workers.h"

/* Fill r (zeroed first) with the outcome and message of death d. */
void kvc_death_verdict(const kvc_job_death *d, kvc_result *r);

#endif
