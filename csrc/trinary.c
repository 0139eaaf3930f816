/* trinary.c - tryte characters <-> balanced trits, and seed + index addition [§1]. */
#include "iota_kernel.h"

/* Balanced value of a tryte character, or 127 if the character is not in the alphabet. */
static int tryte_value(char c)
{
    if (c == '9') {
        return 0;
    }
    if (c >= 'A' && c <= 'M') {
        return c - 'A' + 1;
    }
    if (c >= 'N' && c <= 'Z') {
        return c - 'N' - 13;
    }
    return 127;
}

/* Trits of each tryte value -13..13, indexed by value + 13. */
static const int8_t tryte_trits[27][3] = {
    {-1, -1, -1}, {0, -1, -1}, {1, -1, -1}, {-1, 0, -1}, {0, 0, -1}, {1, 0, -1}, {-1, 1, -1}, {0, 1, -1}, {1, 1, -1},
    {-1, -1, 0}, {0, -1, 0}, {1, -1, 0}, {-1, 0, 0}, {0, 0, 0}, {1, 0, 0}, {-1, 1, 0}, {0, 1, 0}, {1, 1, 0},
    {-1, -1, 1}, {0, -1, 1}, {1, -1, 1}, {-1, 0, 1}, {0, 0, 1}, {1, 0, 1}, {-1, 1, 1}, {0, 1, 1}, {1, 1, 1}};

ik_status ik_trytes_to_trits(const char *trytes, size_t n, int8_t *trits)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int v = tryte_value(trytes[i]);
        if (v == 127) {
            return IK_ERR_TRYTE;
        }
        trits[3 * i] = tryte_trits[v + 13][0];
        trits[3 * i + 1] = tryte_trits[v + 13][1];
        trits[3 * i + 2] = tryte_trits[v + 13][2];
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
