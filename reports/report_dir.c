/*
 * report_dir.c — kvc_report_write: create the report directory (and its
 * parents) and write summary.json, junit.xml, summary.md and index.html
 * into it.
 *
 * Each file is first written whole to DIR/.NAME.tmp (created afresh with
 * O_EXCL after removing any stale one, so a planted link is not followed);
 * only when all four are written and closed are they renamed into place.
 * On any failure the temporary files are removed, so are the directories
 * this call created (if still empty), and the message names the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

typedef int (*writer_fn)(const kvc_run_report *, FILE *);

static const struct {
    const char *name;
    writer_fn write;
} outputs[] = {
    {"summary.json", kvc_report_write_json},
    {"junit.xml", kvc_report_write_junit},
    {"summary.md", kvc_report_write_markdown},
    {"index.html", kvc_report_write_html},
};

#define NUM_OUTPUTS (sizeof outputs / sizeof outputs[0])

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The directories a call created, to remove them again on failure. */
typedef struct made_dirs {
    char *path;     /* a copy of dir */
    size_t *ends;   /* prefix lengths created, in order */
    size_t n;
} made_dirs;

static void undo_dirs(made_dirs *md)
{
    while (md->n > 0) {
        size_t end = md->ends[--md->n];
        char keep = md->path[end];
        md->path[end] = '\0';
        rmdir(md->path); /* only succeeds while empty */
        md->path[end] = keep;
    }
}

/* Make the prefix path[0..end) a directory. */
static int make_one(made_dirs *md, size_t end, const char *dir, char *err,
                    size_t errlen)
{
    struct stat st;
    char keep = md->path[end];
    int rc = 0, e = 0;

    md->path[end] = '\0';
    if (stat(md->path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            rc = -1, e = ENOTDIR;
    } else if (mkdir(md->path, 0777) == 0) {
        md->ends[md->n++] = end;
    } else if (errno != EEXIST) {
        rc = -1, e = errno;
    }
    if (rc)
        set_err(err, errlen, "cannot create report directory '%s': '%s': %s",
                dir, md->path, strerror(e));
    md->path[end] = keep;
    return rc;
}

/* mkdir -p dir. */
static int make_dirs(made_dirs *md, const char *dir, char *err, size_t errlen)
{
    size_t len = strlen(dir), i;

    md->n = 0;
    md->path = strdup(dir);
    md->ends = malloc((len + 1) * sizeof *md->ends);
    if (!md->path || !md->ends) {
        set_err(err, errlen, "cannot create report directory '%s': %s", dir,
                strerror(ENOMEM));
        return -1;
    }
    while (len > 1 && md->path[len - 1] == '/')
        len--;
    for (i = 1; i <= len; i++)
        if ((i == len || md->path[i] == '/') && md->path[i - 1] != '/')
            if (make_one(md, i, dir, err, errlen))
                return -1;
    return 0;
}

/* dir + "/" + prefix + name + suffix, malloc'd. */
static char *join(const char *dir, const char *prefix, const char *name,
                  const char *suffix)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) +
               2;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s%s%s", dir, prefix, name, suffix);
    return p;
}

/* Write output i to tmp. */
static int write_tmp(const kvc_run_report *r, size_t i, const char *tmp,
                     const char *final, char *err, size_t errlen)
{
    FILE *f;
    int fd, e, wrote;

    if (unlink(tmp) != 0 && errno != ENOENT) {
        set_err(err, errlen, "cannot write '%s': removing stale '%s': %s",
                final, tmp, strerror(errno));
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        set_err(err, errlen, "cannot write '%s': %s", final, strerror(errno));
        return -1;
    }
    f = fdopen(fd, "w");
    if (!f) {
        e = errno;
        close(fd);
        set_err(err, errlen, "cannot write '%s': %s", final, strerror(e));
        return -1;
    }
    errno = 0;
    wrote = outputs[i].write(r, f);
    e = errno;
    if (wrote == 0 && fflush(f) != 0)
        wrote = -1, e = errno;
    if (fclose(f) != 0 && wrote == 0)
        wrote = -1, e = errno;
    if (wrote != 0) {
        set_err(err, errlen, "cannot write '%s': %s", final,
                e ? strerror(e) : "the report could not be formatted");
        return -1;
    }
    return 0;
}

int kvc_report_write(const kvc_run_report *r, const char *dir, char *err,
                     size_t errlen)
{
    char *tmp[NUM_OUTPUTS] = {0}, *final[NUM_OUTPUTS] = {0};
    made_dirs md = {0};
    size_t i, written = 0;
    int rc = -1;

    if (err && errlen)
        err[0] = '\0';
    if (!dir || !dir[0]) {
        set_err(err, errlen, "no report directory given");
        return -1;
    }
    if (!r || (r->num_records && !r->records)) {
        set_err(err, errlen, "cannot write a report into '%s': no records",
                dir);
        return -1;
    }
    if (make_dirs(&md, dir, err, errlen))
        goto out;
    for (i = 0; i < NUM_OUTPUTS; i++) {
        final[i] = join(dir, "", outputs[i].name, "");
        tmp[i] = join(dir, ".", outputs[i].name, ".tmp");
        if (!final[i] || !tmp[i]) {
            set_err(err, errlen, "cannot write '%s/%s': %s", dir,
                    outputs[i].name, strerror(ENOMEM));
            goto out;
        }
    }
    for (written = 0; written < NUM_OUTPUTS; written++)
        if (write_tmp(r, written, tmp[written], final[written], err, errlen)) {
            unlink(tmp[written]);
            goto out;
        }
    for (i = 0; i < NUM_OUTPUTS; i++)
        if (rename(tmp[i], final[i]) != 0) {
            set_err(err, errlen, "cannot write '%s': rename from '%s': %s",
                    final[i], tmp[i], strerror(errno));
            goto out_renamed;
        }
    rc = 0;
    goto done;
out_renamed:
    /* outputs before i are already in place and complete: keep them */
    for (; i < NUM_OUTPUTS; i++)
        unlink(tmp[i]);
    goto done;
out:
    for (i = 0; i < written; i++)
        unlink(tmp[i]);
    undo_dirs(&md);
done:
    for (i = 0; i < NUM_OUTPUTS; i++) {
        free(tmp[i]);
        free(final[i]);
    }
    free(md.path);
    free(md.ends);
    return rc;
}
