/* chains.c - many hash chains at once, bit-sliced across chains [§9.2]: the driver of the chains kernel that
 * pow_kernel.inc instantiates per SIMD width (lane k of a bit-sliced word is one chain). MAM verification
 * (ik_mam_parse_many) opens the Winternitz chains of a whole batch of payloads with it. */
#include "pow_internal.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define CHAINS_MAX_LANES 512
#elif defined(__aarch64__) || defined(__ARM_NEON)
#define CHAINS_MAX_LANES 128
#else
#define CHAINS_MAX_LANES 64
#endif

/* Relative cost of a link: a bit-sliced step runs every lane of the width (a group pays its longest chain), a
 * byte-wise link (ik_curl_chains, two chains at a time) one chain. Measured on an AVX-512 Xeon: one bit-sliced
 * Curl-P-27 step of the whole width takes about 35, 38, 25 and 21 times a byte-wise link (AVX-512, AVX2, SSE2,
 * portable 64 lanes). */
static unsigned long sliced_cost(ik_simd simd)
{
    switch (simd) {
    case IK_SIMD_AVX512:
        return 35;
    case IK_SIMD_AVX2:
        return 38;
    case IK_SIMD_SSE2:
    case IK_SIMD_NEON:
        return 25;
    default:
        return 21;
    }
}

static ikp_chains_fn chains_for(ik_simd simd)
{
    switch (simd) {
#if defined(__x86_64__) || defined(__i386__)
    case IK_SIMD_SSE2:
        return ikp_chains_sse2;
    case IK_SIMD_AVX2:
        return ikp_chains_avx2;
    case IK_SIMD_AVX512:
        return ikp_chains_avx512;
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
    case IK_SIMD_NEON:
        return ikp_chains_neon;
#endif
    default:
        return ikp_chains_portable;
    }
}

static size_t work_bytes_of(ik_simd simd)
{
    return (size_t)ik_pow_simd_lanes(simd) / 4u * IKP_CHAIN_TRITS + 63u; /* + alignment slack */
}

/* The widest width this CPU runs whose bit-sliced work fits work_bytes; IK_SIMD_AUTO where none does. */
static ik_simd width_for(size_t work_bytes)
{
    static const ik_simd order[] = {IK_SIMD_AVX512, IK_SIMD_AVX2, IK_SIMD_NEON, IK_SIMD_SSE2, IK_SIMD_PORTABLE};
    unsigned i;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (ik_pow_simd_supported(order[i]) && ik_pow_simd_lanes(order[i]) <= CHAINS_MAX_LANES &&
            work_bytes_of(order[i]) <= work_bytes) {
            return order[i];
        }
    }
    return IK_SIMD_AUTO;
}

size_t ik_curl_chains_work_bytes(void)
{
    ik_simd simd = width_for((size_t)-1);
    return simd == IK_SIMD_AUTO ? 0 : work_bytes_of(simd);
}

/* Chains in decreasing order of times (so a group's lanes run about as many links each): a cursor over the values
 * present, each a scan of times. */
typedef struct {
    const uint8_t *times;
    size_t n;
    size_t pos;
    int value;
    uint8_t present[32];
} chain_order;

static void order_init(chain_order *o, const uint8_t *times, size_t n)
{
    size_t i;
    memset(o, 0, sizeof *o);
    o->times = times;
    o->n = n;
    o->value = 255;
    for (i = 0; i < n; i++) {
        o->present[times[i] >> 3] |= (uint8_t)(1u << (times[i] & 7u));
    }
}

static int order_next(chain_order *o, size_t *index)
{
    while (o->value >= 0) {
        if (o->present[o->value >> 3] & (1u << (o->value & 7))) {
            for (; o->pos < o->n; o->pos++) {
                if (o->times[o->pos] == o->value) {
                    *index = o->pos++;
                    return 1;
                }
            }
        }
        o->value--;
        o->pos = 0;
    }
    return 0;
}

/* count chains through ik_curl_chains, two at a time (a group too small for the width to pay). */
static void chains_bytewise(int8_t *const *rows, const uint8_t *times, unsigned count, unsigned rounds)
{
    int8_t states[2][IK_CURL_STATE_TRITS];
    unsigned t[2];
    unsigned k;
    unsigned j;
    for (k = 0; k < count; k += 2) {
        unsigned pair = count - k < 2 ? 1 : 2;
        for (j = 0; j < pair; j++) {
            memcpy(states[j], rows[k + j], IK_HASH_TRITS);
            t[j] = times[k + j];
        }
        (void)ik_curl_chains(states[0], pair, t, rounds);
        for (j = 0; j < pair; j++) {
            memcpy(rows[k + j], states[j], IK_HASH_TRITS);
        }
    }
}

ik_status ikp_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                          size_t work_bytes, ik_simd simd, int always_sliced)
{
    int8_t *rows[CHAINS_MAX_LANES];
    uint8_t group[CHAINS_MAX_LANES];
    chain_order order;
    unsigned lanes;
    void *aligned = work;
    size_t index;
    if (rounds < 1 || rounds > 81) {
        return IK_ERR_VALUE;
    }
    if (simd == IK_SIMD_AUTO) {
        simd = width_for(work ? work_bytes : 0);
    } else if (!ik_pow_simd_supported(simd) || ik_pow_simd_lanes(simd) == 0 ||
               ik_pow_simd_lanes(simd) > CHAINS_MAX_LANES || !work || work_bytes_of(simd) > work_bytes) {
        return IK_ERR_UNSUPPORTED;
    }
    lanes = simd == IK_SIMD_AUTO ? 2 : ik_pow_simd_lanes(simd);
    if (simd != IK_SIMD_AUTO) {
        aligned = (void *)(((uintptr_t)work + 63u) & ~(uintptr_t)63u);
    }
    order_init(&order, times, n);
    for (;;) {
        unsigned count = 0;
        unsigned long sum = 0;
        while (count < lanes && order_next(&order, &index)) {
            rows[count] = chunks + index * IK_HASH_TRITS;
            group[count] = times[index];
            sum += times[index];
            count++;
        }
        if (count == 0) {
            return IK_OK;
        }
        /* group[0] is the group's most links */
        if (simd != IK_SIMD_AUTO &&
            (always_sliced || group[0] * sliced_cost(simd) < sum)) {
            chains_for(simd)(rows, group, count, rounds, aligned);
        } else {
            chains_bytewise(rows, group, count, rounds);
        }
    }
}

ik_status ik_curl_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                              size_t work_bytes)
{
    size_t i;
    for (i = 0; i < n * IK_HASH_TRITS; i++) {
        if (chunks[i] < -1 || chunks[i] > 1) {
            return IK_ERR_TRIT;
        }
    }
    return ikp_chains_many(chunks, n, times, rounds, work, work_bytes, IK_SIMD_AUTO, 0);
}
