/*
 * test_guard.c — guard zones (tools/guard.h): the module alone, then the
 * runner with planted kernels that wrap libkvattn and then misbehave: a
 * write before the start of an output is a "bounds" verdict naming it, a
 * write into an input an "input-written" verdict naming it, a write past
 * the end traps at once (the test dies by SIGSEGV).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tools/guard.h"
#include "../tools/pool.h"
#include "../tools/runner.h"

/* AddressSanitizer's SIGSEGV handler reports and exits(1) instead of
 * dying by the signal; a test that must die by SIGSEGV restores the
 * default action first under ASan (make check-asan), and only there. */
static void default_segv_under_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
    signal(SIGSEGV, SIG_DFL);
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    signal(SIGSEGV, SIG_DFL);
#endif
#endif
}

/* ---- the module ---- */

Test(guard, sentinel_before_start_names_buffer_side_and_offset)
{
    kvc_guard_set s;
    kvc_guard_init(&s);
    float *out = kvc_guard_alloc(&s, "out", KVC_GUARD_ROLE_OUTPUT,
                                 10 * sizeof(float), sizeof(float));
    cr_assert_not_null(out);
    char msg[256];
    out[0] = out[9] = 1.0f; /* the data itself is the kernel's to write */
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    memset((unsigned char *)out - 4, 0, 4);
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_BOUNDS);
    cr_assert_str_eq(msg, "kernel wrote before the start of out: byte -4 "
                          "(element -1) changed");
    kvc_guard_free(&s);
}

Test(guard, input_change_names_buffer_and_offset)
{
    int table[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    kvc_guard_set s;
    kvc_guard_init(&s);
    int *t = kvc_guard_input(&s, "block_table", table, sizeof table,
                             sizeof *table);
    cr_assert_not_null(t);
    char msg[256];
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    t[3] = 99;
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_INPUT);
    cr_assert_str_eq(msg, "kernel wrote into its input block_table: byte 12 "
                          "(element 3) changed");
    t[3] = 3; /* restored: as handed over */
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    kvc_guard_free(&s);
}

Test(guard, an_output_becomes_an_input_with_its_current_contents)
{
    kvc_guard_set s = {0};
    int64_t *x = kvc_guard_alloc(&s, "slot_mapping", KVC_GUARD_ROLE_OUTPUT,
                                 4 * sizeof *x, sizeof *x);
    x[2] = 7;
    cr_assert_eq(kvc_guard_set_role(&s, x, KVC_GUARD_ROLE_INPUT), 0);
    char msg[256];
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    x[1] = 1;
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_INPUT);
    cr_assert(strstr(msg, "slot_mapping: byte 8 (element 1)"), "%s", msg);
    kvc_guard_free(&s);
}

Test(guard, fault_text_names_both_guard_pages_and_not_the_data)
{
    kvc_guard_set s = {0};
    float *lse = kvc_guard_alloc(&s, "lse", KVC_GUARD_ROLE_OUTPUT,
                                 5 * sizeof(float), sizeof(float));
    char text[128];
    cr_assert_eq(kvc_guard_fault_text(lse + 5, text, sizeof text), 1);
    cr_assert_str_eq(text, "kernel accessed 0 bytes past the end of lse "
                           "(guard page)");
    cr_assert_eq(kvc_guard_fault_text((char *)(lse + 5) + 100, text,
                                      sizeof text), 1);
    cr_assert_str_eq(text, "kernel accessed 100 bytes past the end of lse "
                           "(guard page)");
    /* 8 bytes before the first data page: the leading guard page */
    const kvc_guard_buf *b = &s.bufs[0];
    const unsigned char *lead = b->data - b->slack - 8;
    cr_assert_eq(kvc_guard_fault_text(lead, text, sizeof text), 1);
    char want[128];
    snprintf(want, sizeof want, "kernel accessed %zu bytes before the start "
             "of lse (guard page)", b->slack + 8);
    cr_assert_str_eq(text, want);
    cr_assert_eq(kvc_guard_fault_text(lse, text, sizeof text), 0);
    cr_assert_eq(kvc_guard_fault_text(lse + 4, text, sizeof text), 0);
    cr_assert_eq(kvc_guard_fault_text(lse - 1, text, sizeof text), 0,
                 "the slack is the sentinels' (kvc_guard_check)");
    /* a short buffer truncates, NUL-terminated */
    cr_assert_eq(kvc_guard_fault_text(lse + 5, text, 10), 1);
    cr_assert_str_eq(text, "kernel ac");
    kvc_guard_free(&s);
}

