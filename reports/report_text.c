/*
 * report_text.c — UTF-8 cleaning, XML/HTML/Markdown escaping and number
 * formatting shared by the report writers (report_text.h).
 */
#include "report_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t kvr_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c = u[0], min;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, c &= 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, c &= 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) { /* also stops at a NUL */
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return len;
}

int kvr_char_ok(uint32_t cp)
{
    if (cp == 0x9 || cp == 0xA || cp == 0xD)
        return 1;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    return cp != 0xFFFE && cp != 0xFFFF && cp <= 0x10FFFF;
}

/* Encode cp as UTF-8 into out (4 bytes); returns the length. */
static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static void put_cp(FILE *f, uint32_t cp)
{
    char b[4];
    fwrite(b, 1, utf8_put(b, cp), f);
}

void kvr_put_xml(FILE *f, const char *s, size_t n, enum kvr_esc how)
{
    size_t i = 0;

    if (!s)
        return;
    while (i < n && s[i]) {
        uint32_t cp;
        i += kvr_utf8_next(s + i, n - i, &cp);
        if (!kvr_char_ok(cp))
            continue;
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs(how == KVR_ESC_HTML ? "&#39;" : "&apos;", f); break;
        case '\t':
        case '\n':
        case '\r':
            /* attribute-value normalisation would turn these into spaces */
            if (how == KVR_ESC_XML_ATTR)
                fprintf(f, "&#%u;", (unsigned)cp);
            else
                fputc((int)cp, f);
            break;
        default: put_cp(f, cp); break;
        }
    }
}

void kvr_put_md_text(FILE *f, const char *s, size_t n, int in_table)
{
    size_t i = 0;

    if (!s)
        return;
    while (i < n && s[i]) {
        uint32_t cp;
        i += kvr_utf8_next(s + i, n - i, &cp);
        if (!kvr_char_ok(cp))
            continue;
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '\t':
        case '\n':
        case '\r': fputc(' ', f); break;
        case '|':
            if (in_table)
                fputc('\\', f);
            fputc('|', f);
            break;
        case '\\':
        case '`':
        case '*':
        case '[':
        case ']':
            fputc('\\', f);
            fputc((int)cp, f);
            break;
        default: put_cp(f, cp); break;
        }
    }
}

/* Longest run of backticks in s. */
static size_t longest_tick_run(const char *s, size_t n)
{
    size_t best = 0, run = 0, i;

    for (i = 0; s && i < n && s[i]; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

static void put_ticks(FILE *f, size_t k)
{
    while (k--)
        fputc('`', f);
}

/* Code text: kept characters only, line breaks as spaces, | escaped in a
 * table cell. */
static void put_code_text(FILE *f, const char *s, size_t n, int in_table)
{
    size_t i = 0;

    while (s && i < n && s[i]) {
        uint32_t cp;
        i += kvr_utf8_next(s + i, n - i, &cp);
        if (!kvr_char_ok(cp))
            continue;
        if (cp == '\n' || cp == '\r' || cp == '\t')
            cp = ' ';
        if (cp == '|' && in_table)
            fputc('\\', f);
        put_cp(f, cp);
    }
}

void kvr_put_md_code_span(FILE *f, const char *s, size_t n, int in_table)
{
    size_t ticks = longest_tick_run(s, n) + 1;
    size_t len = s ? strnlen(s, n) : 0;
    int pad = len > 0 && (s[0] == '`' || s[len - 1] == '`' || s[0] == ' ');

    if (len == 0) /* `` is not an empty span in Markdown */
        return;
    put_ticks(f, ticks);
    if (pad)
        fputc(' ', f);
    put_code_text(f, s, n, in_table);
    if (pad)
        fputc(' ', f);
    put_ticks(f, ticks);
}

void kvr_put_md_code_block(FILE *f, const char *s, size_t n)
{
    size_t ticks = longest_tick_run(s, n) + 1;

    if (ticks < 3)
        ticks = 3;
    put_ticks(f, ticks);
    fputc('\n', f);
    put_code_text(f, s, n, 0);
    fputc('\n', f);
    put_ticks(f, ticks);
    fputc('\n', f);
}

char *kvr_utf8_clean(const char *s, size_t n)
{
    size_t len = s ? strnlen(s, n) : 0, i = 0, o = 0;
    /* an invalid byte (1 in) grows to U+FFFD (3 out) at most */
    char *out = malloc(3 * len + 1);

    if (!out)
        return NULL;
    while (i < len) {
        uint32_t cp;
        size_t k = kvr_utf8_next(s + i, len - i, &cp);
        if (cp == 0xFFFD && k == 1 && (unsigned char)s[i] >= 0x80)
            o += utf8_put(out + o, 0xFFFD);
        else {
            memcpy(out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';
    return out;
}

void kvr_fmt_exact(char *buf, double v)
{
    int prec;

    if (isnan(v)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "inf" : "-inf");
        return;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(buf, KVR_NUM_LEN, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
    snprintf(buf, KVR_NUM_LEN, "%.17g", v);
}

void kvr_fmt_short(char *buf, double v)
{
    if (isnan(v))
        strcpy(buf, "nan");
    else if (isinf(v))
        strcpy(buf, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, KVR_NUM_LEN, "%.3g", v);
}

void kvr_fmt_seconds(char *buf, double v)
{
    if (!(v >= 0.0) || !isfinite(v))
        v = 0.0;
    if (v > 1e15) /* keep the text short; no run takes that long */
        v = 1e15;
    snprintf(buf, KVR_NUM_LEN, "%.3f", v);
}

int kvr_c_locale_enter(kvr_locale *l)
{
    l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (l->c == (locale_t)0)
        return -1;
    l->saved = uselocale(l->c);
    return 0;
}

void kvr_c_locale_leave(kvr_locale *l)
{
    uselocale(l->saved);
    freelocale(l->c);
}

void kvr_put_url_path(FILE *f, const char *s, size_t n)
{
    static const char keep[] = "-._~/";
    size_t i;

    for (i = 0; s && i < n && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr(keep, ch))
            fputc(ch, f);
        else
            fprintf(f, "%%%02X", ch);
    }
}
