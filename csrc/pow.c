/* pow.c - nonce search driver: argument checks, mid-state, partitions, SIMD dispatch, and the portable
 * 64-lane kernel [§3.4]. The kernels themselves are pow_kernel.inc instantiations; the portable byte-sliced rounds of
 * lanes.c (lanes_kernel.inc) are instantiated here too, on the same word. */
#include "pow_internal.h"

#include <string.h>

/* Portable kernel: 64 lanes in a uint64_t on 64-bit hosts, with the scheduled search; on 32-bit targets 32
 * lanes in a uint32_t, plain in-place rounds (two 5.7 KiB states: the stack a microcontroller can spare). */
#if UINTPTR_MAX > 0xffffffffu
#define IKP_PORTABLE_LANES 64
#define IKP_V uint64_t
#define IKP_INPLACE 1
#define IKP_PLAN 1
#else
#define IKP_PORTABLE_LANES 32
#define IKP_V uint32_t
#define IKP_W uint32_t
#define IKP_WBITS 32
#define IKP_INPLACE 1
#endif
#define IKP_SUFFIX portable
#define IKP_WORDS 1
#define IKP_ATTR
/* S-box [§3.2] on (lo, hi) = (1, 0) for -1, (1, 1) for 0, (0, 1) for +1: the result is +1 exactly when
 * a = -1 and b != +1 or a = 0 and b = +1, that is al & (ah ^ bl) (al = 0 means a = +1; (0, 0) never occurs),
 * so lo does not depend on bh: five operations. */
#define IKP_SBOX(al, ah, bl, bh, lo, hi)                                                                     \
    do {                                                                                                     \
        IKP_V d_ = (al) & ((ah) ^ (bl));                                                                     \
        (lo) = ~d_;                                                                                          \
        (hi) = ((al) ^ (bh)) | d_;                                                                           \
    } while (0)
#include "pow_kernel.inc"
#include "lanes_kernel.inc"

#if IKP_HAVE_PLAN
static unsigned walk(unsigned i)
{
    return (364u * i) % 729u; /* p_i [§3.2] */
}

/* Cost estimates per step (tenths of a round step of the triple pass; AVX-512 here, tests/bench_pow.c and
 * a per-pass rdtsc loop): triple pass (3 rounds) 30, double 28, single round 21, partial round 46. */
#define IKP_COST_PARTIAL 46ul
static unsigned long body_cost(unsigned rounds)
{
    static const unsigned long rest[3] = {0, 21, 28};
    return ((unsigned long)(rounds / 3) * 30ul + rest[rounds % 3]) * IK_CURL_STATE_TRITS;
}

