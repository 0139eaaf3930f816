/* mam.c - MAM v0 over Curl-P-27: the duplex mask/unmask of a payload and the Merkle leaf a Winternitz signature
 * opens to [§9.3]. The chains, tree and sponges are those of mam.js (signing/iss-p27.ts, mam/parser.ts). */
#include "iota_kernel.h"

#include <string.h>

#define MAM_ROUNDS 27
#define SEGMENTS 27

/* Balanced trit of a sum or difference of two trits (-2..2). */
static int8_t trit_wrap(int v)
{
    return (int8_t)(v > 1 ? v - 3 : (v < -1 ? v + 3 : v));
}

void ik_mam_mask(ik_curl *ctx, int8_t *buf, size_t len)
{
    int8_t key[IK_HASH_TRITS];
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        size_t i;
        memcpy(key, ctx->state, n);
        memcpy(ctx->state, buf, n); /* absorb the plaintext chunk (a short one overwrites its prefix) */
        ik_curl_transform(ctx->state, ctx->rounds);
        for (i = 0; i < n; i++) {
            buf[i] = trit_wrap(buf[i] + key[i]);
        }
        buf += n;
        len -= n;
    }
}

void ik_mam_unmask(ik_curl *ctx, int8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        size_t i;
        for (i = 0; i < n; i++) {
            buf[i] = trit_wrap(buf[i] - ctx->state[i]);
        }
        memcpy(ctx->state, buf, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        buf += n;
        len -= n;
    }
}

ik_status ik_mam_leaf(const int8_t hmac[IK_HASH_TRITS], const int8_t *signature, unsigned security,
                      int8_t leaf[IK_HASH_TRITS])
{
    ik_curl digest;
    int8_t chains[2][IK_CURL_STATE_TRITS];
    unsigned times[2];
    unsigned j;
    unsigned k;
    unsigned n;
    if (security < 1 || security > IK_MAX_SECURITY) {
        return IK_ERR_VALUE;
    }
    for (j = 0; j < IK_HASH_TRITS; j++) {
        if (hmac[j] < -1 || hmac[j] > 1) {
            return IK_ERR_TRIT;
        }
    }
    ik_curl_init(&digest, MAM_ROUNDS);
    for (j = 0; j < SEGMENTS * security; j += n) { /* two segments at a time: ik_curl_chains interleaves them */
        n = j + 1 < SEGMENTS * security ? 2 : 1;
        for (k = 0; k < n; k++) {
            const int8_t *t = hmac + 3 * (j + k);
            memcpy(chains[k], signature + (size_t)(j + k) * IK_HASH_TRITS, IK_HASH_TRITS);
            times[k] = (unsigned)(13 + t[0] + 3 * t[1] + 9 * t[2]); /* to the public key segment */
        }
        ik_curl_chains(chains[0], n, times, MAM_ROUNDS);
        for (k = 0; k < n; k++) {
            ik_curl_absorb(&digest, chains[k], IK_HASH_TRITS);
        }
    }
    memcpy(chains[0], digest.state, IK_HASH_TRITS);
    ik_curl_chain(chains[0], 1, MAM_ROUNDS);
    memcpy(leaf, chains[0], IK_HASH_TRITS);
    return IK_OK;
}

void ik_mam_fold(int8_t node[IK_HASH_TRITS], const int8_t *siblings, unsigned depth, uint64_t index)
{
    ik_curl c;
    unsigned b;
    for (b = 0; b < depth; b++) {
        const int8_t *sibling = siblings + (size_t)b * IK_HASH_TRITS;
        int right = b < 64 && ((index >> b) & 1u);
        ik_curl_init(&c, MAM_ROUNDS);
        ik_curl_absorb(&c, right ? sibling : node, IK_HASH_TRITS);
        ik_curl_absorb(&c, right ? node : sibling, IK_HASH_TRITS);
        memcpy(node, c.state, IK_HASH_TRITS);
    }
}
