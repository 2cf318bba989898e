/*
 * cli_parse.h — strict parsing of command-line values. Each returns 0, or
 * -1 after printing "kvcheck CMD: OPTION 'VALUE' ..." to stderr.
 */
#ifndef KVC_CLI_PARSE_H
#define KVC_CLI_PARSE_H

#include <stdint.h>

int kvc_parse_u64(const char *cmd, const char *opt, const char *s,
                  uint64_t *out);
/* "paged", "blocked", "qeff" -> the mode; "all" -> -1. */
int kvc_parse_kernel(const char *cmd, const char *s, int *mode);
/* "i/n" with 0 <= i < n. */
int kvc_parse_shard(const char *cmd, const char *s, int *index, int *count);

#endif
