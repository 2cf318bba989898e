/*
 * size_cli.h — the size options shared by the commands that identify a
 * case by (seed, index), `run`, `replay` and `shrink`: --size and the
 * filters of generators/case.h kvc_size_opts. A replay command carries
 * every one that was given, so it draws the same case.
 */
#ifndef KVC_SIZE_CLI_H
#define KVC_SIZE_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "../generators/case.h"

/* getopt_long ids of the size options (above every command's own). */
enum { KVC_OPT_SIZE = 600, KVC_OPT_MAX_KV, KVC_OPT_MAX_Q, KVC_OPT_HEADS,
       KVC_OPT_HEAD_DIM, KVC_OPT_BLOCK_SIZE };

#define KVC_SIZE_LONGOPTS                                              \
    {"size", required_argument, 0, KVC_OPT_SIZE},                      \
    {"max-kv", required_argument, 0, KVC_OPT_MAX_KV},                  \
    {"max-q", required_argument, 0, KVC_OPT_MAX_Q},                    \
    {"heads", required_argument, 0, KVC_OPT_HEADS},                    \
    {"head-dim", required_argument, 0, KVC_OPT_HEAD_DIM},              \
    {"block-size", required_argument, 0, KVC_OPT_BLOCK_SIZE}

/* 1 when c is a size option id. */
int kvc_is_size_opt(int c);
/* Parse size option c's value into o. Returns 0, or -1 after printing
 * "kvcheck CMD: --OPTION 'VALUE' ..." (exit 2). */
int kvc_parse_size_opt(const char *cmd, int c, const char *arg,
                       kvc_size_opts *o);
/* After parsing: the filters together (a --heads that no case meets).
 * Returns 0, or -1 after printing why (exit 2). */
int kvc_check_size_opts(const char *cmd, const kvc_size_opts *o);
/* Append " --size ... --max-kv N ..." (the options that differ from zero)
 * to buf; returns 0, or -1 when it did not fit. */
int kvc_append_size_opts(char *buf, size_t n, const kvc_size_opts *o);

#define KVC_SIZE_HELP \
    "  --size P          size policy of the draw: small (base sizes only:\n" \
    "                    lengths <= 300, fast smoke runs, valgrind), default\n" \
    "                    (about 2.9% of the cases at real sizes: 64..4096\n" \
    "                    query rows, 2k..128k keys, Hq 32/Hkv 8/D 128, blocks\n" \
    "                    48..512, groups 1..16) or large (about 60%, slow)\n" \
    "  --max-kv N        every sequence has at most N keys (ctx + q)\n" \
    "  --max-q N         every sequence has at most N query rows\n" \
    "  --heads HQ/HKV    every case has HQ query and HKV KV heads\n" \
    "  --head-dim D      every case has head_dim D (nvfp4 draws become f16\n" \
    "                    when D is not a multiple of 16)\n" \
    "  --block-size B    every case has page (block) size B\n"

#endif