Test(guard, zero_byte_buffers_are_guarded_and_non_null)
{
    kvc_guard_set s = {0};
    int *a = kvc_guard_alloc(&s, "seq_lens", KVC_GUARD_ROLE_INPUT, 0,
                             sizeof(int));
    int *b = kvc_guard_input(&s, "masks", NULL, 0, sizeof(void *));
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    char text[128];
    cr_assert_eq(kvc_guard_fault_text(a, text, sizeof text), 1);
    cr_assert_str_eq(text, "kernel accessed 0 bytes past the end of seq_lens "
                           "(guard page)");
    cr_assert_eq(kvc_guard_fault_text((char *)a - 1, text, sizeof text), 1);
    cr_assert_str_eq(text, "kernel accessed 1 bytes before the start of "
                           "seq_lens (guard page)");
    cr_assert_eq(kvc_guard_check(&s, text, sizeof text), KVC_GUARD_OK);
    kvc_guard_free(&s);
}

Test(guard, freeing_a_set_forgets_its_guard_pages)
{
    kvc_guard_set s = {0};
    float *q = kvc_guard_alloc(&s, "q", KVC_GUARD_ROLE_OUTPUT, 12, 4);
    const void *past = q + 3;
    char text[128];
    cr_assert_eq(kvc_guard_fault_text(past, text, sizeof text), 1);
    kvc_guard_free(&s);
    cr_assert_eq(s.count, 0);
    cr_assert_eq(kvc_guard_fault_text(past, text, sizeof text), 0);
    /* a later buffer (perhaps in the same memory) is named by its own name */
    float *o = kvc_guard_alloc(&s, "out", KVC_GUARD_ROLE_OUTPUT, 12, 4);
    cr_assert_eq(kvc_guard_fault_text(o + 3, text, sizeof text), 1);
    cr_assert_str_eq(text, "kernel accessed 0 bytes past the end of out "
                           "(guard page)");
    kvc_guard_free(&s);
}

Test(guard, many_live_buffers_are_all_named)
{
    enum { N = 300 };
    kvc_guard_set s = {0};
    char name[32], text[128], want[128];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "buf %d", i);
        cr_assert_not_null(kvc_guard_alloc(&s, name, KVC_GUARD_ROLE_OUTPUT,
                                           (size_t)(i % 7) * 8, 8));
    }
    for (int i = 0; i < N; i++) {
        const kvc_guard_buf *b = &s.bufs[i];
        snprintf(want, sizeof want, "kernel accessed 0 bytes past the end of "
                 "buf %d (guard page)", i);
        cr_assert_eq(kvc_guard_fault_text(b->data + b->bytes, text,
                                          sizeof text), 1);
        cr_assert_str_eq(text, want);
    }
    kvc_guard_free(&s);
}

/* A sparse pool's buffer: gigabytes of address space, guarded at both
 * ends, snapshotted and compared only over its ranges. */
