/* keccak.c - the Keccak-f[1600] permutation (24 rounds), lanes as host integers (byte order is handled by
 * the caller, kerl.c). Compact form: theta, rho and pi along the pi cycle, chi per row, iota. */
#include "iota_kernel.h"

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

/* Lane visited at step i of the pi cycle starting at lane 1, and the rho rotation applied there. */
static const uint8_t keccak_pi[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                      15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
static const uint8_t keccak_rho[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                       27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};

static uint64_t rotl64(uint64_t x, unsigned n)
{
    return (x << n) | (x >> ((64u - n) & 63u));
}

void ik_keccak_f1600(uint64_t st[25])
{
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
        st[0] ^= keccak_rc[round]; /* iota */
    }
}
