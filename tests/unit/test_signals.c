/* Preemption signals: SIGTERM and SIGUSR1 raised on ourselves set the stop
 * request (the first one wins), interrupted system calls restart, a process
 * that polls the request exits with PE_EPREEMPT (75) when signalled by another
 * process, and restore gives back the default (fatal) SIGTERM. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cluster/signals.h"

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void test_raise_on_self(void)
{
    pe_err e = {0};
    CHECK_INT(pe_signals_install(&e), PE_OK);
    CHECK_INT(pe_signals_stop_requested(), 0);
    CHECK_INT(raise(SIGUSR1), 0);
    CHECK_INT(pe_signals_stop_requested(), SIGUSR1);
    CHECK_INT(raise(SIGTERM), 0);  /* still alive: handled, and the first request is kept */
    CHECK_INT(pe_signals_stop_requested(), SIGUSR1);
    CHECK_STR(pe_signals_name(pe_signals_stop_requested()), "SIGUSR1");

    CHECK_INT(pe_signals_install(&e), PE_OK);  /* a new run starts with no request */
    CHECK_INT(pe_signals_stop_requested(), 0);
    CHECK_INT(raise(SIGTERM), 0);
    CHECK_INT(pe_signals_stop_requested(), SIGTERM);
    CHECK_STR(pe_signals_name(SIGTERM), "SIGTERM");
    CHECK_STR(pe_signals_name(0), "none");
    pe_signals_restore();
}

/* A signal arriving during a blocking read must not make it fail (SA_RESTART). */
static void test_restart(void)
{
    pe_err e = {0};
    int fd[2];
    CHECK_INT(pipe(fd), 0);
    CHECK_INT(pe_signals_install(&e), PE_OK);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        nap_ms(100);
        kill(parent, SIGUSR1);
        nap_ms(100);
        (void)!write(fd[1], "ok", 2);
        _exit(0);
    }
    char buf[2] = {0};
    ssize_t r = read(fd[0], buf, 2);
    CHECK_INT(r, 2);
    CHECK(buf[0] == 'o' && buf[1] == 'k');
    CHECK_INT(pe_signals_stop_requested(), SIGUSR1);
    int status = 0;
    waitpid(child, &status, 0);
    close(fd[0]);
    close(fd[1]);
    pe_signals_restore();
}

/* The shape of a real run: work in steps, poll between them, exit 75 when asked. */
static void test_child_exits_75(int sig)
{
    int ready[2];
    CHECK_INT(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        pe_err e = {0};
        if (pe_signals_install(&e) != PE_OK)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        for (int step = 0; step < 500; step++) {  /* at most ~5 s */
            if (pe_signals_stop_requested())
                _exit(PE_EPREEMPT);
            nap_ms(10);
        }
        _exit(0);
    }
    char c;
    CHECK_INT(read(ready[0], &c, 1), 1);
    CHECK_INT(kill(child, sig), 0);
    int status = 0;
    CHECK_INT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 75);
    close(ready[0]);
    close(ready[1]);
}

static void test_restore(void)
{
    pid_t child = fork();
    if (child == 0) {
        pe_err e = {0};
        pe_signals_install(&e);
        pe_signals_restore();
        raise(SIGTERM);  /* default disposition again: this kills the child */
        _exit(0);
    }
    int status = 0;
    CHECK_INT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

int main(void)
{
    CHECK_INT(PE_EPREEMPT, 75);  /* the contract with slurm/prmeval.sbatch and EX_TEMPFAIL */
    test_raise_on_self();
    test_restart();
    test_child_exits_75(SIGTERM);
    test_child_exits_75(SIGUSR1);
    test_restore();
    return pe_check_done();
}