Test(guard, sparse_buffer_ends_guarded_ranges_compared, .timeout = 20)
{
    const size_t bytes = (size_t)KVC_POOL_SPARSE_BYTES * 8;
    kvc_guard_set s = {0};
    unsigned char *k = kvc_guard_alloc(&s, "K pool", KVC_GUARD_ROLE_OUTPUT,
                                       bytes, 2);
    cr_assert_not_null(k);
    const int64_t half = (int64_t)(bytes / 4); /* units of 2 bytes */
    const int64_t ranges[4] = {0, 64, half, 64};
    cr_assert_eq(kvc_guard_set_ranges(&s, k, ranges, 2, 2), 0);
    k[2 * half + 10] = 0x42;
    cr_assert_eq(kvc_guard_set_role(&s, k, KVC_GUARD_ROLE_INPUT), 0);
    char msg[256];
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    k[bytes / 4] = 1; /* outside the ranges: not compared */
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_OK);
    k[2 * half + 11] = 1;
    cr_assert_eq(kvc_guard_check(&s, msg, sizeof msg), KVC_GUARD_INPUT);
    char want[160];
    snprintf(want, sizeof want, "kernel wrote into its input K pool: byte "
             "%lld (element %lld) changed", (long long)(2 * half + 11),
             (long long)half + 5);
    cr_assert_str_eq(msg, want);
    cr_assert_eq(kvc_guard_fault_text(k + bytes, msg, sizeof msg), 1);
    cr_assert_str_eq(msg, "kernel accessed 0 bytes past the end of K pool "
                          "(guard page)");
    cr_assert_eq(kvc_guard_fault_text(k - 1, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "before the start of K pool"), "%s", msg);
    int64_t bad[2] = {half * 2 - 1, 2}; /* past the end */
    cr_assert_eq(kvc_guard_set_ranges(&s, k, bad, 1, 2), -1);
    kvc_guard_free(&s);
}

Test(guard, sizes_must_be_whole_elements)
{
    kvc_guard_set s = {0};
    cr_assert_null(kvc_guard_alloc(&s, "x", KVC_GUARD_ROLE_OUTPUT, 6, 4));
    cr_assert_null(kvc_guard_alloc(&s, "x", KVC_GUARD_ROLE_OUTPUT, 8, 0));
    cr_assert_eq(kvc_guard_set_role(&s, &s, KVC_GUARD_ROLE_INPUT), -1);
    kvc_guard_free(&s);
}

Test(guard, a_write_past_the_end_traps, .signal = SIGSEGV)
{
    default_segv_under_asan();
    kvc_guard_set s = {0};
    volatile float *out = kvc_guard_alloc(&s, "out", KVC_GUARD_ROLE_OUTPUT,
                                          3 * sizeof(float), sizeof(float));
    out[3] = 1.0f;
    kvc_guard_free(&s);
}

/* ---- the runner, with planted kernels ---- */

/* What the planted kernel does after the real call. */
typedef enum misdeed {
    OUT_BEFORE,      /* out[-1] */
    LSE_BEFORE,      /* lse[-1] */
    INTO_Q,          /* q[0] */
    INTO_TABLE,      /* block_table[0] */
    INTO_SEQ_LENS,   /* seq_lens[0] */
    INTO_K_POOL,     /* the first unit of the K pool */
    OUT_PAST_END,    /* out[num_tokens * Hq * D]: traps */
    NAME_PAST_END    /* record the fault text of out's and lse's ends */
} misdeed;

/* Test-only state: the planted kernel is a plain function pointer, so its
 * orders and findings pass through statics (each test runs in its own
 * process). */
static misdeed planted_misdeed;
static char named_out[128], named_lse[128];

static kva_status planted_paged(const kva_attn_params *p,
                                const kva_paged_cache *c,
                                const kva_paged_batch *b, const float *q,
                                int64_t n, float *out, float *lse,
                                kva_error *e)
{
    kva_status s = kva_paged_attention(p, c, b, q, n, out, lse, e);
    int64_t rows_out = n * p->num_q_heads * p->head_dim;
    switch (planted_misdeed) {
    case OUT_BEFORE: out[-1] = 1.0f; break;
    case LSE_BEFORE: lse[-1] = 1.0f; break;
    case INTO_Q: ((float *)q)[0] += 1.0f; break;
    case INTO_TABLE: ((int *)b->block_table)[0] ^= 0x100; break;
    case INTO_SEQ_LENS: ((int *)b->seq_lens)[0] += 1; break;
    case INTO_K_POOL: ((unsigned char *)c->k)[0] ^= 0x10; break;
    case OUT_PAST_END: ((volatile float *)out)[rows_out] = 1.0f; break;
    case NAME_PAST_END:
        kvc_guard_fault_text(out + rows_out, named_out, sizeof named_out);
        kvc_guard_fault_text(lse + n * p->num_q_heads, named_lse,
                             sizeof named_lse);
        break;
    }
    return s;
}

