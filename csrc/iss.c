/* iss.c - Kerl Winternitz one-time signatures: subseed, key, digests, address, signature fragments,
 * verification, bundle-hash normalization [§5, §6]. Hash chains stay in the 48-byte form (squeezed
 * blocks are already reduced), so trits are converted only at the edges. */
#include "iota_kernel.h"

#include <string.h>

#define SEGMENTS 27

/* block = Kerl^n(block), each step on a fresh sponge. */
static void kerl_chain(uint8_t block[IK_KERL_BYTES], unsigned n)
{
    ik_kerl k;
    while (n-- > 0) {
        ik_kerl_init(&k);
        ik_kerl_absorb_bytes(&k, block);
        ik_kerl_squeeze_bytes(&k, block);
    }
}

static int chunk_ok(const int8_t *chunk, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (chunk[i] < -13 || chunk[i] > 13) {
            return 0;
        }
    }
    return 1;
}

void ik_subseed(const int8_t seed[IK_HASH_TRITS], uint64_t index, int8_t subseed[IK_HASH_TRITS])
{
    ik_kerl k;
    int8_t pre[IK_HASH_TRITS];
    memcpy(pre, seed, sizeof pre);
    ik_trits_add_u64(pre, IK_HASH_TRITS, index);
    ik_kerl_init(&k);
    ik_kerl_absorb(&k, pre, IK_HASH_TRITS);
    ik_kerl_squeeze(&k, subseed, IK_HASH_TRITS);
}

ik_status ik_key(const int8_t subseed[IK_HASH_TRITS], unsigned security, int8_t *key)
{
    ik_kerl k;
    if (security < 1 || security > IK_MAX_SECURITY) {
        return IK_ERR_VALUE;
    }
    ik_kerl_init(&k);
    ik_kerl_absorb(&k, subseed, IK_HASH_TRITS);
    return ik_kerl_squeeze(&k, key, (size_t)security * IK_FRAGMENT_TRITS);
}

ik_status ik_digests(const int8_t *key, size_t key_len, int8_t *digests)
{
    uint8_t block[IK_KERL_BYTES];
    size_t f;
    if (key_len % IK_FRAGMENT_TRITS != 0) {
        return IK_ERR_LENGTH;
    }
    for (f = 0; f < key_len / IK_FRAGMENT_TRITS; f++) {
        ik_kerl d;
        int j;
        ik_kerl_init(&d);
        for (j = 0; j < SEGMENTS; j++) {
            ik_kerl_trits_to_bytes(key + f * IK_FRAGMENT_TRITS + (size_t)j * IK_HASH_TRITS, block);
            kerl_chain(block, 26);
            ik_kerl_absorb_bytes(&d, block);
        }
        ik_kerl_squeeze(&d, digests + f * IK_HASH_TRITS, IK_HASH_TRITS);
    }
    return IK_OK;
}

ik_status ik_address_from_digests(const int8_t *digests, size_t digests_len, int8_t address[IK_HASH_TRITS])
{
    ik_kerl a;
    ik_status st;
    ik_kerl_init(&a);
    st = ik_kerl_absorb(&a, digests, digests_len);
    if (st != IK_OK) {
        return st;
    }
    return ik_kerl_squeeze(&a, address, IK_HASH_TRITS);
}

ik_status ik_address(const int8_t seed[IK_HASH_TRITS], uint64_t index, unsigned security,
                     int8_t address[IK_HASH_TRITS])
{
    ik_kerl key;
    ik_kerl a;
    int8_t subseed[IK_HASH_TRITS];
    uint8_t block[IK_KERL_BYTES];
    unsigned f;
    if (security < 1 || security > IK_MAX_SECURITY) {
        return IK_ERR_VALUE;
    }
    ik_subseed(seed, index, subseed);
    ik_kerl_init(&key);
    ik_kerl_absorb(&key, subseed, IK_HASH_TRITS);
    ik_kerl_init(&a);
    for (f = 0; f < security; f++) {
        ik_kerl d;
        int j;
        ik_kerl_init(&d);
        for (j = 0; j < SEGMENTS; j++) {
            ik_kerl_squeeze_bytes(&key, block); /* next private key segment */
            kerl_chain(block, 26);
            ik_kerl_absorb_bytes(&d, block);
        }
        ik_kerl_squeeze_bytes(&d, block);
        ik_kerl_absorb_bytes(&a, block);
    }
    ik_kerl_squeeze_bytes(&a, block);
    ik_kerl_bytes_to_trits(block, address);
    return IK_OK;
}

void ik_normalize(const int8_t hash[IK_HASH_TRITS], int8_t normalized[IK_HASH_TRYTES])
{
    int c;
    for (c = 0; c < 3; c++) {
        int8_t *n = normalized + SEGMENTS * c;
        int sum = 0;
        int i;
        for (i = 0; i < SEGMENTS; i++) {
            const int8_t *t = hash + 3 * (SEGMENTS * c + i);
            n[i] = (int8_t)(t[0] + 3 * t[1] + 9 * t[2]);
            sum += n[i];
        }
        /* Move the sum to 0, always adjusting the first element that still can move [§6.1]: that element
         * moves until it reaches the bound or the sum reaches 0, so each element is visited once. */
        for (i = 0; i < SEGMENTS && sum > 0; i++) {
            int d = n[i] + 13 < sum ? n[i] + 13 : sum;
            n[i] = (int8_t)(n[i] - d);
            sum -= d;
        }
        for (i = 0; i < SEGMENTS && sum < 0; i++) {
            int d = 13 - n[i] < -sum ? 13 - n[i] : -sum;
            n[i] = (int8_t)(n[i] + d);
            sum += d;
        }
    }
}