void ikp_plan_build(ikp_plan *plan, unsigned mwm, unsigned scale)
{
    uint8_t needs[IKP_TAIL_MAX + 1][IK_CURL_STATE_TRITS]; /* needs[t]: outputs of round 81 - t that matter */
    unsigned count[IKP_TAIL_MAX + 1];
    uint8_t cur[IK_CURL_STATE_TRITS];
    uint8_t nxt[IK_CURL_STATE_TRITS];
    unsigned pos = 0;
    unsigned total = 0;
    unsigned k;
    unsigned r;
    unsigned i;
    unsigned t;
    unsigned m = 1;
    unsigned mo;
    unsigned dof;
    /* Head: the cone of the k + 1 lowest counter trits through rounds 1..IKP_HEAD_ROUNDS. */
    for (k = 0; k < IKP_HEAD_K; k++) {
        memset(cur, 0, sizeof cur);
        for (i = 0; i <= k; i++) {
            cur[IKP_NONCE + IKP_CTR + i] = 1;
        }
        plan->head_start[k][0] = (uint16_t)pos;
        for (r = 1; r <= IKP_HEAD_ROUNDS; r++) {
            memset(nxt, 0, sizeof nxt);
            for (i = 0; i < IK_CURL_STATE_TRITS; i++) {
                if ((cur[walk(i)] || cur[walk(i + 1)]) && pos < IKP_HEAD_POOL) {
                    nxt[i] = 1;
                    plan->head[pos].a = (uint16_t)walk(i);
                    plan->head[pos].b = (uint16_t)walk(i + 1);
                    plan->head[pos].out = (uint16_t)i;
                    pos++;
                }
            }
            plan->head_start[k][r] = (uint16_t)pos;
            memcpy(cur, nxt, sizeof cur);
        }
    }
    /* Tail: needs[t] marks the outputs of round 81 - t that reach the mwm checked trits. A partial step
     * (scattered loads, buffers that do not all stay in L1) costs about 4.6 round steps of the triple pass
     * here, so the tail keeps the number of rounds that makes the estimate below smallest; with none, the
     * check reads the hash from the body's layout. */
    memset(needs[0], 0, sizeof needs[0]);
    for (i = IK_HASH_TRITS - mwm; i < IK_HASH_TRITS; i++) {
        needs[0][i] = 1;
    }
    count[0] = mwm;
    for (t = 0; t < IKP_TAIL_MAX; t++) {
        memset(needs[t + 1], 0, sizeof needs[t + 1]);
        for (i = 0; i < IK_CURL_STATE_TRITS; i++) {
            if (needs[t][i]) {
                needs[t + 1][walk(i)] = 1;
                needs[t + 1][walk(i + 1)] = 1;
            }
        }
        count[t + 1] = 0;
        for (i = 0; i < IK_CURL_STATE_TRITS; i++) {
            count[t + 1] += needs[t + 1][i];
        }
    }
    plan->tail_rounds = 0;
#ifdef IKP_FORCE_TAIL /* tests (make test-host): a fixed tail, so every kind of body pass and the check in the
                       * body's layout run with an mwm a test can reach; the estimate picks 8 rounds for mwm 1..84 */
    for (t = 0; mwm > 0 && t + 1 <= (unsigned)IKP_FORCE_TAIL && count[t] < IK_CURL_STATE_TRITS &&
                total + count[t] <= IKP_TAIL_POOL;
         t++) {
        total += count[t];
        plan->tail_rounds = t + 1;
    }
    if (0)
#endif
    {
        unsigned long best = body_cost(81 - IKP_HEAD_ROUNDS);
        for (t = 1; mwm > 0 && t <= IKP_TAIL_MAX; t++) {
            unsigned long cost;
            total += count[t - 1];
            if (count[t - 1] == IK_CURL_STATE_TRITS || total > IKP_TAIL_POOL) {
                break;
            }
            cost = body_cost(81 - IKP_HEAD_ROUNDS - t) + IKP_COST_PARTIAL * total;
            if (cost < best) {
                best = cost;
                plan->tail_rounds = t;
            }
        }
    }
    /* Body: rounds IKP_HEAD_ROUNDS + 1 .. 81 - tail_rounds; the first pass reads the head's last cache (natural
     * order), then the layout of the work state is affine: trit x sits in slot (c x + d) mod 729, with (c, d)
     * = (1, 0) for the natural order. A single round leaves n[i] in the slot of o[p_i]: (c, d) -> (364 c, d).
     * A double pass stores n2[i] in the slot of o[547 (i - 1)] (547 = 364^2): (c, d) -> (547 c, d - 547 c).
     * A triple pass stores n3[i] in the slot of o[91 (i + 1)] (91 = 364^3): (c, d) -> (91 c, d + 91 c).
     * See ikp_round_pair_ and ikp_round_triple_ in pow_kernel.inc. */
    {
        unsigned rounds = 81 - plan->tail_rounds - IKP_HEAD_ROUNDS; /* at least 56 */
        unsigned d = 0;
        unsigned q = 0;
        plan->body_rounds[q++] = 3;
        if (rounds % 3 != 0) {
            plan->body_rounds[q++] = (uint8_t)(rounds % 3);
        }
        for (i = 1; i < rounds / 3; i++) {
            plan->body_rounds[q++] = 3;
        }
        plan->body_passes = q;
        for (q = 0; q < plan->body_passes; q++) {
            uint16_t *slot = plan->slot[q];
            for (i = IK_CURL_STATE_TRITS; i < IKP_WORK_TRITS; i++) {
                slot[i] = (uint16_t)(i * scale);
            }
            if (plan->body_rounds[q] == 1) {
                for (i = 0; i <= IK_CURL_STATE_TRITS; i++) { /* o[p_i], i = 0..729 */
                    slot[i] = (uint16_t)(((m * walk(i) + d) % 729u) * scale);
                }
                m = (m * 364u) % 729u;
            } else if (plan->body_rounds[q] == 2) {
                unsigned c2 = (m * 547u) % 729u;
                for (i = 0; i < IK_CURL_STATE_TRITS + 2; i++) { /* slot[k + 2]: o[547 (k + 1)], k = -2..728 */
                    slot[i] = (uint16_t)(((c2 * ((i + 728u) % 729u) + d) % 729u) * scale);
                }
                d = (d + 729u - c2) % 729u;
                m = c2;
            } else {
                unsigned c3 = (m * 91u) % 729u;
                for (i = 0; i < IK_CURL_STATE_TRITS; i++) { /* slot[k]: o[91 (k + 1)] */
                    slot[i] = (uint16_t)(((c3 * (i + 1u) + d) % 729u) * scale);
                }
                d = (d + c3) % 729u;
                m = c3;
            }
        }
        mo = m;
        dof = d;
    }
    plan->hash_c = plan->tail_rounds > 0 ? 1 : mo; /* the tail ends in natural order */
    plan->hash_d = plan->tail_rounds > 0 ? 0 : dof;
    /* Tail entries, in round order; the first tail round reads the body's layout (mo, dof). */
    pos = 0;
    for (t = 0; t < plan->tail_rounds; t++) {
        const uint8_t *need = needs[plan->tail_rounds - 1 - t];
        plan->tail_start[t] = (uint16_t)pos;
        for (i = 0; i < IK_CURL_STATE_TRITS; i++) {
            if (need[i]) {
                unsigned a = walk(i);
                unsigned b = walk(i + 1);
                plan->tail[pos].a = (uint16_t)(t == 0 ? (mo * a + dof) % 729u : a);
                plan->tail[pos].b = (uint16_t)(t == 0 ? (mo * b + dof) % 729u : b);
                plan->tail[pos].out = (uint16_t)i;
                pos++;
            }
        }
    }
    plan->tail_start[plan->tail_rounds] = (uint16_t)pos;
}
#endif

