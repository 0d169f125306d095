/* Stop requests from SIGTERM and SIGUSR1 (see signals.h). */
#include "cluster/signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* sig_atomic_t is the only object type a handler may write and the main
 * program then read with defined behaviour (C11 7.14.1.1). */
static volatile sig_atomic_t stop_signal;

static struct sigaction saved_term, saved_usr1;
static int installed;

static void on_stop_signal(int sig)
{
    /* Keep the first signal: a SIGTERM after the SIGUSR1 warning is the same request. */
    if (stop_signal == 0)
        stop_signal = sig;
}

int pe_signals_install(pe_err *e)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* Block the other stop signal inside the handler: one request at a time. */
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sa.sa_flags = SA_RESTART;
    stop_signal = 0;
    struct sigaction old_term, old_usr1;
    if (sigaction(SIGTERM, &sa, &old_term) != 0)
        return pe_fail(e, PE_EGENERIC, "cannot install the SIGTERM handler: %s", strerror(errno));
    if (sigaction(SIGUSR1, &sa, &old_usr1) != 0) {
        int saved = errno;
        sigaction(SIGTERM, &old_term, NULL);
        return pe_fail(e, PE_EGENERIC, "cannot install the SIGUSR1 handler: %s", strerror(saved));
    }
    /* A launcher may start us with the stop signals blocked (the mask is
     * inherited across exec): a request already pending is delivered now. */
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &stops, NULL);
    /* Installing twice must not lose the original dispositions. */
    if (!installed) {
        saved_term = old_term;
        saved_usr1 = old_usr1;
        installed = 1;
    }
    return PE_OK;
}

void pe_signals_restore(void)
{
    if (!installed)
        return;
    sigaction(SIGTERM, &saved_term, NULL);
    sigaction(SIGUSR1, &saved_usr1, NULL);
    installed = 0;
}

int pe_signals_stop_requested(void)
{
    return (int)stop_signal;
}

const char *pe_signals_name(int sig)
{
    switch (sig) {
    case 0: return "none";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "another signal";
    }
}
