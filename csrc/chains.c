/* chains.c - many hash chains at once, byte-sliced across chains [§9.2]: the driver of lanes.c's chains, whose
 * byte-sliced rounds lanes_kernel.inc instantiates per SIMD width (lane k of a group of 8 is one chain). MAM
 * verification (ik_mam_parse_many) opens the Winternitz chains of a whole batch of payloads with it. Chains go in
 * decreasing order of their link counts, as many at a time as a unit holds, so a group of 8 lanes runs about as many
 * links as its longest chain, and a unit stops the rounds of its groups that are done. */
#include "pow_internal.h"

#include <string.h>

size_t ik_curl_chains_work_bytes(void)
{
    return ikl_chains_work_bytes(IK_SIMD_AUTO);
}

/* Chains in decreasing order of times (so a group's lanes run about as many links each), those of no link left out:
 * a cursor over the values present, each a scan of times. */
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
    while (o->value > 0) {
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

/* n chains through ik_curl_chains, two at a time (no work for a unit). */
static void chains_bytewise(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds)
{
    int8_t states[2][IK_CURL_STATE_TRITS];
    unsigned t[2];
    size_t k;
    unsigned j;
    for (k = 0; k < n; k += 2) {
        unsigned pair = n - k < 2 ? 1 : 2;
        for (j = 0; j < pair; j++) {
            memcpy(states[j], chunks + (k + j) * IK_HASH_TRITS, IK_HASH_TRITS);
            t[j] = times[k + j];
        }
        (void)ik_curl_chains(states[0], pair, t, rounds);
        for (j = 0; j < pair; j++) {
            memcpy(chunks + (k + j) * IK_HASH_TRITS, states[j], IK_HASH_TRITS);
        }
    }
}

ik_status ikp_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                          size_t work_bytes, ik_simd simd)
{
    int8_t *rows[IKL_MAX_LANES];
    uint8_t group[IKL_MAX_LANES];
    chain_order order;
    ikl_unit u;
    unsigned cap;
    size_t index;
    if (rounds < 1 || rounds > 81) {
        return IK_ERR_VALUE;
    }
    cap = work ? ikl_init_chains(&u, work, work_bytes, n, rounds, simd) : 0;
    if (cap == 0) {
        if (simd != IK_SIMD_AUTO) {
            return IK_ERR_UNSUPPORTED;
        }
        chains_bytewise(chunks, n, times, rounds);
        return IK_OK;
    }
    order_init(&order, times, n);
    for (;;) {
        unsigned count = 0;
        while (count < cap && order_next(&order, &index)) {
            rows[count] = chunks + index * IK_HASH_TRITS;
            group[count] = times[index];
            count++;
        }
        if (count == 0) {
            return IK_OK;
        }
        ikl_chains(&u, rows, group, count);
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
    return ikp_chains_many(chunks, n, times, rounds, work, work_bytes, IK_SIMD_AUTO);
}