/* The QEfficient conversion, then a write into its position_ids. */
static kva_status planted_qeff(const kva_qeff_inputs *in,
                               kva_general_inputs *g, kva_error *e)
{
    kva_status s = kva_qeff_to_general(in, g, e);
    ((int *)in->position_ids)[in->num_seqs * in->max_q - 1] = 12345;
    return s;
}

static const kvc_kernel planted = {
    .name = "planted-guard", .cache_write = kva_cache_write,
    .paged_attention = planted_paged,
    .blocked_attention = kva_blocked_attention, .qeff_to_general = planted_qeff};

/* A small valid paged case with a token, a table entry, and out and lse
 * whose sizes are not whole pages (so a sentinel slack sits before them). */
static void small_case(kvc_case *c)
{
    const int64_t pg = sysconf(_SC_PAGESIZE);
    char err[256];
    for (uint64_t i = 0; i < 500; i++) {
        cr_assert_eq(kvc_case_generate(5, i, KVC_MODE_PAGED, c, err, sizeof err),
                     0, "%s", err);
        const kvc_problem *p = &c->prob;
        int64_t n_out = p->num_tokens * p->cfg.num_q_heads * p->cfg.head_dim;
        int64_t n_lse = p->num_tokens * p->cfg.num_q_heads;
        if (p->num_seqs >= 1 && p->q_start[1] >= 1 &&
            c->layout.max_blocks_per_seq >= 1 && n_out < 20000 &&
            (n_out * 4) % pg != 0 && (n_lse * 4) % pg != 0 &&
            c->layout.block_table[0] >= 0 && kvc_kv_len(p, 0) >= 1 &&
            !c->spec.large_offsets)
            return;
        kvc_case_free(c);
    }
    cr_assert_fail("no small paged case");
}

static kvc_outcome run_planted(misdeed m, kvc_result *r)
{
    kvc_case c;
    small_case(&c);
    kvc_result ok;
    cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &ok), KVC_PASS, "%s",
                 ok.message);
    planted_misdeed = m;
    kvc_outcome o = kvc_run_case(&c, &planted, r);
    kvc_case_free(&c);
    return o;
}

Test(guard, runner_finds_a_write_before_out)
{
    kvc_result r;
    cr_assert_eq(run_planted(OUT_BEFORE, &r), KVC_FAIL_BOUNDS, "%s", r.message);
    cr_assert_str_eq(kvc_outcome_name(r.outcome), "bounds");
    cr_assert(strstr(r.message, "paged attention: kernel wrote before the "
                                "start of out: byte -"), "%s", r.message);
    cr_assert(strstr(r.message, "(element -1)"), "%s", r.message);
}

Test(guard, runner_finds_a_write_before_lse)
{
    kvc_result r;
    cr_assert_eq(run_planted(LSE_BEFORE, &r), KVC_FAIL_BOUNDS, "%s", r.message);
    cr_assert(strstr(r.message, "before the start of lse"), "%s", r.message);
}

Test(guard, runner_finds_a_write_into_q)
{
    kvc_result r;
    cr_assert_eq(run_planted(INTO_Q, &r), KVC_FAIL_INPUT, "%s", r.message);
    cr_assert_str_eq(kvc_outcome_name(r.outcome), "input-written");
    cr_assert(strstr(r.message, "paged attention: kernel wrote into its input "
                                "q: byte "), "%s", r.message);
}

Test(guard, runner_finds_a_write_into_the_block_table)
{
    kvc_result r;
    cr_assert_eq(run_planted(INTO_TABLE, &r), KVC_FAIL_INPUT, "%s", r.message);
    cr_assert(strstr(r.message, "its input block_table: byte 1 (element 0)"),
              "%s", r.message);
}

