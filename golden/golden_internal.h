/*
 * golden_internal.h — what the golden reader and writer share (not public):
 * the limits a file must respect, the names of group types and results, the
 * notes written for every flag, and the exact scalar encoding.
 */
#ifndef KVC_GOLDEN_INTERNAL_H
#define KVC_GOLDEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "golden.h"

/* Limits of one test (documented in FORMAT.md, "Limits"). A golden file
 * is meant to be small; larger cases belong to campaigns. */
#define KVCG_GOLDEN_MAX_HEADS 4096          /* Hq, Hkv */
#define KVCG_GOLDEN_MAX_HEAD_DIM 4096       /* D */
#define KVCG_GOLDEN_MAX_LEN (1 << 24)       /* ctxLen, qLen, cacheLen */
#define KVCG_GOLDEN_MAX_PAD_TOKENS (1 << 20)
#define KVCG_GOLDEN_MAX_BLOCK_SIZE (1 << 20)
#define KVCG_GOLDEN_MAX_STRIDE_PAD (1 << 16)
#define KVCG_GOLDEN_MAX_TABLE_COLS (1 << 20) /* maxBlocksPerSeq */
#define KVCG_GOLDEN_MAX_ELEMS ((int64_t)1 << 24) /* per tensor, mask, pool,
                                                   output, QEff rows */
#define KVCG_GOLDEN_MAX_INT ((int64_t)1 << 53) /* |JSON integer| bound */
#define KVCG_GOLDEN_MAX_BLOCKS INT32_MAX /* numBlocks: block ids are int32 */
/* A sparse pool (FORMAT.md, "Sparse pools"): its virtual size, K or V or
 * one scale pool, is mapped without reserving memory, so it may pass the
 * dense limit, up to this many bytes; the units its blocks really hold stay
 * within KVCG_GOLDEN_MAX_ELEMS. */
#define KVCG_GOLDEN_MAX_SPARSE_BYTES ((int64_t)1 << 40)
#define KVCG_GOLDEN_MAX_TEXT ((size_t)1 << 30) /* bytes of a file */

/* A golden file whole (golden_file.c), for every schema. Read: malloc'd,
 * NUL-terminated, *len bytes (len may be NULL), at most
 * KVCG_GOLDEN_MAX_TEXT; NULL with a message naming the file (err may be
 * NULL). Write: text and a final newline (unless it ends with one),
 * through a flushed temporary file renamed onto path; 0, or -1 with a
 * message and path as it was. Schema: 1 when path is a JSON object whose
 * "schema" is that string. */
char *kvcg_read_text(const char *path, size_t *len, char *err, size_t errlen);
int kvcg_write_text(const char *path, const char *text, char *err,
                    size_t errlen);
int kvcg_file_has_schema(const char *path, const char *schema);
/* root (cJSON's indented print, deleted here; NULL: out of memory) to path
 * as kvcg_write_text writes. */
struct cJSON;
int kvcg_write_json(const char *path, struct cJSON *root, char *err,
                    size_t errlen);

/* Bytes of one storage unit of a cache format (4, 2 or 1; nvfp4: 1 byte of
 * two codes) and of one unit of a scale pool (TOKEN 4, GROUP 1, else 0). */
int kvcg_unit_bytes(kvc_kv_dtype d);
int kvcg_scale_unit_bytes(kvc_scale_kind k);

/* A pool is sparse when K/V or a scale pool has more units than a reader
 * allocates densely (KVCG_GOLDEN_MAX_ELEMS): the writer then marks it
 * "sparse" (schemaVersion 3), and the reader requires exactly that. */
int kvcg_layout_sparse(const kvc_layout *L);

/* The distinct blocks of 0..num_blocks-1 that the block table (max(S, 1)
 * rows) or a slot of slot_mapping (num_tokens entries) names: the only
 * blocks of a sparse pool that hold anything. Returns the count, or -1
 * when out of memory. */
int64_t kvcg_touched_blocks(const kvc_layout *L, int num_seqs,
                            int64_t num_tokens);

/* "PagedAttention", "BlockedAttention", "QEffPagedAttention"; NULL for an
 * unknown mode. */
const char *kvcg_golden_type_name(kvc_mode m);
/* 0 and *m, or -1 for an unknown name. */
int kvcg_golden_type_parse(const char *s, kvc_mode *m);

/* 0 and *e, or -1 for an unknown result name. */
int kvcg_expect_parse(const char *s, kvc_expect *e);

/* The note of a flag bit or of a result kind: bugType and description. */
typedef struct kvcg_note {
    const char *bug_type;
    const char *description;
} kvcg_note;
const kvcg_note *kvcg_flag_note(int bit);        /* NULL when unknown */
const kvcg_note *kvcg_result_note(kvc_expect e); /* NULL when unknown */

/* Bit of a flag name, or -1. */
int kvcg_flag_parse(const char *s);

/* The exact text of a finite float: a C99 hexadecimal float with the
 * mantissa normalized to 1.x (0x0p+0 and -0x0p+0 for zeros), lowercase,
 * trailing zero digits dropped, exponent with an explicit sign ("0x1p-2",
 * "-0x1.8p+3"). buf must hold 32 bytes. Returns 0, or -1 for a non-finite
 * value. */
int kvcg_format_hex_float(float f, char *buf);
/* Parse such a string (any hexadecimal float whose value is exactly an
 * fp32 value: "0x1.0000000000000p-1" as Python's float.hex writes is
 * fine). Returns 0 and *f, or -1. */
int kvcg_parse_hex_float(const char *s, float *f);

/* A static scale of the cache format (kScale, vScale): the hex float of a
 * finite value, or "nan", "inf", "-inf" (Python float.fromhex reads all
 * four; C strtod too). Only invalid tests carry non-finite ones. buf must
 * hold 32 bytes. Always succeeds (any NaN is written "nan"). */
void kvcg_format_scale(float f, char *buf);
/* Parse such a string. Returns 0 and *f (NaN as the quiet NaN 0x7FC00000),
 * or -1. */
int kvcg_parse_scale(const char *s, float *f);

/* s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF). Returns the offset of the first bad byte, or n. */
size_t kvcg_utf8_valid_prefix(const char *s, size_t n);

#endif /* KVC_GOLDEN_INTERNAL_H */
