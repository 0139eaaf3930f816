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

/* ---- whole verification of a payload (iota_edge.streams.parser.parse_payload) ------------------------------- */

#define PASCAL_MAX_TRYTES 13 /* |value| < 27^13 / 2 < 2^61: the Python decoder takes 14, whose value may not fit */

/* A pascal integer at buf[pos..end) (mam.py pascal_decode): 0 as its 4-trit form, else value trytes up to the first
 * positive one, then one encoder trit per value tryte holding a number in 0 .. 2^m - 1 whose bit i negates tryte i;
 * the value must not be negative. Such an encoding is always the canonical one (bar the bits of zero trytes, which
 * either library may set), so no re-encoding is needed. 1 with *value and *next, or 0 where Python raises (or, for
 * 14 value trytes, might not: the caller then asks Python). */
static int pascal_decode(const int8_t *buf, size_t pos, size_t end, uint64_t *value, size_t *next)
{
    size_t p = pos;
    size_t m;
    size_t i;
    int64_t encoder = 0;
    int64_t sum = 0;
    int64_t scale = 1;
    if (pos > end) {
        return 0;
    }
    if (end - pos >= 4 && buf[pos] == 1 && buf[pos + 1] == 0 && buf[pos + 2] == 0 && buf[pos + 3] == -1) {
        *value = 0;
        *next = pos + 4;
        return 1;
    }
    for (;;) {
        if (end - p < 3 || p - pos >= 3 * PASCAL_MAX_TRYTES) {
            return 0;
        }
        p += 3;
        if (buf[p - 3] + 3 * buf[p - 2] + 9 * buf[p - 1] > 0) {
            break;
        }
    }
    m = (p - pos) / 3;
    if (end - p < m) {
        return 0;
    }
    for (i = m; i-- > 0;) {
        encoder = 3 * encoder + buf[p + i];
    }
    if (encoder < 0 || encoder >= ((int64_t)1 << m)) {
        return 0;
    }
    for (i = 0; i < m; i++) {
        const int8_t *t = buf + pos + 3 * i;
        int v = t[0] + 3 * t[1] + 9 * t[2];
        sum += scale * (((encoder >> i) & 1) ? -v : v);
        scale *= 27;
    }
    if (sum < 0) {
        return 0;
    }
    *value = (uint64_t)sum;
    *next = p + m;
    return 1;
}

/* mam.js checksumSecurity: the level L whose first 81 L trits sum to zero (no shorter such prefix), or 0. */
static unsigned security_of(const int8_t rate[IK_HASH_TRITS])
{
    int s = 0;
    unsigned i = 0;
    unsigned level;
    for (level = 1; level <= IK_MAX_SECURITY; level++) {
        for (; i < IK_NONCE_TRITS * level; i++) {
            s += rate[i];
        }
        if (s == 0) {
            return level;
        }
    }
    return 0;
}

static ik_status mam_refuse(ik_mam_parsed *out, ik_mam_reason reason)
{
    out->reason = (uint32_t)reason;
    return IK_ERR_MISMATCH;
}

ik_status ik_mam_parse(const char *payload, size_t n, const char root[IK_HASH_TRYTES],
                       const int8_t key[IK_HASH_TRITS], int8_t *work, char *message,
                       char next_root[IK_HASH_TRYTES], ik_mam_parsed *out)
{
    ik_curl c;
    int8_t hmac[IK_HASH_TRITS];
    int8_t node[IK_HASH_TRITS]; /* the root's trits */
    int8_t leaf[IK_HASH_TRITS];
    const size_t end = 3 * n;
    uint64_t index;
    uint64_t length;
    uint64_t depth;
    size_t p;
    size_t p_next;
    size_t p_msg;
    size_t p_nonce;
    size_t p_rest;
    size_t p_count;
    size_t p_sib;
    size_t p_end;
    size_t i;
    unsigned security;
    memset(out, 0, sizeof *out);
    for (i = 0; i < IK_HASH_TRITS; i++) {
        if (key[i] < -1 || key[i] > 1) {
            return IK_ERR_TRIT;
        }
    }
    if (ik_trytes_to_trits(payload, n, work) != IK_OK || ik_trytes_to_trits(root, IK_HASH_TRYTES, node) != IK_OK) {
        return IK_ERR_TRYTE;
    }
    if (!pascal_decode(work, 0, end, &index, &p) || !pascal_decode(work, p, end, &length, &p_next) ||
        length % 3 != 0) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    if (end - p_next < IK_HASH_TRITS + IK_NONCE_TRITS || length > end - p_next - IK_HASH_TRITS - IK_NONCE_TRITS) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    p_msg = p_next + IK_HASH_TRITS;
    p_nonce = p_msg + (size_t)length;
    p_rest = p_nonce + IK_NONCE_TRITS;

    ik_curl_init(&c, MAM_ROUNDS);
    ik_curl_absorb(&c, key, IK_HASH_TRITS);
    ik_curl_absorb(&c, node, IK_HASH_TRITS);
    ik_curl_absorb(&c, work, p_next);
    ik_mam_unmask(&c, work + p_next, IK_HASH_TRITS);
    ik_mam_unmask(&c, work + p_msg, (size_t)length);
    ik_mam_unmask(&c, work + p_nonce, IK_NONCE_TRITS);
    memcpy(hmac, c.state, IK_HASH_TRITS);
    security = security_of(hmac);
    if (security == 0) {
        return mam_refuse(out, IK_MAM_NONCE);
    }
    ik_mam_unmask(&c, work + p_rest, end - p_rest); /* signature, sibling count, siblings, padding: one stream */
    if ((end - p_rest) / IK_FRAGMENT_TRITS < security) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    p_count = p_rest + (size_t)security * IK_FRAGMENT_TRITS;
    if (!pascal_decode(work, p_count, end, &depth, &p_sib) || depth > (end - p_sib) / IK_HASH_TRITS) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    p_end = p_sib + (size_t)depth * IK_HASH_TRITS;
    if (depth < 64 && (index >> depth) != 0) {
        return mam_refuse(out, IK_MAM_INDEX);
    }
    /* What follows the siblings was never masked: zero trits to a whole tryte, then 9s (from the caller's trytes,
     * as work is unmasked there). */
    if (p_end % 3 != 0) {
        int8_t t[3];
        (void)ik_trytes_to_trits(payload + p_end / 3, 1, t);
        for (i = p_end % 3; i < 3; i++) {
            if (t[i] != 0) {
                return mam_refuse(out, IK_MAM_DECODE);
            }
        }
    }
    for (i = (p_end + 2) / 3; i < n; i++) {
        if (payload[i] != '9') {
            return mam_refuse(out, IK_MAM_DECODE);
        }
    }
    if (ik_mam_leaf(hmac, work + p_rest, security, leaf) != IK_OK) {
        return mam_refuse(out, IK_MAM_SIGNATURE);
    }
    ik_mam_fold(leaf, work + p_sib, (unsigned)depth, index);
    if (memcmp(leaf, node, IK_HASH_TRITS) != 0) {
        return mam_refuse(out, IK_MAM_SIGNATURE);
    }
    (void)ik_trits_to_trytes(work + p_msg, (size_t)length, message);
    (void)ik_trits_to_trytes(work + p_next, IK_HASH_TRITS, next_root);
    out->reason = IK_MAM_VERIFIED;
    out->index = index;
    out->security = security;
    out->depth = (uint32_t)depth;
    out->message_trytes = (size_t)length / 3;
    return IK_OK;
}
