/* pow_internal.h - private to the nonce search (pow.c and the per-width kernels), not installed. */
#ifndef IK_POW_INTERNAL_H
#define IK_POW_INTERNAL_H

#include "iota_kernel.h"

/* Nonce trit j lives at state[IKP_NONCE + j] of the last absorbed chunk [§3.4]. The nonce is split into:
 * lane trits (a fixed pattern per SIMD lane), counter trits (one batch after another), partition trits
 * (one value per searcher, so searchers never overlap), and the rest (kept from the caller's trytes). */
#define IKP_NONCE 162
#define IKP_LANE_TRITS 6 /* 3^6 = 729 >= 512 lanes */
#define IKP_CTR 6
#define IKP_CTR_TRITS 42
#define IKP_PART 48
#define IKP_PART_TRITS 9 /* 3^9 = 19683 partitions */
#define IKP_MAX_PARTS 19683u

typedef struct {
    int8_t base[IK_CURL_STATE_TRITS]; /* Curl state after 32 chunks, last chunk copied into [0, 243),
                                         partition trits set, counter and lane trits zero */
    unsigned mwm;
    ik_pow_control *ctl;
} ikp_job;

/* Kernel result: 1 = found (nonce holds the winner's 81 nonce trits), 0 = stopped. *batches counts the
 * batches tried. */
typedef int (*ikp_kernel)(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);

int ikp_search_portable(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#if defined(__x86_64__) || defined(__i386__)
int ikp_search_sse2(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
int ikp_search_avx2(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
int ikp_search_avx512(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
int ikp_search_neon(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#endif

/* Shared by pow.c and pow_threads.c. */
ik_status ikp_prepare(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd *simd, ik_pow_control *ctl,
                      ikp_job *job);
/* Runs one partition; on a find, claims ctl->found and writes nonce. Adds nothing to ctl->trials. */
ik_status ikp_run(const ikp_job *job, ik_simd simd, unsigned part, int8_t nonce[IK_NONCE_TRITS],
                  uint64_t *trials);

/* Polling helpers: plain volatile reads; the found flag is claimed with a compare-and-swap where the
 * target has one (single-core microcontrollers without it run one searcher). */
static inline int ikp_should_stop(const ik_pow_control *ctl)
{
    return ctl->cancel != 0 || ctl->found != 0;
}

static inline int ikp_claim(ik_pow_control *ctl)
{
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_4)
    int32_t expected = 0;
    return __atomic_compare_exchange_n((int32_t *)&ctl->found, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
#else
    if (ctl->found != 0) {
        return 0;
    }
    ctl->found = 1;
    return 1;
#endif
}

#endif
