/* pow_threads.c - run a prepared nonce search: on the calling thread when one searcher is asked for and that
 * thread's stack has room for the kernel, else fanned out over POSIX threads, one disjoint partition each.
 * Builds without threads (microcontrollers: define IK_NO_THREADS) accept threads == 1 only. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_getattr_np */
#endif
#include "pow_internal.h"

#include <string.h>

#if !defined(IK_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>

#define IKP_MAX_THREADS 64
#define IKP_THREAD_STACK (4096u * 1024u) /* the AVX-512 kernel keeps 11 states and its plan on the stack */
/* Stack a search needs below ikp_search_job's frame: the widest kernel's frame is 0.58 MiB (AVX-512 at 256
 * lanes, also AVX2; 1.07 MiB with IKP_AVX512_BITS 512: gcc -fstack-usage, -O1 with ASan or -O3), plus ikp_run
 * and ikp_plan_build under it (15 KiB); 2 MiB keeps at least 0.9 MiB of margin (signal handlers, guard page). */
#define IKP_INLINE_STACK (2048u * 1024u)

typedef struct {
    const ikp_job *job;
    ik_simd simd;
    unsigned part;
    ik_status status;
    uint64_t trials;
    int8_t nonce[IK_NONCE_TRITS];
} ikp_worker;

static void *ikp_worker_main(void *arg)
{
    ikp_worker *w = (ikp_worker *)arg;
    w->status = ikp_run(w->job, w->simd, w->part, w->nonce, &w->trials);
    return 0;
}

/* 1 when the calling thread has at least IKP_INLINE_STACK bytes of stack below this frame (stacks grow down on
 * every target here); 0 where it cannot tell. pthread_getattr_np reports the main thread's stack up to its
 * rlimit (glibc) and a thread's whole mapping. */
int ikp_runs_inline(void)
{
#if defined(__linux__)
    pthread_attr_t attr;
    void *low = 0;
    size_t size = 0;
    char here;
    uintptr_t at = (uintptr_t)&here;
    int ok;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        return 0;
    }
    ok = pthread_attr_getstack(&attr, &low, &size) == 0;
    pthread_attr_destroy(&attr);
    if (!ok || low == 0 || at < (uintptr_t)low || at - (uintptr_t)low > size) {
        return 0; /* not on the stack pthreads knows (an alternate signal stack, a coroutine's) */
    }
    return at - (uintptr_t)low >= IKP_INLINE_STACK;
#else
    return 0;
#endif
}

ik_status ikp_check_threads(unsigned threads)
{
    return threads < 1 || threads > IKP_MAX_THREADS ? IK_ERR_VALUE : IK_OK;
}

ik_status ikp_search_job(const ikp_job *job, ik_simd simd, unsigned threads, int8_t nonce[IK_NONCE_TRITS])
{
    ikp_worker workers[IKP_MAX_THREADS];
    pthread_t ids[IKP_MAX_THREADS];
    pthread_attr_t attr;
    unsigned started = 0;
    unsigned i;
    uint64_t trials = 0;
    ik_status st;
    if (threads == 1 && ikp_runs_inline()) { /* no thread to create, join and fault in: 0.1..0.2 ms a search */
        st = ikp_run(job, simd, 0, nonce, &trials);
        job->ctl->trials += trials;
        return st;
    }
    if (pthread_attr_init(&attr) != 0) {
        return IK_ERR_UNSUPPORTED;
    }
    pthread_attr_setstacksize(&attr, IKP_THREAD_STACK);
    for (i = 0; i < threads; i++) {
        workers[i].job = job;
        workers[i].simd = simd;
        workers[i].part = i;
        workers[i].status = IK_ERR_CANCELLED;
        workers[i].trials = 0;
        if (pthread_create(&ids[i], &attr, ikp_worker_main, &workers[i]) != 0) {
            break;
        }
        started++;
    }
    pthread_attr_destroy(&attr);
    if (started == 0) {
        return IK_ERR_UNSUPPORTED;
    }
    st = IK_ERR_CANCELLED;
    for (i = 0; i < started; i++) {
        pthread_join(ids[i], 0);
        trials += workers[i].trials;
        if (workers[i].status == IK_OK) { /* at most one worker claims the find */
            memcpy(nonce, workers[i].nonce, IK_NONCE_TRITS);
            st = IK_OK;
        }
    }
    job->ctl->trials += trials;
    return st;
}

#else

int ikp_runs_inline(void)
{
    return 1;
}

ik_status ikp_check_threads(unsigned threads)
{
    if (threads != 1) {
        return threads == 0 ? IK_ERR_VALUE : IK_ERR_UNSUPPORTED;
    }
    return IK_OK;
}

ik_status ikp_search_job(const ikp_job *job, ik_simd simd, unsigned threads, int8_t nonce[IK_NONCE_TRITS])
{
    uint64_t trials = 0;
    ik_status st;
    (void)threads;
    st = ikp_run(job, simd, 0, nonce, &trials);
    job->ctl->trials += trials;
    return st;
}

#endif

ik_status ik_pow_search_threads(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned threads,
                                ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS])
{
    ikp_job job;
    ik_status st = ikp_check_threads(threads);
    if (st != IK_OK) {
        return st;
    }
    st = ikp_prepare(tx, mwm, &simd, ctl, &job);
    if (st != IK_OK) {
        return st;
    }
    return ikp_search_job(&job, simd, threads, nonce);
}
