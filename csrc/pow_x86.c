/* pow_x86.c - x86 instantiations of the nonce search: SSE2 (128 lanes), AVX2 (256 lanes) and AVX-512
 * (vpternlogq), and of the byte-sliced rounds of lanes.c on the same widths (AVX-512 on 512-bit vectors). Each is
 * compiled for its own target with a function attribute, so one binary runs on any x86-64 and pow.c (lanes.c)
 * picks the widest the CPU reports at run time. */
#include "pow_internal.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* The S-box in plain vector operations [§3.2]: five (lo does not depend on bh, see pow.c). */
#define IKP_SBOX_GENERIC(al, ah, bl, bh, lo, hi)                                                             \
    do {                                                                                                     \
        __typeof__(al) d_ = (al) & ((ah) ^ (bl));                                                            \
        (lo) = ~d_;                                                                                          \
        (hi) = ((al) ^ (bh)) | d_;                                                                           \
    } while (0)

/* ---- SSE2: 128 lanes ---- */
typedef uint64_t ikp_v128 __attribute__((vector_size(16)));
#define IKP_SUFFIX sse2
#define IKP_V ikp_v128
#define IKP_WORDS 2
#define IKP_ATTR __attribute__((target("sse2")))
#define IKP_INPLACE 1
#define IKP_PLAN 1
#define IKP_SBOX IKP_SBOX_GENERIC
#include "pow_kernel.inc"
#include "lanes_kernel.inc"
#undef IKP_SUFFIX
#undef IKP_V
#undef IKP_WORDS
#undef IKP_ATTR
#undef IKP_INPLACE
#undef IKP_SBOX

/* ---- AVX2: 256 lanes ---- */
typedef uint64_t ikp_v256 __attribute__((vector_size(32)));
#define IKP_SUFFIX avx2
#define IKP_V ikp_v256
#define IKP_WORDS 4
#define IKP_ATTR __attribute__((target("avx2")))
#define IKP_INPLACE 1
#define IKP_PLAN 1
#define IKP_ALIGN __attribute__((aligned(64)))
#define IKP_SBOX IKP_SBOX_GENERIC
#include "pow_kernel.inc"
#include "lanes_kernel.inc"
#undef IKP_SUFFIX
#undef IKP_V
#undef IKP_WORDS
#undef IKP_ATTR
#undef IKP_INPLACE
#undef IKP_SBOX

/* ---- AVX-512: vpternlogq computes an output of the S-box in one instruction: with t = bl ^ ah,
 * lo = ~((al | ~bh) & t) is truth table 0x2f over (t, al, bh) and hi = (al ^ bh) | ~lo is 0x7d over (al, bh, lo);
 * each overwrites an input no longer needed, so no register copies. ---- */
#if IKP_AVX512_BITS == 512
typedef uint64_t ikp_v512 __attribute__((vector_size(64)));
#define IKP_WORDS 8
#define IKP_TERNLOG(a, b, c, imm) ((ikp_v512)_mm512_ternarylogic_epi64((__m512i)(a), (__m512i)(b), (__m512i)(c), imm))
#define IKP_INPLACE 1
#else
typedef uint64_t ikp_v512 __attribute__((vector_size(32)));
#define IKP_WORDS 4
#define IKP_TERNLOG(a, b, c, imm) ((ikp_v512)_mm256_ternarylogic_epi64((__m256i)(a), (__m256i)(b), (__m256i)(c), imm))
#define IKP_INPLACE 1
#endif
#define IKP_SUFFIX avx512
#define IKP_PLAN 1
#define IKP_ALIGN __attribute__((aligned(64)))
#define IKP_V ikp_v512
#define IKP_ATTR __attribute__((target("avx2,avx512f,avx512vl")))
#define IKP_SBOX(al, ah, bl, bh, lo, hi)                                                                     \
    do {                                                                                                     \
        (lo) = IKP_TERNLOG(al, ah, bl, 0x9f);                                                                \
        (hi) = IKP_TERNLOG(al, bh, lo, 0x7d);                                                                \
    } while (0)
/* The same with the dead input first (vpternlogq overwrites its first operand, so no register copy):
 * a dead after the S-box (lo over ah, then hi over al), or b dead after it (lo over bl, hi over bh). */
#define IKP_SBOX_KILL_A(al, ah, bl, bh, lo, hi)                                                              \
    do {                                                                                                     \
        (lo) = IKP_TERNLOG(ah, al, bl, 0xb7);                                                                \
        (hi) = IKP_TERNLOG(al, bh, lo, 0x7d);                                                                \
    } while (0)
#define IKP_SBOX_KILL_B(al, ah, bl, bh, lo, hi)                                                              \
    do {                                                                                                     \
        (lo) = IKP_TERNLOG(bl, al, ah, 0xb7);                                                                \
        (hi) = IKP_TERNLOG(bh, al, lo, 0x7d);                                                                \
    } while (0)
#include "pow_kernel.inc"

/* The byte-sliced rounds (lanes_kernel.inc) on 512-bit vectors whatever IKP_AVX512_BITS: their states are a few KiB,
 * in L1 either way, and they ran 1.5 times as fast as on 256-bit ones here. */
#undef IKP_V
#undef IKP_SBOX
typedef uint64_t ikp_vz __attribute__((vector_size(64)));
#define IKP_V ikp_vz
#define IKP_SBOX(al, ah, bl, bh, lo, hi)                                                                     \
    do {                                                                                                     \
        (lo) = (ikp_vz)_mm512_ternarylogic_epi64((__m512i)(al), (__m512i)(ah), (__m512i)(bl), 0x9f);         \
        (hi) = (ikp_vz)_mm512_ternarylogic_epi64((__m512i)(al), (__m512i)(bh), (__m512i)(lo), 0x7d);         \
    } while (0)
#include "lanes_kernel.inc"

#endif
