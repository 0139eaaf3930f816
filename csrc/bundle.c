/* bundle.c - the bundle hash with the M-bug escape [§6.3, §7]: Kerl over the essences of a bundle's transactions;
 * while the normalized hash holds a 13 (a signature would then reveal a private key segment unhashed), the tail's
 * obsolete tag goes up by one and the hash is taken again, as PyOTA, iota.js and entangled do. Only the tail's
 * second block changes between tries, so the other blocks are converted to Kerl's byte form once. */
#include "iota_kernel.h"

#include <string.h>

#define ESSENCE_TRITS 486 /* address, value, obsolete tag, timestamp, current and last index: 162 trytes */
#define TAG_START 324     /* the obsolete tag: essence trits 324..404 (trytes 108..134) */
#define TAG_TRITS 81
#define CACHED_BLOCKS 8 /* blocks after the tail kept in byte form (384 bytes of stack); later ones per try */

ik_status ik_bundle_finalize(int8_t *essences, size_t n_tx, int8_t hash[IK_HASH_TRITS])
{
    uint8_t first[IK_KERL_BYTES];
    uint8_t cache[CACHED_BLOCKS][IK_KERL_BYTES];
    uint8_t block[IK_KERL_BYTES];
    int8_t normalized[IK_HASH_TRYTES];
    int8_t *tag = essences + TAG_START;
    size_t n_blocks = 2 * n_tx;
    size_t b;
    if (n_tx < 1) {
        return IK_ERR_LENGTH;
    }
    for (b = 0; b < n_tx * ESSENCE_TRITS; b++) {
        if (essences[b] < -1 || essences[b] > 1) {
            return IK_ERR_TRIT;
        }
    }
    ik_kerl_trits_to_bytes(essences, first);
    for (b = 2; b < n_blocks && b - 2 < CACHED_BLOCKS; b++) {
        ik_kerl_trits_to_bytes(essences + b * IK_HASH_TRITS, cache[b - 2]);
    }
    for (;;) {
        ik_kerl k;
        int i;
        ik_kerl_init(&k);
        ik_kerl_absorb_bytes(&k, first);
        ik_kerl_trits_to_bytes(essences + IK_HASH_TRITS, block);
        ik_kerl_absorb_bytes(&k, block);
        for (b = 2; b < n_blocks; b++) {
            if (b - 2 < CACHED_BLOCKS) {
                ik_kerl_absorb_bytes(&k, cache[b - 2]);
            } else {
                ik_kerl_trits_to_bytes(essences + b * IK_HASH_TRITS, block);
                ik_kerl_absorb_bytes(&k, block);
            }
        }
        ik_kerl_squeeze_bytes(&k, block);
        ik_kerl_bytes_to_trits(block, hash);
        ik_normalize(hash, normalized);
        for (i = 0; i < IK_HASH_TRYTES && normalized[i] != 13; i++) {
        }
        if (i == IK_HASH_TRYTES) {
            return IK_OK;
        }
        /* obsolete tag + 1, balanced, the carry out of its last trit dropped ('M...M' + 1 = 'N...N') */
        for (i = 0; i < TAG_TRITS; i++) {
            if (tag[i] < 1) {
                tag[i]++;
                break;
            }
            tag[i] = -1;
        }
    }
}
