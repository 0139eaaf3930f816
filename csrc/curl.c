/* curl.c - Curl-P-27/81 sponge over trits [§3]. */
#include "iota_kernel.h"

#include <string.h>

/* SBOX(a, b) indexed by a + 3b + 4 [§3.2]. */
static const int8_t curl_sbox[9] = {1, 0, -1, 1, -1, 0, -1, 1, 0};

/* One round. The walk p_i = 364 i mod 729 gives, for k = 0..364,
 * new[2k] = S(old[-k], old[364 - k]) and new[2k + 1] = S(old[364 - k], old[728 - k]) (indices mod 729). */
static void curl_round(const int8_t *old, int8_t *out)
{
    int k;
    out[0] = curl_sbox[old[0] + 3 * old[364] + 4];
    for (k = 0; k < 364; k++) {
        out[2 * k + 1] = curl_sbox[old[364 - k] + 3 * old[728 - k] + 4];
        out[2 * k + 2] = curl_sbox[old[728 - k] + 3 * old[363 - k] + 4];
    }
}

void ik_curl_transform(int8_t state[IK_CURL_STATE_TRITS], unsigned rounds)
{
    int8_t scratch[IK_CURL_STATE_TRITS];
    unsigned r;
    for (r = 0; r + 1 < rounds; r += 2) {
        curl_round(state, scratch);
        curl_round(scratch, state);
    }
    if (r < rounds) {
        curl_round(state, scratch);
        memcpy(state, scratch, sizeof scratch);
    }
}

ik_status ik_curl_init(ik_curl *ctx, unsigned rounds)
{
    if (rounds < 1 || rounds > 81) {
        return IK_ERR_VALUE;
    }
    memset(ctx->state, 0, sizeof ctx->state);
    ctx->rounds = (uint8_t)rounds;
    return IK_OK;
}

void ik_curl_absorb(ik_curl *ctx, const int8_t *trits, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        memcpy(ctx->state, trits, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        trits += n;
        len -= n;
    }
}

void ik_curl_squeeze(ik_curl *ctx, int8_t *trits, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        memcpy(trits, ctx->state, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        trits += n;
        len -= n;
    }
}

ik_status ik_curl_hash_trytes(const char *trytes, size_t n, unsigned rounds, char out[IK_HASH_TRYTES])
{
    ik_curl ctx;
    int8_t chunk[IK_HASH_TRITS];
    ik_status st = ik_curl_init(&ctx, rounds);
    if (st != IK_OK) {
        return st;
    }
    while (n > 0) {
        size_t m = n < IK_HASH_TRYTES ? n : IK_HASH_TRYTES;
        st = ik_trytes_to_trits(trytes, m, chunk);
        if (st != IK_OK) {
            return st;
        }
        ik_curl_absorb(&ctx, chunk, 3 * m);
        trytes += m;
        n -= m;
    }
    ik_curl_squeeze(&ctx, chunk, IK_HASH_TRITS);
    return ik_trits_to_trytes(chunk, IK_HASH_TRITS, out);
}
