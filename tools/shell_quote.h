/*
 * shell_quote.h — commands kvcheck prints for a person to paste into a
 * POSIX shell. A path with a space or a quote must come back as the same
 * word, and a command too long for its buffer must say so instead of being
 * cut into a different, still runnable command.
 */
#ifndef KVC_SHELL_QUOTE_H
#define KVC_SHELL_QUOTE_H

#include <stddef.h>

/* Quote s as one POSIX sh word into buf (capacity n, NUL-terminated when
 * n > 0): unchanged when every byte is in [A-Za-z0-9_./:=,@%+-] and s is
 * not empty, else in single quotes with each ' written as '\''. Returns
 * the length of the whole quoted word, as snprintf does: it was cut when
 * the result is >= n. */
size_t kvc_shell_quote(const char *s, char *buf, size_t n);

/* Append " WORD" (WORD quoted) to the NUL-terminated command in buf of
 * capacity n. Returns 0, or -1 when it does not fit: buf is then left as
 * it was. */
int kvc_shell_append(char *buf, size_t n, const char *word);

/* Append " OPT VALUE" (both quoted); 0, or -1 with buf unchanged. */
int kvc_shell_append_opt(char *buf, size_t n, const char *opt,
                         const char *value);

#endif /* KVC_SHELL_QUOTE_H */
