/*
 * golden_file.c — a golden file read or written whole, for every schema
 * (attention, merge and cache vectors; golden_internal.h): read into one
 * NUL-terminated buffer with a size limit, written through a temporary
 * file beside it that is flushed and renamed onto it, so a reader never
 * sees half a file and a failed write leaves the old one.
 */
#include "golden_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(char *err, size_t errlen, const char *path, const char *what,
                int e)
{
    if (err && errlen)
        snprintf(err, errlen, e ? "%s: %s: %s" : "%s: %s", path, what,
                 e ? strerror(e) : "");
}

/* Grow *buf (capacity *cap) so that one more byte fits past *len. */
static int grow(char **buf, size_t *cap, size_t len)
{
    if (len + 1 < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 65536;
    if (ncap > KVCG_GOLDEN_MAX_TEXT + 2)
        ncap = KVCG_GOLDEN_MAX_TEXT + 2;
    char *nb = realloc(*buf, ncap);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

char *kvcg_read_text(const char *path, size_t *len_out, char *err,
                     size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        say(err, errlen, path, "cannot open", errno);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, len = 0;
    const char *what = NULL;
    for (;;) {
        if (len > KVCG_GOLDEN_MAX_TEXT) {
            what = "larger than the limit of 1 GiB";
            break;
        }
        if (grow(&buf, &cap, len) != 0) {
            what = "out of memory";
            break;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    int e = ferror(fp) ? errno : 0;
    fclose(fp);
    if (what || e) {
        say(err, errlen, path, what ? what : "read error", what ? 0 : e);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* Write n bytes to fd, through EINTR. 0 or an errno. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int kvcg_write_text(const char *path, const char *text, char *err,
                    size_t errlen)
{
    size_t len = strlen(text), plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        say(err, errlen, path, "out of memory", 0);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        say(err, errlen, path, "cannot create a temporary file beside it",
            errno);
        free(tmp);
        return -1;
    }
    const char *what = "write failed";
    int e = write_all(fd, text, len);
    if (!e && (len == 0 || text[len - 1] != '\n'))
        e = write_all(fd, "\n", 1);
    if (!e && (fchmod(fd, 0644) != 0 || fsync(fd) != 0)) {
        e = errno;
        what = "cannot set permissions or flush";
    }
    if (close(fd) != 0 && !e) {
        e = errno;
        what = "close failed";
    }
    if (!e && rename(tmp, path) != 0) {
        e = errno;
        what = "cannot rename the temporary file onto it";
    }
    if (e) {
        unlink(tmp);
        say(err, errlen, path, what, e);
    }
    free(tmp);
    return e ? -1 : 0;
}

int kvcg_file_has_schema(const char *path, const char *schema)
{
    char *text = kvcg_read_text(path, NULL, NULL, 0);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "schema");
    int is = cJSON_IsString(s) && strcmp(s->valuestring, schema) == 0;
    cJSON_Delete(root);
    return is;
}

int kvcg_write_json(const char *path, cJSON *root, char *err, size_t errlen)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        say(err, errlen, path, "out of memory", 0);
        return -1;
    }
    int rc = kvcg_write_text(path, text, err, errlen);
    free(text);
    return rc;
}
