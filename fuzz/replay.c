/*
 * replay.c — a plain main() for any harness (zstd's regression_driver.c):
 * runs LLVMFuzzerTestOneInput once on every file named on the command line
 * and every regular file under every directory named (recursively), in
 * sorted path order so a run is deterministic, then prints
 * "replayed N inputs" and exits 0.
 *
 * Built without sanitizers for valgrind (make fuzz-replay) and with
 * ASan/UBSan (make fuzz-replay-asan). Arguments starting with '-' are
 * ignored (libFuzzer-style flags), so the binary can stand in for a fuzzer.
 *
 * Exit status: 0 all inputs ran; 2 usage/IO error; 70 the harness aborted
 * (a failed harness check: the message is above); 71 the harness died of a
 * signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL). The signals are caught and turned
 * into _exit() so that, under valgrind --error-exitcode=99, a run with
 * memory errors exits 99 even when the harness also aborts afterwards
 * (valgrind can only substitute its exit code on a normal exit). The
 * ASan/UBSan build leaves SIGSEGV/SIGBUS/SIGFPE to the sanitizer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_SANITIZED 1
#endif
#endif

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

/* The input being run, for the signal handler (driver-local state). */
static const char *current_input = "(none)";

static void write_str(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fatal_signal(int sig)
{
    write_str("\nreplay: CRASH: ");
    write_str(sig == SIGABRT ? "harness aborted" : "fatal signal");
    write_str(" (");
    write_str(sig == SIGABRT ? "SIGABRT" : sig == SIGSEGV ? "SIGSEGV"
              : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
              : sig == SIGILL ? "SIGILL" : "signal");
    write_str(") on input ");
    write_str(current_input);
    write_str("\n");
    _exit(sig == SIGABRT ? 70 : 71);
}

static void install_handlers(void)
{
    static char altstack[64 * 1024];
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
#ifndef REPLAY_SANITIZED
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
#endif
}

static int add_path(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n] = strdup(p);
    if (!l->v[l->n])
        return -1;
    l->n++;
    return 0;
}

/* Regular files under dir (recursively); dot files are skipped. */
static int collect(path_list *l, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return add_path(l, path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth > 32) {
        fprintf(stderr, "replay: %s: directories nested too deep\n", path);
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s/%s", path, e->d_name);
        rc = collect(l, child, depth + 1);
        free(child);
    }
    closedir(d);
    return rc;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (n == cap) {
            uint8_t *nb = realloc(b, 2 * cap);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = !b || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

int main(int argc, char **argv)
{
    path_list l = {0};
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (collect(&l, argv[i], 0) != 0)
            status = 2;
    }
    if (status != 0) {
        fprintf(stderr, "replay: could not list the inputs\n");
        return status;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, cmp_path);
    install_handlers();
    size_t replayed = 0;
    for (size_t i = 0; i < l.n; i++) {
        uint8_t *buf;
        size_t len;
        if (read_file(l.v[i], &buf, &len) != 0) {
            status = 2;
            continue;
        }
        /* Run on an exactly-sized copy so a harness over-read of its input
         * is caught. */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) {
            free(buf);
            status = 2;
            break;
        }
        memcpy(exact, buf, len);
        free(buf);
        current_input = l.v[i];
        LLVMFuzzerTestOneInput(exact, len);
        current_input = "(none)";
        free(exact);
        replayed++;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    printf("replayed %zu inputs\n", replayed);
    if (l.n == 0)
        fprintf(stderr, "replay: warning: no input files\n");
    return status;
}
