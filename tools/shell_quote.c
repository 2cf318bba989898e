/* shell_quote.c — quote words for POSIX sh (see shell_quote.h). */
#include "shell_quote.h"

#include <string.h>

/* Bytes a shell never treats specially in a word, anywhere in it ('=' and
 * '%' included: they only matter in assignments and job specs, which a
 * word after the command name never is). */
static int is_plain(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || strchr("_./:=,@%+-", ch) != NULL;
}

static int needs_quotes(const char *s)
{
    if (!*s)
        return 1; /* an empty word must still be a word: '' */
    for (; *s; s++)
        if (!is_plain((unsigned char)*s))
            return 1;
    return 0;
}

/* Put ch at buf[at] when it fits, leaving room for the NUL. */
static void put(char *buf, size_t n, size_t at, char ch)
{
    if (at + 1 < n)
        buf[at] = ch;
}

size_t kvc_shell_quote(const char *s, char *buf, size_t n)
{
    size_t len = 0;
    int quoted = needs_quotes(s);
    if (quoted)
        put(buf, n, len++, '\'');
    for (; *s; s++) {
        if (quoted && *s == '\'') {
            /* close the quotes, an escaped quote, reopen */
            for (const char *e = "'\\''"; *e; e++)
                put(buf, n, len++, *e);
        } else {
            put(buf, n, len++, *s);
        }
    }
    if (quoted)
        put(buf, n, len++, '\'');
    if (n > 0)
        buf[len < n ? len : n - 1] = '\0';
    return len;
}

int kvc_shell_append(char *buf, size_t n, const char *word)
{
    size_t used = strnlen(buf, n);
    if (used + 1 >= n)
        return -1;
    size_t need = kvc_shell_quote(word, buf + used + 1, n - used - 1);
    if (need >= n - used - 1) {
        buf[used] = '\0';
        return -1;
    }
    buf[used] = ' ';
    return 0;
}

int kvc_shell_append_opt(char *buf, size_t n, const char *opt,
                         const char *value)
{
    size_t used = strnlen(buf, n);
    if (kvc_shell_append(buf, n, opt) != 0)
        return -1;
    if (kvc_shell_append(buf, n, value) != 0) {
        buf[used] = '\0';
        return -1;
    }
    return 0;
}
