/* pow_neon.c - the nonce search and the byte-sliced rounds of lanes.c on 128-bit Arm NEON vectors (AArch64, or 32-bit
 * Arm with NEON). GCC vector extensions compile the S-box to bic/orn/eor/orr; scheduled search (pow_internal.h). */
#include "pow_internal.h"

#include <string.h>

#if defined(__aarch64__) || defined(__ARM_NEON)

typedef uint64_t ikp_vneon __attribute__((vector_size(16)));
#define IKP_SUFFIX neon
#define IKP_V ikp_vneon
#define IKP_WORDS 2
#define IKP_ATTR
#define IKP_INPLACE 1
#define IKP_PLAN 1
#define IKP_SBOX(al, ah, bl, bh, lo, hi)                                                                     \
    do {                                                                                                     \
        ikp_vneon d_ = (al) & ((ah) ^ (bl)); /* five operations, see pow.c */                               \
        (lo) = ~d_;                                                                                          \
        (hi) = ((al) ^ (bh)) | d_;                                                                           \
    } while (0)
#include "pow_kernel.inc"
#include "lanes_kernel.inc"

#else
typedef int ikp_neon_unused; /* ISO C forbids an empty translation unit */
#endif
