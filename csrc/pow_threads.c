/* pow_threads.c - fan the nonce search out over POSIX threads, one disjoint partition each. Builds
 * without threads (microcontrollers: define IK_NO_THREADS) accept threads == 1 only. */
#include "pow_internal.h"

#include <string.h>

#if !defined(IK_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>

#define IKP_MAX_THREADS 64
#define IKP_THREAD_STACK (4096u * 1024u) /* the AVX-512 kernel keeps 11 states and its plan on the stack */

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

ik_status ik_pow_search_threads(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned threads,
                                ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS])
{
    ikp_job job;
    ikp_worker workers[IKP_MAX_THREADS];
    pthread_t ids[IKP_MAX_THREADS];
    pthread_attr_t attr;
    unsigned started = 0;
    unsigned i;
    uint64_t trials = 0;
    ik_status st;
    if (threads < 1 || threads > IKP_MAX_THREADS) {
        return IK_ERR_VALUE;
    }
    st = ikp_prepare(tx, mwm, &simd, ctl, &job);
    if (st != IK_OK) {
        return st;
    }
    if (pthread_attr_init(&attr) != 0) {
        return IK_ERR_UNSUPPORTED;
    }
    pthread_attr_setstacksize(&attr, IKP_THREAD_STACK);
    for (i = 0; i < threads; i++) {
        workers[i].job = &job;
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
    ctl->trials += trials;
    return st;
}

#else

ik_status ik_pow_search_threads(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned threads,
                                ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS])
{
    if (threads != 1) {
        return threads == 0 ? IK_ERR_VALUE : IK_ERR_UNSUPPORTED;
    }
    return ik_pow_search(tx, mwm, simd, 0, 1, ctl, nonce);
}

#endif
