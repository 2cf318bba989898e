/*
 * run_shrink.h — `kvcheck run --shrink`: the first failures of a finished
 * campaign shrunk into reproducer files, each in a worker process (the
 * shrinker runs the kernel under test hundreds of times; it may crash or
 * hang there too, and the run must survive it).
 */
#ifndef KVC_RUN_SHRINK_H
#define KVC_RUN_SHRINK_H

#include "campaign.h"
#include "reproducer.h"

#define KVC_RUN_SHRINK_FIRST 5

/* Shrink the first KVC_RUN_SHRINK_FIRST failures in st->records into
 * dir/repro-case-I.json, printing each; a written file is named in its
 * record's `repro`. Failures that end a worker (crash, timeout, exit) are
 * not shrunk: their replay command reproduces them in the foreground.
 * k: as for kvc_campaign_run. Returns the number of files written. */
int kvc_run_shrink_failures(const kvc_campaign_opts *o, const kvc_kernel *k,
                            kvc_campaign_stats *st, const char *dir);

/* `kvcheck shrink`: shrink case (o->seed, index, o->forced_mode) into path
 * in a worker process (kernel k, or NULL: the worker loads o->kernel_lib;
 * o->claim and o->kernel_threads as in a campaign). Returns what
 * kvc_write_reproducer returns (0 written, 1 the case passes, -1 error), or
 * -2 when the worker died (err says how: the kernel crashes, exits or
 * hangs on the case; replay runs it in the foreground). */
int kvc_shrink_isolated(const kvc_campaign_opts *o, uint64_t index,
                        const kvc_kernel *k, const char *path,
                        kvc_repro *info, char *err, size_t errlen);

#endif
