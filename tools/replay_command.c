/* replay_command.c — the one-line command that replays a campaign case,
 * shell-quoted, with every option the case's result depends on. */
#include <stdio.h>

#include "campaign.h"
#include "shell_quote.h"
#include "size_cli.h"

void kvc_replay_command(const kvc_campaign_opts *o, uint64_t index,
                        char *buf, size_t n)
{
    /* --kv-dtype is not carried: replay runs the one case whatever its
     * format, and a campaign only reports cases of formats it selected. */
    char num[32];
    int rc = 0;
    snprintf(buf, n, "kvcheck replay");
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->seed);
    rc |= kvc_shell_append_opt(buf, n, "--seed", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)index);
    rc |= kvc_shell_append_opt(buf, n, "--case", num);
    rc |= kvc_shell_append_opt(buf, n, "--kernel",
                               o->forced_mode < 0 ? "all"
                                                  : kvc_mode_name(o->forced_mode));
    /* the size options shape the draw: without them it is another case */
    rc |= kvc_append_size_opts(buf, n, &o->size);
    if (o->kernel_lib)
        rc |= kvc_shell_append_opt(buf, n, "--kernel-lib", o->kernel_lib);
    if (o->profile)
        rc |= kvc_shell_append_opt(buf, n, "--profile", o->profile);
    if (o->kernel_threads > 1) {
        snprintf(num, sizeof num, "%d", o->kernel_threads);
        rc |= kvc_shell_append_opt(buf, n, "--kernel-threads", num);
    }
    if (rc != 0) /* a cut command would replay another kernel: say so */
        snprintf(buf, n, "(replay command longer than %zu bytes: case %llu, "
                 "seed %llu, with --kernel-lib)", n, (unsigned long long)index,
                 (unsigned long long)o->seed);
}
