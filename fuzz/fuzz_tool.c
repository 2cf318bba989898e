/*
 * fuzz_tool.c — small helpers for the campaign scripts.
 *
 *   fuzz_tool random DIR COUNT SEED [MAXLEN]
 *       Write COUNT files DIR/rand-SEED-NNNNN of pseudo-random bytes
 *       (splitmix64 from SEED; lengths uniform in 0..MAXLEN, default 512).
 *       Deterministic: the same arguments give the same files.
 *
 *   fuzz_tool summary RESULTS.tsv OUT.json
 *       Turn the campaign's tab-separated results into a JSON summary
 *       (written with cJSON). Lines:
 *         campaign <key> <value>
 *         harness <name> <inputs> <failures> <seconds>
 *         failure <harness> <input file> <exit status> <summary text>
 *       The JSON: {"campaign": {...}, "harnesses": [{"name", "inputs",
 *       "failures", "seconds"}], "failures": [{"harness", "input",
 *       "exitStatus", "summary"}], "totalInputs", "totalFailures", "ok"}.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmd_random(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: fuzz_tool random DIR COUNT SEED [MAXLEN]\n");
        return 2;
    }
    const char *dir = argv[2];
    long count = strtol(argv[3], NULL, 10);
    unsigned long long seed = strtoull(argv[4], NULL, 10);
    long maxlen = argc == 6 ? strtol(argv[5], NULL, 10) : 512;
    if (count < 0 || maxlen < 0 || maxlen > (1L << 20)) {
        fprintf(stderr, "fuzz_tool random: bad COUNT or MAXLEN\n");
        return 2;
    }
    uint64_t st = seed;
    unsigned char *buf = malloc((size_t)maxlen + 1);
    if (!buf)
        return 1;
    for (long i = 0; i < count; i++) {
        size_t len = (size_t)(splitmix64(&st) % (uint64_t)(maxlen + 1));
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char)splitmix64(&st);
        char path[4096];
        snprintf(path, sizeof path, "%s/rand-%llu-%05ld", dir, seed, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "fuzz_tool random: %s: %s\n", path, strerror(errno));
            free(buf);
            return 1;
        }
    }
    free(buf);
    return 0;
}

/* Split a line at tabs (in place); returns the number of fields. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static int cmd_summary(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fuzz_tool summary RESULTS.tsv OUT.json\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        fprintf(stderr, "fuzz_tool summary: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *campaign = cJSON_AddObjectToObject(root, "campaign");
    cJSON *harnesses = cJSON_AddArrayToObject(root, "harnesses");
    cJSON *failures = cJSON_AddArrayToObject(root, "failures");
    double total_inputs = 0, total_failures = 0;
    char line[8192];
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *f[6];
        int n = split_tabs(line, f, 6);
        if (n == 3 && strcmp(f[0], "campaign") == 0) {
            cJSON_AddStringToObject(campaign, f[1], f[2]);
        } else if (n == 5 && strcmp(f[0], "harness") == 0) {
            cJSON *h = cJSON_CreateObject();
            cJSON_AddStringToObject(h, "name", f[1]);
            double inputs = strtod(f[2], NULL), fails = strtod(f[3], NULL);
            /* integers and whole seconds: exact in cJSON's %1.15g */
            cJSON_AddNumberToObject(h, "inputs", inputs);
            cJSON_AddNumberToObject(h, "failures", fails);
            cJSON_AddNumberToObject(h, "seconds", strtod(f[4], NULL));
            cJSON_AddItemToArray(harnesses, h);
            total_inputs += inputs;
            total_failures += fails;
        } else if (n == 5 && strcmp(f[0], "failure") == 0) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "harness", f[1]);
            cJSON_AddStringToObject(x, "input", f[2]);
            cJSON_AddNumberToObject(x, "exitStatus", strtod(f[3], NULL));
            cJSON_AddStringToObject(x, "summary", f[4]);
            cJSON_AddItemToArray(failures, x);
        } else if (line[0] != '\0') {
            fprintf(stderr, "fuzz_tool summary: ignoring line: %s\n", line);
        }
    }
    fclose(in);
    cJSON_AddNumberToObject(root, "totalInputs", total_inputs);
    cJSON_AddNumberToObject(root, "totalFailures", total_failures);
    cJSON_AddBoolToObject(root, "ok", total_failures == 0);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return 1;
    FILE *out = fopen(argv[3], "w");
    int bad = !out || fputs(text, out) == EOF || fputc('\n', out) == EOF;
    if (out && fclose(out) != 0)
        bad = 1;
    free(text);
    if (bad) {
        fprintf(stderr, "fuzz_tool summary: cannot write %s\n", argv[3]);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "random") == 0)
        return cmd_random(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "summary") == 0)
        return cmd_summary(argc, argv);
    fprintf(stderr, "usage: fuzz_tool random DIR COUNT SEED [MAXLEN]\n"
                    "       fuzz_tool summary RESULTS.tsv OUT.json\n");
    return 2;
}
