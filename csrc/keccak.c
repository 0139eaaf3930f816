/* keccak.c - the Keccak-f[1600] permutation (24 rounds), lanes as host integers (byte order is handled by
 * the caller, kerl.c). Compact form for 32-bit targets: theta, rho and pi along the pi cycle, chi per row, iota.
 * 64-bit hosts get the rounds unrolled over 25 local lanes (rho and pi folded into the loads of chi), about
 * three times faster; Kerl bundle hashing (bundle.c) runs it a few hundred times per bundle. */
#include "iota_kernel.h"

const uint64_t ik_keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

static uint64_t rotl64(uint64_t x, unsigned n)
{
    return (x << n) | (x >> ((64u - n) & 63u));
}

#if UINTPTR_MAX > 0xffffffffu
#define KECCAK_UNROLLED 1
/* Output row y of chi reads B(x, y) = rot(A'(x + 3y, x), r) for x = 0..4 (pi inverted; A' is theta's output, lane
 * L of column L mod 5): each macro argument triple is that lane, its column's theta term and its rho offset. */
#define KECCAK_ROW(o0, o1, o2, o3, o4, l0, c0, r0, l1, c1, r1, l2, c2, r2, l3, c3, r3, l4, c4, r4)               \
    do {                                                                                                            \
        uint64_t b0 = rotl64(a##l0 ^ d##c0, r0), b1 = rotl64(a##l1 ^ d##c1, r1);                                      \
        uint64_t b2 = rotl64(a##l2 ^ d##c2, r2), b3 = rotl64(a##l3 ^ d##c3, r3);                                      \
        uint64_t b4 = rotl64(a##l4 ^ d##c4, r4);                                                                   \
        e##o0 = b0 ^ (~b1 & b2);                                                                                  \
        e##o1 = b1 ^ (~b2 & b3);                                                                                  \
        e##o2 = b2 ^ (~b3 & b4);                                                                                  \
        e##o3 = b3 ^ (~b4 & b0);                                                                                  \
        e##o4 = b4 ^ (~b0 & b1);                                                                                  \
    } while (0)
#else
/* Lane visited at step i of the pi cycle starting at lane 1, and the rho rotation applied there. */
static const uint8_t keccak_pi[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                      15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
static const uint8_t keccak_rho[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                       27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
#endif

void ik_keccak_f1600(uint64_t st[25])
{
#ifdef KECCAK_UNROLLED
    uint64_t a00 = st[0], a01 = st[1], a02 = st[2], a03 = st[3], a04 = st[4];
    uint64_t a05 = st[5], a06 = st[6], a07 = st[7], a08 = st[8], a09 = st[9];
    uint64_t a10 = st[10], a11 = st[11], a12 = st[12], a13 = st[13], a14 = st[14];
    uint64_t a15 = st[15], a16 = st[16], a17 = st[17], a18 = st[18], a19 = st[19];
    uint64_t a20 = st[20], a21 = st[21], a22 = st[22], a23 = st[23], a24 = st[24];
    unsigned round;
    for (round = 0; round < 24; round++) {
        uint64_t c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20, c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21;
        uint64_t c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22, c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23;
        uint64_t c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24;
        uint64_t d0 = c4 ^ rotl64(c1, 1), d1 = c0 ^ rotl64(c2, 1), d2 = c1 ^ rotl64(c3, 1);
        uint64_t d3 = c2 ^ rotl64(c4, 1), d4 = c3 ^ rotl64(c0, 1);
        uint64_t e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12;
        uint64_t e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24;
        KECCAK_ROW(00, 01, 02, 03, 04, 00, 0, 0, 06, 1, 44, 12, 2, 43, 18, 3, 21, 24, 4, 14);
        KECCAK_ROW(05, 06, 07, 08, 09, 03, 3, 28, 09, 4, 20, 10, 0, 3, 16, 1, 45, 22, 2, 61);
        KECCAK_ROW(10, 11, 12, 13, 14, 01, 1, 1, 07, 2, 6, 13, 3, 25, 19, 4, 8, 20, 0, 18);
        KECCAK_ROW(15, 16, 17, 18, 19, 04, 4, 27, 05, 0, 36, 11, 1, 10, 17, 2, 15, 23, 3, 56);
        KECCAK_ROW(20, 21, 22, 23, 24, 02, 2, 62, 08, 3, 55, 14, 4, 39, 15, 0, 41, 21, 1, 2);
        a00 = e00 ^ ik_keccak_rc[round], a01 = e01, a02 = e02, a03 = e03, a04 = e04;
        a05 = e05, a06 = e06, a07 = e07, a08 = e08, a09 = e09;
        a10 = e10, a11 = e11, a12 = e12, a13 = e13, a14 = e14;
        a15 = e15, a16 = e16, a17 = e17, a18 = e18, a19 = e19;
        a20 = e20, a21 = e21, a22 = e22, a23 = e23, a24 = e24;
    }
    st[0] = a00, st[1] = a01, st[2] = a02, st[3] = a03, st[4] = a04;
    st[5] = a05, st[6] = a06, st[7] = a07, st[8] = a08, st[9] = a09;
    st[10] = a10, st[11] = a11, st[12] = a12, st[13] = a13, st[14] = a14;
    st[15] = a15, st[16] = a16, st[17] = a17, st[18] = a18, st[19] = a19;
    st[20] = a20, st[21] = a21, st[22] = a22, st[23] = a23, st[24] = a24;
#else
    unsigned round;
    for (round = 0; round < 24; round++) {
        uint64_t c[5];
        uint64_t t;
        unsigned x;
        unsigned y;
        unsigned i;
        for (x = 0; x < 5; x++) { /* theta */
            c[x] = st[x] ^ st[x + 5] ^ st[x + 10] ^ st[x + 15] ^ st[x + 20];
        }
        for (x = 0; x < 5; x++) {
            uint64_t d = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
            for (y = 0; y < 25; y += 5) {
                st[y + x] ^= d;
            }
        }
        t = st[1]; /* rho and pi */
        for (i = 0; i < 24; i++) {
            unsigned j = keccak_pi[i];
            uint64_t u = st[j];
            st[j] = rotl64(t, keccak_rho[i]);
            t = u;
        }
        for (y = 0; y < 25; y += 5) { /* chi */
            for (x = 0; x < 5; x++) {
                c[x] = st[y + x];
            }
            for (x = 0; x < 5; x++) {
                st[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]);
            }
        }
        st[0] ^= ik_keccak_rc[round]; /* iota */
    }
#endif
}