ik_status ik_signature_fragment(const int8_t chunk[SEGMENTS], const int8_t key_fragment[IK_FRAGMENT_TRITS],
                                int8_t signature[IK_FRAGMENT_TRITS])
{
    uint8_t block[IK_KERL_BYTES];
    int j;
    if (!chunk_ok(chunk, SEGMENTS)) {
        return IK_ERR_VALUE;
    }
    for (j = 0; j < SEGMENTS; j++) {
        const int8_t *in = key_fragment + j * IK_HASH_TRITS;
        int8_t *out = signature + j * IK_HASH_TRITS;
        if (chunk[j] == 13) { /* zero hashes: the raw key segment (why bundles with 'M' are refused) */
            memmove(out, in, IK_HASH_TRITS);
            continue;
        }
        ik_kerl_trits_to_bytes(in, block);
        kerl_chain(block, (unsigned)(13 - chunk[j]));
        ik_kerl_bytes_to_trits(block, out);
    }
    return IK_OK;
}

/* Digest of one signature fragment in 48-byte form. */
static void signature_digest_bytes(const int8_t chunk[SEGMENTS], const int8_t *signature,
                                   uint8_t digest[IK_KERL_BYTES])
{
    ik_kerl d;
    uint8_t block[IK_KERL_BYTES];
    int j;
    ik_kerl_init(&d);
    for (j = 0; j < SEGMENTS; j++) {
        ik_kerl_trits_to_bytes(signature + j * IK_HASH_TRITS, block);
        kerl_chain(block, (unsigned)(13 + chunk[j]));
        ik_kerl_absorb_bytes(&d, block);
    }
    ik_kerl_squeeze_bytes(&d, digest);
}

ik_status ik_signature_digest(const int8_t chunk[SEGMENTS], const int8_t signature[IK_FRAGMENT_TRITS],
                              int8_t digest[IK_HASH_TRITS])
{
    uint8_t block[IK_KERL_BYTES];
    if (!chunk_ok(chunk, SEGMENTS)) {
        return IK_ERR_VALUE;
    }
    signature_digest_bytes(chunk, signature, block);
    ik_kerl_bytes_to_trits(block, digest);
    return IK_OK;
}

ik_status ik_sign(const int8_t seed[IK_HASH_TRITS], uint64_t index, unsigned security,
                  const int8_t normalized[IK_HASH_TRYTES], int8_t *signature)
{
    ik_kerl key;
    int8_t subseed[IK_HASH_TRITS];
    uint8_t block[IK_KERL_BYTES];
    unsigned f;
    if (security < 1 || security > IK_MAX_SECURITY) {
        return IK_ERR_VALUE;
    }
    if (!chunk_ok(normalized, IK_HASH_TRYTES)) {
        return IK_ERR_VALUE;
    }
    ik_subseed(seed, index, subseed);
    ik_kerl_init(&key);
    ik_kerl_absorb(&key, subseed, IK_HASH_TRITS);
    for (f = 0; f < security; f++) {
        const int8_t *chunk = normalized + SEGMENTS * (f % 3);
        int j;
        for (j = 0; j < SEGMENTS; j++) {
            ik_kerl_squeeze_bytes(&key, block);
            kerl_chain(block, (unsigned)(13 - chunk[j]));
            ik_kerl_bytes_to_trits(block, signature + (size_t)f * IK_FRAGMENT_TRITS + (size_t)j * IK_HASH_TRITS);
        }
    }
    return IK_OK;
}

ik_status ik_verify(const int8_t address[IK_HASH_TRITS], const int8_t *signature, size_t n_fragments,
                    const int8_t normalized[IK_HASH_TRYTES])
{
    ik_kerl a;
    uint8_t block[IK_KERL_BYTES];
    int8_t computed[IK_HASH_TRITS];
    size_t f;
    if (n_fragments < 1) {
        return IK_ERR_LENGTH;
    }
    if (!chunk_ok(normalized, IK_HASH_TRYTES)) {
        return IK_ERR_VALUE;
    }
    ik_kerl_init(&a);
    for (f = 0; f < n_fragments; f++) {
        signature_digest_bytes(normalized + SEGMENTS * (f % 3), signature + f * IK_FRAGMENT_TRITS, block);
        ik_kerl_absorb_bytes(&a, block);
    }
    ik_kerl_squeeze_bytes(&a, block);
    ik_kerl_bytes_to_trits(block, computed);
    return memcmp(computed, address, IK_HASH_TRITS) == 0 ? IK_OK : IK_ERR_MISMATCH;
}