int ik_pow_simd_supported(ik_simd simd)
{
    switch (simd) {
    case IK_SIMD_AUTO:
    case IK_SIMD_PORTABLE:
        return 1;
#if defined(__x86_64__) || defined(__i386__)
    case IK_SIMD_SSE2:
        return __builtin_cpu_supports("sse2") ? 1 : 0;
    case IK_SIMD_AVX2:
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case IK_SIMD_AVX512:
        return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) ? 1 : 0;
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
    case IK_SIMD_NEON:
        return 1;
#endif
    default:
        return 0;
    }
}

ik_simd ik_pow_simd_best(void)
{
    static const ik_simd order[] = {IK_SIMD_AVX512, IK_SIMD_AVX2, IK_SIMD_NEON, IK_SIMD_SSE2};
    unsigned i;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (ik_pow_simd_supported(order[i])) {
            return order[i];
        }
    }
    return IK_SIMD_PORTABLE;
}

unsigned ik_pow_simd_lanes(ik_simd simd)
{
    switch (simd) {
    case IK_SIMD_PORTABLE:
        return IKP_PORTABLE_LANES;
    case IK_SIMD_SSE2:
    case IK_SIMD_NEON:
        return 128;
    case IK_SIMD_AVX2:
        return 256;
    case IK_SIMD_AVX512:
        return IKP_AVX512_BITS;
    default:
        return 0;
    }
}

static ikp_kernel kernel_for(ik_simd simd)
{
    switch (simd) {
#if defined(__x86_64__) || defined(__i386__)
    case IK_SIMD_SSE2:
        return ikp_search_sse2;
    case IK_SIMD_AVX2:
        return ikp_search_avx2;
    case IK_SIMD_AVX512:
        return ikp_search_avx512;
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
    case IK_SIMD_NEON:
        return ikp_search_neon;
#endif
    default:
        return ikp_search_portable;
    }
}

ik_status ikp_prepare(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd *simd, ik_pow_control *ctl,
                      ikp_job *job)
{
    int i;
    if (mwm > IK_HASH_TRITS) {
        return IK_ERR_VALUE;
    }
    if (*simd == IK_SIMD_AUTO) {
        *simd = ik_pow_simd_best();
    }
    if (ik_pow_simd_lanes(*simd) == 0) {
        return IK_ERR_VALUE;
    }
    if (!ik_pow_simd_supported(*simd)) {
        return IK_ERR_UNSUPPORTED;
    }
    for (i = 0; i < IK_TX_TRITS; i++) {
        if (tx[i] < -1 || tx[i] > 1) {
            return IK_ERR_TRIT;
        }
    }
    /* Mid-state: absorb the first 32 chunks once; the last chunk (with the nonce in its top 81 trits)
     * is what every candidate transforms [§3.4]. */
    memset(job->base, 0, sizeof job->base);
    for (i = 0; i < IK_TX_TRITS - IK_HASH_TRITS; i += IK_HASH_TRITS) {
        memcpy(job->base, tx + i, IK_HASH_TRITS);
        ik_curl_transform(job->base, 81);
    }
    memcpy(job->base, tx + IK_TX_TRITS - IK_HASH_TRITS, IK_HASH_TRITS);
    memset(job->base + IKP_NONCE, 0, IKP_PART);
    job->mwm = mwm;
    job->ctl = ctl;
    return IK_OK;
}

