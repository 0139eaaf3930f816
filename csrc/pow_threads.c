/* pow_threads.c - run a prepared nonce search: on the calling thread when one searcher is asked for and that
 * thread's stack has room for the kernel, else fanned out over POSIX threads, one disjoint partition each.
 * Builds without threads (microcontrollers: define IK_NO_THREADS) accept threads == 1 only. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_getattr_np, syscall */
#endif
#include "pow_internal.h"

#include <string.h>

#if !defined(IK_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#if defined(__linux__)
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

#if defined(__linux__)
/* Stack left below here on the process's main thread, 0 when it cannot tell: that stack grows down from the top of
 * the initial stack, where the kernel copied the program's name (AT_EXECFN) above argv and envp, up to
 * RLIMIT_STACK. glibc's pthread_getattr_np finds the same by reading /proc/self/maps for the main thread: 20 us a
 * call in a small C program, 0.18 ms in CPython, more than the thread it would save. */
static size_t ikp_main_stack_left(uintptr_t here)
{
    struct rlimit rl;
    const char *name = (const char *)getauxval(AT_EXECFN);
    uintptr_t top;
    if (name == 0 || getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return 0;
    }
    top = (uintptr_t)name + strlen(name) + 1;
    if (here >= top || top - here >= rl.rlim_cur) {
        return 0; /* not on the initial stack (a coroutine's, an alternate signal stack) */
    }
    return (size_t)(rl.rlim_cur - (top - here));
}

/* Stack left below here on another thread (its whole mapping, pthread_getattr_np: 0.4 us), 0 when it cannot tell. */
static size_t ikp_thread_stack_left(uintptr_t here)
{
    pthread_attr_t attr;
    void *low = 0;
    size_t size = 0;
    int ok;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        return 0;
    }
    ok = pthread_attr_getstack(&attr, &low, &size) == 0;
    pthread_attr_destroy(&attr);
    if (!ok || low == 0 || here < (uintptr_t)low || here - (uintptr_t)low > size) {
        return 0; /* not on the stack pthreads knows (a coroutine's, an alternate signal stack) */
    }
    return (size_t)(here - (uintptr_t)low);
}
#endif

/* 1 when the calling thread has at least IKP_INLINE_STACK bytes of stack below this frame (stacks grow down on
 * every target here); 0 where it cannot tell (not Linux). */
int ikp_runs_inline(void)
{
#if defined(__linux__)
    char here;
    uintptr_t at = (uintptr_t)&here;
    size_t left = getpid() == (pid_t)syscall(SYS_gettid) ? ikp_main_stack_left(at) : ikp_thread_stack_left(at);
    return left >= IKP_INLINE_STACK;
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
