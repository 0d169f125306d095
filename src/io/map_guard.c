/* SIGBUS in a mapped input file -> a message naming the file, exit 4 (map_guard.h). */
#include "map_guard.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"

enum { MAX_MAPS = 512, MSG_LEN = 4096 + 200 };

typedef struct guard {
    uintptr_t lo, hi;
    volatile sig_atomic_t used;  /* set last, cleared first: the handler never reads a half entry */
    size_t msg_len;
    char msg[MSG_LEN];
} guard;

static guard maps[MAX_MAPS];
static volatile sig_atomic_t installed;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].used && a >= maps[i].lo && a < maps[i].hi) {
            ssize_t w = write(STDERR_FILENO, maps[i].msg, maps[i].msg_len);
            (void)w;
            _exit(PE_EIO);
        }
    /* not a mapped input: the default action on return (the access faults again) */
    signal(sig, SIG_DFL);
}

static void install(void)
{
    if (installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) == 0)
        installed = 1;
}

void pe_map_guard_add(const void *addr, size_t len, const char *path)
{
    if (!addr || len == 0)
        return;
    for (int i = 0; i < MAX_MAPS; i++)
        if (!maps[i].used) {
            guard *g = &maps[i];
            g->lo = (uintptr_t)addr;
            g->hi = g->lo + len;
            int n = snprintf(g->msg, sizeof g->msg,
                             "prmeval: %s: the file shrank while it was being read (truncated or rewritten in "
                             "place during the run); stopping (exit 4)\n", path);
            g->msg_len = n < 0 ? 0 : (size_t)n < sizeof g->msg ? (size_t)n : sizeof g->msg - 1;
            install();
            g->used = 1;
            return;
        }
}

void pe_map_guard_remove(const void *addr)
{
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].used && maps[i].lo == (uintptr_t)addr)
            maps[i].used = 0;
}