ik_status ikp_run(const ikp_job *shared, ik_simd simd, unsigned part, int8_t nonce[IK_NONCE_TRITS],
                  uint64_t *trials)
{
    ikp_job job = *shared;
    int8_t found[IK_NONCE_TRITS];
    uint64_t batches = 0;
    int v = (int)part - (int)(IKP_MAX_PARTS / 2); /* balanced, distinct per partition */
    int k;
    for (k = 0; k < IKP_PART_TRITS; k++) {
        int d = ((v % 3) + 4) % 3 - 1;
        job.base[IKP_NONCE + IKP_PART + k] = (int8_t)d;
        v = (v - d) / 3;
    }
    k = kernel_for(simd)(&job, found, &batches);
    *trials = batches * ik_pow_simd_lanes(simd);
    if (k && ikp_claim(job.ctl)) {
        memcpy(nonce, found, IK_NONCE_TRITS);
        return IK_OK;
    }
    return IK_ERR_CANCELLED;
}

ik_status ik_pow_search(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned part,
                        unsigned parts, ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS])
{
    ikp_job job;
    uint64_t trials = 0;
    ik_status st;
    if (parts < 1 || parts > IKP_MAX_PARTS || part >= parts) {
        return IK_ERR_VALUE;
    }
    st = ikp_prepare(tx, mwm, &simd, ctl, &job);
    if (st != IK_OK) {
        return st;
    }
    st = ikp_run(&job, simd, part, nonce, &trials);
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_8)
    __atomic_fetch_add((uint64_t *)&ctl->trials, trials, __ATOMIC_RELAXED);
#else
    ctl->trials += trials;
#endif
    return st;
}

/* The tryte front ends: one job serves the search and, when hash is not null, the transaction hash, which is one
 * transform of the mid-state with the nonce in place [§3.4] (no second pass over the 33 chunks). */
static ik_status search_trytes(const char tx[IK_TX_TRYTES], unsigned mwm, ik_simd simd, unsigned threads,
                               ik_pow_control *ctl, char nonce[IK_NONCE_TRYTES], char *hash)
{
    int8_t trits[IK_TX_TRITS];
    int8_t found[IK_NONCE_TRITS];
    ikp_job job;
    ik_status st = ik_trytes_to_trits(tx, IK_TX_TRYTES, trits);
    if (st == IK_OK) {
        st = ikp_check_threads(threads);
    }
    if (st == IK_OK) {
        st = ikp_prepare(trits, mwm, &simd, ctl, &job);
    }
    if (st == IK_OK) {
        st = ikp_search_job(&job, simd, threads, found);
    }
    if (st == IK_OK && hash != 0) {
        memcpy(job.base + IKP_NONCE, found, IK_NONCE_TRITS);
        ik_curl_transform(job.base, 81);
        st = ik_trits_to_trytes(job.base, IK_HASH_TRITS, hash);
    }
    return st == IK_OK ? ik_trits_to_trytes(found, IK_NONCE_TRITS, nonce) : st;
}

ik_status ik_pow_search_trytes(const char tx[IK_TX_TRYTES], unsigned mwm, ik_simd simd, unsigned threads,
                               ik_pow_control *ctl, char nonce[IK_NONCE_TRYTES])
{
    return search_trytes(tx, mwm, simd, threads, ctl, nonce, 0);
}

ik_status ik_pow_search_trytes_hash(const char tx[IK_TX_TRYTES], unsigned mwm, ik_simd simd, unsigned threads,
                                    ik_pow_control *ctl, char nonce[IK_NONCE_TRYTES], char hash[IK_HASH_TRYTES])
{
    return search_trytes(tx, mwm, simd, threads, ctl, nonce, hash);
}
