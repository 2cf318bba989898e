/*
 * base64.h — RFC 4648 base64 (standard alphabet "A-Za-z0-9+/", '='
 * padding), as golden files store their arrays.
 *
 * The decoder is strict, so every byte string has exactly one accepted
 * encoding: the length must be a multiple of 4, only the alphabet may
 * appear, '=' only as one or two final padding characters, the unused
 * bits of the last group must be zero, and no whitespace or line breaks.
 */
#ifndef KVC_BASE64_H
#define KVC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the encoding of n bytes (no NUL): 4 * ceil(n / 3).
 * Returns 0 with *out unset when that does not fit a size_t. */
int kvc_base64_encoded_len(size_t n, size_t *out);

/* Encode n bytes into dst, which must hold the encoded length + 1 (a NUL
 * is appended). */
void kvc_base64_encode(const uint8_t *src, size_t n, char *dst);

/* Bytes a well-formed encoding of len characters would decode to, judging
 * by its length and padding only (no allocation, no full scan): 0 and *out,
 * or -1 when len is not a multiple of 4. */
int kvc_base64_decoded_len(const char *s, size_t len, size_t *out);

/* Decode len characters into dst (dstlen bytes, which must be at least the
 * decoded length). Returns the number of bytes written, or -1 with
 * *bad_pos (may be NULL) set to the offset of the first offending
 * character (len when the length itself is wrong). */
int64_t kvc_base64_decode(const char *s, size_t len, uint8_t *dst,
                          size_t dstlen, size_t *bad_pos);

#endif /* KVC_BASE64_H */
