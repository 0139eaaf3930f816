/* trinary.c - tryte characters <-> balanced trits, and seed + index addition [§1]. */
#include "iota_kernel.h"

/* 1 + (balanced value + 13) of each tryte character, 0 for a character outside the alphabet: a table, so random
 * trytes cost no mispredicted branch (a payload's conversion is a few thousand of them). */
#define TRYTE_ROW(c, v) [(unsigned char)(c)] = (uint8_t)((v) + 14)
static const uint8_t tryte_index[256] = {
    TRYTE_ROW('9', 0),   TRYTE_ROW('A', 1),   TRYTE_ROW('B', 2),   TRYTE_ROW('C', 3),   TRYTE_ROW('D', 4),
    TRYTE_ROW('E', 5),   TRYTE_ROW('F', 6),   TRYTE_ROW('G', 7),   TRYTE_ROW('H', 8),   TRYTE_ROW('I', 9),
    TRYTE_ROW('J', 10),  TRYTE_ROW('K', 11),  TRYTE_ROW('L', 12),  TRYTE_ROW('M', 13),  TRYTE_ROW('N', -13),
    TRYTE_ROW('O', -12), TRYTE_ROW('P', -11), TRYTE_ROW('Q', -10), TRYTE_ROW('R', -9),  TRYTE_ROW('S', -8),
    TRYTE_ROW('T', -7),  TRYTE_ROW('U', -6),  TRYTE_ROW('V', -5),  TRYTE_ROW('W', -4),  TRYTE_ROW('X', -3),
    TRYTE_ROW('Y', -2),  TRYTE_ROW('Z', -1)};
#undef TRYTE_ROW

/* Trits of each tryte value -13..13, indexed by value + 13. */
static const int8_t tryte_trits[27][3] = {
    {-1, -1, -1}, {0, -1, -1}, {1, -1, -1}, {-1, 0, -1}, {0, 0, -1}, {1, 0, -1}, {-1, 1, -1}, {0, 1, -1}, {1, 1, -1},
    {-1, -1, 0}, {0, -1, 0}, {1, -1, 0}, {-1, 0, 0}, {0, 0, 0}, {1, 0, 0}, {-1, 1, 0}, {0, 1, 0}, {1, 1, 0},
    {-1, -1, 1}, {0, -1, 1}, {1, -1, 1}, {-1, 0, 1}, {0, 0, 1}, {1, 0, 1}, {-1, 1, 1}, {0, 1, 1}, {1, 1, 1}};

ik_status ik_trytes_to_trits(const char *trytes, size_t n, int8_t *trits)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned k = tryte_index[(unsigned char)trytes[i]];
        if (k == 0) {
            return IK_ERR_TRYTE;
        }
        trits[3 * i] = tryte_trits[k - 1][0];
        trits[3 * i + 1] = tryte_trits[k - 1][1];
        trits[3 * i + 2] = tryte_trits[k - 1][2];
    }
    return IK_OK;
}

ik_status ik_trits_to_trytes(const int8_t *trits, size_t n_trits, char *trytes)
{
    static const char alphabet[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t i;
    for (i = 0; i < n_trits; i += 3) {
        int v = 0;
        int w = 1;
        size_t k;
        for (k = i; k < i + 3; k++) {
            int t = k < n_trits ? trits[k] : 0;
            if (t < -1 || t > 1) {
                return IK_ERR_TRIT;
            }
            v += w * t;
            w *= 3;
        }
        trytes[i / 3] = alphabet[v < 0 ? v + 27 : v];
    }
    return IK_OK;
}

void ik_trits_add_u64(int8_t *trits, size_t n, uint64_t value)
{
    size_t i;
    int carry = 0;
    for (i = 0; i < n && (value != 0 || carry != 0); i++) {
        int d = (int)(value % 3u);
        int s;
        value /= 3u;
        if (d == 2) { /* balanced digit -1, carry one into the next place */
            d = -1;
            value += 1u;
        }
        s = trits[i] + d + carry;
        carry = 0;
        if (s > 1) {
            s -= 3;
            carry = 1;
        } else if (s < -1) {
            s += 3;
            carry = -1;
        }
        trits[i] = (int8_t)s;
    }
}
