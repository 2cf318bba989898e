/*
 * report_text.h — internal text helpers of the report writers: UTF-8
 * cleaning, XML/HTML and Markdown escaping, and number formatting.
 *
 * Every string helper takes a pointer and a bound (n): it stops at the first
 * NUL or after n bytes, whichever comes first, so the fixed char arrays of a
 * kvc_case_record are read safely even when one is not NUL-terminated. Pass
 * KVR_FIELD(rec->message) for an array and KVR_STR(ptr) for a C string
 * (NULL reads as the empty string).
 */
#ifndef KVR_REPORT_TEXT_H
#define KVR_REPORT_TEXT_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KVR_FIELD(arr) (arr), sizeof(arr)
#define KVR_STR(ptr) (ptr), SIZE_MAX

/* Decode the UTF-8 sequence at s (at most n bytes, n >= 1, s[0] != 0).
 * Stores the code point in *cp and returns the bytes consumed. An invalid,
 * overlong, surrogate or truncated sequence yields U+FFFD and consumes one
 * byte. */
size_t kvr_utf8_next(const char *s, size_t n, uint32_t *cp);

/* Whether a code point is kept in report text: XML 1.0 Char minus the C0/C1
 * controls other than tab, LF and CR (and minus DEL). */
int kvr_char_ok(uint32_t cp);

enum kvr_esc {
    KVR_ESC_XML_TEXT, /* XML element text: & < > " ' escaped */
    KVR_ESC_XML_ATTR, /* XML attribute: also tab/LF/CR as character refs */
    KVR_ESC_HTML,     /* HTML text or attribute: ' as &#39; */
};

/* Write s escaped for XML or HTML: characters XML 1.0 forbids and other
 * controls are dropped, invalid UTF-8 becomes U+FFFD. */
void kvr_put_xml(FILE *f, const char *s, size_t n, enum kvr_esc how);

/* Markdown inline text on one line: newlines and tabs become spaces, HTML
 * specials become entities and Markdown punctuation (\ ` * [ ]) is
 * backslash-escaped; so is | when in_table (it would split the cell). */
void kvr_put_md_text(FILE *f, const char *s, size_t n, int in_table);

/* A Markdown code span, with a backtick fence longer than any run of
 * backticks inside. in_table escapes | (GFM splits cells before spans). */
void kvr_put_md_code_span(FILE *f, const char *s, size_t n, int in_table);

/* A fenced Markdown code block (its own lines, ending with a newline). */
void kvr_put_md_code_block(FILE *f, const char *s, size_t n);

/* A relative path as a URL: every byte but letters, digits and -._~/ is
 * percent-encoded, so the result is safe in an HTML attribute and in a
 * Markdown link, and a ':' cannot make it a scheme (javascript:...). */
void kvr_put_url_path(FILE *f, const char *s, size_t n);

/* A malloc'd copy of s cleaned to valid UTF-8 (invalid bytes become
 * U+FFFD; controls are kept, JSON escapes them). NULL on allocation
 * failure. */
char *kvr_utf8_clean(const char *s, size_t n);

/* The shortest of %.15g/%.16g/%.17g that reads back (strtod) as exactly v;
 * "inf", "-inf" or "nan" for non-finite v. buf holds KVR_NUM_LEN bytes. */
#define KVR_NUM_LEN 40
void kvr_fmt_exact(char *buf, double v);

/* A short human form (%.3g, or inf/-inf/nan). */
void kvr_fmt_short(char *buf, double v);

/* Seconds as %.3f; negative or non-finite values print as 0.000. */
void kvr_fmt_seconds(char *buf, double v);

/* Switch this thread to the C numeric locale while a writer runs (so '.'
 * is the decimal point whatever the program's setlocale did) and back.
 * kvr_c_locale_enter returns -1 if the locale cannot be created. */
typedef struct kvr_locale {
    locale_t c, saved;
} kvr_locale;
int kvr_c_locale_enter(kvr_locale *l);
void kvr_c_locale_leave(kvr_locale *l);

#endif /* KVR_REPORT_TEXT_H */
