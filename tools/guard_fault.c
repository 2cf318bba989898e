/*
 * guard_fault.c — the in-process fault reporter (guard.h): a SIGSEGV/SIGBUS
 * handler that names the guard page a kernel hit, then dies by the signal;
 * other faults go to the handler installed before it, if any.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"

/* The handlers found at install time (AddressSanitizer's, say): a fault
 * outside every guard page is theirs. Written at install, before the
 * handler is. */
static struct sigaction prev_segv, prev_bus;

/* Hand a fault that is not a guard's to the previous handler; 0 when there
 * is none to call. */
static int chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *p = sig == SIGSEGV ? &prev_segv : &prev_bus;
    if (p->sa_flags & SA_SIGINFO) {
        if (!p->sa_sigaction)
            return 0;
        p->sa_sigaction(sig, si, uc);
        return 1;
    }
    if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN)
        return 0;
    p->sa_handler(sig);
    return 1;
}

/* Set by the first thread that hits a guard page: the threads of a kernel
 * may fault at once, and one line (one write) says it. */
static int fault_reported;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    static const char prefix[] = "kvcheck: bounds: ";
    char line[256];
    memcpy(line, prefix, sizeof prefix - 1);
    if (kvc_guard_fault_text(si->si_addr, line + sizeof prefix - 1,
                             sizeof line - sizeof prefix)) {
        if (__atomic_exchange_n(&fault_reported, 1, __ATOMIC_SEQ_CST))
            for (;;) /* another thread reports and ends the process */
                pause();
        size_t n = 0;
        while (line[n])
            n++;
        line[n++] = '\n';
        ssize_t w = write(2, line, n);
        (void)w;
    } else if (chain(sig, si, uc)) {
        return;
    }
    /* Die by the same signal: default action, raised now, delivered when
     * the handler returns (a hardware fault would also simply recur). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

/* The alternate stack: a fault may come from a blown stack, where the
 * handler could not run on the faulting one. Static because it must outlive
 * the call; it is process-wide like the registry. */
static unsigned char alt_stack[1 << 16];

void kvc_guard_install_fault_reporter(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        stack_t ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_sp = alt_stack;
        ss.ss_size = sizeof alt_stack;
        sigaltstack(&ss, NULL);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    struct sigaction old;
    if (sigaction(SIGSEGV, NULL, &old) == 0 && old.sa_sigaction != on_fault)
        prev_segv = old;
    if (sigaction(SIGBUS, NULL, &old) == 0 && old.sa_sigaction != on_fault)
        prev_bus = old;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}
