/* bench_pow.c - micro-benchmark of the nonce search kernels by thread CPU time, for comparing variants on a
 * shared machine (wall clock is noisy there). Not a test: `make -C csrc bench` builds and runs it.
 *
 *   build/bench_pow [ms per run] [rounds] [width] [mwm]   default 300 ms, 5 rounds, every width (the runs
 *                                                         interleave), MWM 243
 *
 * For every SIMD width the CPU runs: a search at MWM 243 (never succeeds; a lower MWM stops at a find)
 * cancelled by a watcher thread after the given time; the figure is trials per CPU-second of the searching
 * thread (CLOCK_THREAD_CPUTIME_ID) and cycles per trial at the clock measured by a chain of dependent adds
 * (one per cycle) just before and after the run (no hardware counters in this VM). Best of the rounds: other
 * jobs and hypervisor steal only ever make a run slower. */
#include "iota_kernel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Cycles per ns: 2^24 dependent register adds (16 per loop iteration) take 2^26 cycles (add with an
 * immediate is not used: recent cores fold chains of those at rename). */
static double clock_ghz(int tries)
{
    double best = 0;
    int k;
    for (k = 0; k < tries; k++) {
        unsigned long x = 0;
        unsigned long n = 1ul << 24;
        double t = thread_ns();
        double ghz;
        unsigned long i;
        for (i = 0; i < n; i += 16) {
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(x) : "r"(n));
        }
        ghz = n / (thread_ns() - t);
        best = ghz > best ? ghz : best;
    }
    return best;
}

typedef struct {
    ik_pow_control *ctl;
    unsigned ms;
} watcher;

static void *watch(void *arg)
{
    watcher *w = (watcher *)arg;
    usleep(w->ms * 1000u);
    w->ctl->cancel = 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *names[] = {"auto", "portable", "sse2", "avx2", "avx512", "neon"};
    unsigned ms = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 && strcmp(argv[3], "all") != 0 ? argv[3] : 0;
    unsigned mwm = argc > 4 ? (unsigned)atoi(argv[4]) : 243;
    int8_t tx[IK_TX_TRITS];
    int8_t nonce[IK_NONCE_TRITS];
    double best[6] = {0};
    double cycles[6] = {0};
    int i;
    int r;
    int s;
    srand(1);
    for (i = 0; i < IK_TX_TRITS; i++) {
        tx[i] = (int8_t)(rand() % 3 - 1);
    }
    for (r = 0; r < rounds; r++) {
        for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
            ik_pow_control ctl = {0};
            watcher w = {&ctl, ms};
            pthread_t id;
            double t;
            double rate;
            double ghz;
            double cpt;
            if (!ik_pow_simd_supported((ik_simd)s) || (only && strcmp(only, names[s]) != 0)) {
                continue;
            }
            ghz = clock_ghz(2);
            pthread_create(&id, 0, watch, &w);
            t = thread_ns();
            ik_pow_search(tx, mwm, (ik_simd)s, 0, 1, &ctl, nonce);
            t = thread_ns() - t;
            pthread_join(id, 0);
            ghz = (ghz + clock_ghz(2)) / 2;
            rate = ctl.trials / t * 1e3; /* M trials per CPU-second */
            cpt = t * ghz / ctl.trials;
            best[s] = rate > best[s] ? rate : best[s];
            cycles[s] = cycles[s] == 0 || cpt < cycles[s] ? cpt : cycles[s];
        }
    }
    for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
        if (best[s] > 0) {
            printf("%-8s %6.2f M trials/CPU-s  %6.1f cycles/trial\n", names[s], best[s], cycles[s]);
        }
    }
    return 0;
}
