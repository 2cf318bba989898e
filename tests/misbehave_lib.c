/*
 * misbehave_lib.c — a kernel library that misbehaves on purpose
 * (build/tests/libkvattn_misbehave.so), to prove that nothing a kernel
 * under test does can end, hang, silence or green the gate.
 *
 * It is libkvattn with kva_paged_attention wrapped: the real attention runs,
 * then, on the cases whose batch has n query tokens with n % 5 == 2 (a
 * share of every campaign, so the misbehaviour comes mid-campaign), it
 * does what the environment variable KVC_MISBEHAVE says:
 *   crash     write through a null pointer (SIGSEGV)
 *   abort     abort() (SIGABRT)
 *   hang      never return
 *   exit0     exit(0)        _exit0   _exit(0)
 *   out_end   write one float past the end of out
 *   lse_end   write one float past the end of lse
 *   null_lse  write lse[0] even when lse is NULL (kvattn.h: lse may be
 *             NULL; the runner passes NULL in one case of eight)
 *   out_before  write the float before out
 *   write_q   change the first element of its input q
 *   write_table change the first entry of its input block table
 *   uninit    branch on an uninitialised value (only valgrind sees it)
 *   threads_table_end  four threads read one entry past the end of the
 *             block table at the same moment (a threaded kernel whose
 *             threads fault together: one whole report, not a garbled
 *             one; found with mutant m09 on 2 threads)
 * Unset or anything else: behave. KVC_MISBEHAVE_AT_LOAD (below) does the
 * same in a constructor.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/kvattn.h"

kva_status kva_real_paged_attention(const kva_attn_params *params,
                                    const kva_paged_cache *cache,
                                    const kva_paged_batch *batch,
                                    const float *q, int64_t num_tokens,
                                    float *out, float *lse, kva_error *err);

static int is(const char *how, const char *name)
{
    return how && strcmp(how, name) == 0;
}

/* A branch on a value never written: harmless here, an error to valgrind. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" /* the point */
static void uninit_branch(void)
{
    static volatile int taken;
    float *junk = malloc(4 * sizeof *junk);
    if (junk && junk[1] > 0.0f)
        taken = taken + 1;
    free(junk);
}

/* Threads that read past the end of the block table together. */
typedef struct table_reader {
    pthread_barrier_t *go;
    const int *end; /* one past the table's last entry */
} table_reader;

static void *read_past_table(void *arg)
{
    const table_reader *t = arg;
    pthread_barrier_wait(t->go);
    return (void *)(intptr_t)*(const volatile int *)t->end;
}

static void threads_read_past_table(const kva_paged_batch *b)
{
    enum { N = 4 };
    pthread_barrier_t go;
    pthread_t th[N];
    table_reader t = {&go, b->block_table +
                               (int64_t)b->num_seqs * b->max_blocks_per_seq};
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, read_past_table, &t);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
}

/* Misbehave as told; returns normally for the write-type misbehaviours. */
static void misbehave(const char *how, const kva_attn_params *p,
                      const kva_paged_batch *b, const float *q,
                      int64_t num_tokens, float *out, float *lse)
{
    int64_t per_row = (int64_t)p->num_q_heads * p->head_dim;
    if (is(how, "crash"))
        *(volatile int *)(uintptr_t)(num_tokens >> 62) = 1;
    else if (is(how, "abort"))
        abort();
    else if (is(how, "hang"))
        for (;;)
            pause();
    else if (is(how, "exit0"))
        exit(0);
    else if (is(how, "_exit0"))
        _exit(0);
    else if (is(how, "out_end"))
        out[num_tokens * per_row] = 0.0f;
    else if (is(how, "lse_end") && lse)
        lse[num_tokens * p->num_q_heads] = 0.0f;
    else if (is(how, "null_lse") && !lse)
        *(volatile float *)(uintptr_t)lse = 0.0f;
    else if (is(how, "out_before"))
        out[-1] = 0.0f;
    else if (is(how, "write_q") && num_tokens > 0)
        ((float *)(uintptr_t)q)[0] += 1.0f;
    else if (is(how, "uninit"))
        uninit_branch();
    else if (is(how, "threads_table_end") && b->block_table)
        threads_read_past_table(b);
    else if (is(how, "write_table") && b->block_table)
        ((int *)(uintptr_t)b->block_table)[0] ^= 0x40000000;
}

KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    kva_status s = kva_real_paged_attention(params, cache, batch, q,
                                            num_tokens, out, lse, err);
    if (s == KVA_OK && num_tokens % 5 == 2)
        misbehave(getenv("KVC_MISBEHAVE"), params, batch, q, num_tokens, out,
                  lse);
    return s;
}

/* KVC_MISBEHAVE_AT_LOAD=crash|exit0: misbehave in a constructor, when the
 * library is loaded (before any case). */
__attribute__((constructor)) static void misbehave_at_load(void)
{
    const char *how = getenv("KVC_MISBEHAVE_AT_LOAD");
    if (is(how, "crash"))
        *(volatile int *)(uintptr_t)(strlen(how) >> 8) = 1;
    else if (is(how, "exit0"))
        exit(0);
}