Test(guard, runner_finds_a_write_into_seq_lens)
{
    kvc_result r;
    cr_assert_eq(run_planted(INTO_SEQ_LENS, &r), KVC_FAIL_INPUT, "%s",
                 r.message);
    cr_assert(strstr(r.message, "its input seq_lens: byte 0 (element 0)"),
              "%s", r.message);
}

/* Attention writing into the pool it reads: still the cache check's
 * verdict, which says where (block, slot, head, dim). */
Test(guard, runner_finds_attention_writing_the_cache)
{
    kvc_result r;
    cr_assert_eq(run_planted(INTO_K_POOL, &r), KVC_FAIL_CACHE, "%s", r.message);
    cr_assert(strstr(r.message, "attention modified the cache: K cache block 0"),
              "%s", r.message);
}

Test(guard, runner_names_the_ends_of_out_and_lse)
{
    kvc_result r;
    cr_assert_eq(run_planted(NAME_PAST_END, &r), KVC_PASS, "%s", r.message);
    cr_assert_str_eq(named_out, "kernel accessed 0 bytes past the end of out "
                                "(guard page)");
    cr_assert_str_eq(named_lse, "kernel accessed 0 bytes past the end of lse "
                                "(guard page)");
}

Test(guard, runner_finds_the_conversion_writing_position_ids)
{
    char err[256];
    kvc_case c;
    uint64_t i = 0;
    for (;; i++) {
        cr_assert_lt(i, 200, "no QEfficient case with a sequence");
        cr_assert_eq(kvc_case_generate(5, i, KVC_MODE_QEFF, &c, err, sizeof err),
                     0, "%s", err);
        if (c.prob.num_seqs >= 1 && c.qeff.max_q >= 1 && !c.spec.large_offsets)
            break;
        kvc_case_free(&c);
    }
    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, &planted, &r);
    int last = c.prob.num_seqs * c.qeff.max_q - 1;
    kvc_case_free(&c);
    cr_assert_eq(o, KVC_FAIL_INPUT, "%s", r.message);
    char want[160];
    snprintf(want, sizeof want, "QEfficient conversion: kernel wrote into its "
             "input position_ids: byte %d (element %d) changed", 4 * last, last);
    cr_assert_str_eq(r.message, want);
}

/* Nothing special installed: the write one past the end of out kills the
 * run by SIGSEGV at once. */
Test(guard, runner_write_past_the_end_of_out_traps, .signal = SIGSEGV)
{
    default_segv_under_asan();
    kvc_result r;
    run_planted(OUT_PAST_END, &r);
}

/* The in-process reporter: a child that writes past the end of a guarded
 * buffer prints the guard's line on stderr and still dies by SIGSEGV. */
Test(guard, fault_reporter_names_the_buffer_and_dies_by_the_signal)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        kvc_guard_install_fault_reporter();
        kvc_guard_set s = {0};
        volatile int *slots = kvc_guard_alloc(&s, "slot_mapping",
                                              KVC_GUARD_ROLE_OUTPUT, 40, 4);
        slots[11] = 1; /* 4 bytes past the end */
        _exit(0);
    }
    close(fds[1]);
    char buf[256] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 &&
           (k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
              "status %d", status);
    cr_assert_str_eq(buf, "kvcheck: bounds: kernel accessed 4 bytes past the end of "
                          "slot_mapping (guard page)\n");
}

static void exit_42(int sig)
{
    (void)sig;
    _exit(42);
}

/* A fault outside every guard page is the business of the handler that
 * was there before the reporter (AddressSanitizer's, say). */
Test(guard, fault_reporter_hands_other_faults_to_the_previous_handler)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGSEGV, exit_42);
        kvc_guard_install_fault_reporter();
        volatile char *hole = mmap(NULL, 4096, PROT_NONE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        hole[1] = 1;
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "status %d",
              status);
}
