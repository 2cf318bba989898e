/* base64.c — strict RFC 4648 base64 (see base64.h). */
#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int kvc_base64_encoded_len(size_t n, size_t *out)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > ((size_t)-1 - 1) / 4)
        return 0;
    *out = groups * 4;
    return 1;
}

void kvc_base64_encode(const uint8_t *src, size_t n, char *dst)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
                     src[i + 2];
        dst[o++] = alphabet[v >> 18 & 63];
        dst[o++] = alphabet[v >> 12 & 63];
        dst[o++] = alphabet[v >> 6 & 63];
        dst[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[o++] = alphabet[v >> 18 & 63];
        dst[o++] = alphabet[v >> 12 & 63];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[o++] = alphabet[v >> 18 & 63];
        dst[o++] = alphabet[v >> 12 & 63];
        dst[o++] = alphabet[v >> 6 & 63];
        dst[o++] = '=';
    }
    dst[o] = '\0';
}

/* Value of an alphabet character, -1 for anything else ('=' included). */
static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int kvc_base64_decoded_len(const char *s, size_t len, size_t *out)
{
    if (len % 4 != 0)
        return -1;
    size_t n = len / 4 * 3;
    if (len >= 4 && s[len - 1] == '=')
        n -= (s[len - 2] == '=') ? 2 : 1;
    *out = n;
    return 0;
}

static int64_t bad(size_t *bad_pos, size_t pos)
{
    if (bad_pos)
        *bad_pos = pos;
    return -1;
}

int64_t kvc_base64_decode(const char *s, size_t len, uint8_t *dst,
                          size_t dstlen, size_t *bad_pos)
{
    size_t want;
    if (kvc_base64_decoded_len(s, len, &want) != 0 || want > dstlen)
        return bad(bad_pos, len);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && last && j >= 2) {
                /* '=' only at the end: "xx==" or "xxx=" */
                if (j == 2 && s[i + 3] != '=')
                    return bad(bad_pos, i + j);
                v[j] = 0;
                pad++;
                continue;
            }
            v[j] = value_of(c);
            if (v[j] < 0 || pad)
                return bad(bad_pos, i + j);
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* canonical: the bits a padded group does not use must be 0 */
        if ((pad == 2 && (w & 0xFFFF)) || (pad == 1 && (w & 0xFF)))
            return bad(bad_pos, i + 3 - pad);
        dst[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            dst[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            dst[o++] = (uint8_t)w;
    }
    return (int64_t)o;
}
