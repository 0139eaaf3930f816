/* curl.c - Curl-P-27/81 sponge over trits [§3]. */
#include "iota_kernel.h"

#include <string.h>

/* SBOX(a, b) indexed by a + 3b + 4 [§3.2]. */
static const int8_t curl_sbox[9] = {1, 0, -1, 1, -1, 0, -1, 1, 0};

/* One round. The walk p_i = 364 i mod 729 gives, for k = 0..364,
 * new[2k] = S(old[-k], old[364 - k]) and new[2k + 1] = S(old[364 - k], old[728 - k]) (indices mod 729). */
static void curl_round(const int8_t *old, int8_t *out)
{
    int k;
    out[0] = curl_sbox[old[0] + 3 * old[364] + 4];
    for (k = 0; k < 364; k++) {
        out[2 * k + 1] = curl_sbox[old[364 - k] + 3 * old[728 - k] + 4];
        out[2 * k + 2] = curl_sbox[old[728 - k] + 3 * old[363 - k] + 4];
    }
}

/* Build switches for the tests (csrc/Makefile): IK_CURL_NO_AVX512, IK_CURL_NO_AVX2 leave those rounds out, so the
 * KATs cover every round this CPU could pick. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(IK_CURL_NO_AVX2)
#include <immintrin.h>
#define CURL_HAVE_AVX2 1

/* The same round, 32 k at a time: the three operand streams are contiguous runs read backwards, so each is one
 * load plus a byte reversal; the S-box is a vpshufb table lookup on a + 3b + 4; the two result streams are
 * interleaved into new[64j + 1 .. 64j + 64]. */
__attribute__((target("avx2"))) static __m256i curl_rev32(__m256i v)
{
    const __m256i rev = _mm256_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11,
                                         10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    return _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, rev), 0x4e);
}

__attribute__((target("avx2"))) static __m256i curl_sbox32(__m256i a, __m256i b)
{
    const __m256i table = _mm256_setr_epi8(1, 0, -1, 1, -1, 0, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, -1, 1, -1, 0,
                                           -1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m256i idx = _mm256_add_epi8(_mm256_add_epi8(a, _mm256_set1_epi8(4)),
                                  _mm256_add_epi8(b, _mm256_add_epi8(b, b)));
    return _mm256_shuffle_epi8(table, idx);
}

__attribute__((target("avx2"))) static void curl_round_avx2(const int8_t *old, int8_t *out)
{
    int j;
    int k;
    out[0] = curl_sbox[old[0] + 3 * old[364] + 4];
    for (j = 0; j < 11; j++) { /* k = 32j .. 32j + 31 */
        __m256i x = curl_rev32(_mm256_loadu_si256((const __m256i *)(old + 333 - 32 * j)));
        __m256i y = curl_rev32(_mm256_loadu_si256((const __m256i *)(old + 697 - 32 * j)));
        __m256i z = curl_rev32(_mm256_loadu_si256((const __m256i *)(old + 332 - 32 * j)));
        __m256i p = curl_sbox32(x, y); /* new[2k + 1] */
        __m256i q = curl_sbox32(y, z); /* new[2k + 2] */
        __m256i lo = _mm256_unpacklo_epi8(p, q);
        __m256i hi = _mm256_unpackhi_epi8(p, q);
        _mm256_storeu_si256((__m256i *)(out + 64 * j + 1), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 64 * j + 33), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (k = 352; k < 364; k++) {
        out[2 * k + 1] = curl_sbox[old[364 - k] + 3 * old[728 - k] + 4];
        out[2 * k + 2] = curl_sbox[old[728 - k] + 3 * old[363 - k] + 4];
    }
}
#ifndef IK_CURL_NO_AVX512
#define CURL_HAVE_AVX512 1

/* AVX-512BW: the round read in memory order, 64 values a step, without the byte reversals of the AVX2 round. With
 * m = 364 - k the round is new[729 - 2m] = S(old[m], old[m + 364]), new[730 - 2m] = S(old[m + 364], old[m - 1]):
 * it reads forwards and writes backwards. So two rounds alternate between the state and its mirror image
 * R[j] = s[728 - j]. From the state to the mirror of the next (r = m - 1 = 0..363):
 *     R'[2r] = S(old[r + 365], old[r]),   R'[2r + 1] = S(old[r + 1], old[r + 365]),   R'[728] = S(old[0], old[364]);
 * from a mirror R back to the state after the next round (r = 364 - m):
 *     new[2r + 1] = S(R[r + 364], R[r]),  new[2r + 2] = S(R[r], R[r + 365]),           new[0] = S(R[728], R[364]).
 * Both are three forward loads, two S-box lookups and one byte interleave per 128 outputs; the last step of 64 is
 * shifted back to r = 300 and rewrites outputs it shares with the one before (same values). */
__attribute__((target("avx512f,avx512bw"))) static __m512i curl_sbox64(__m512i a, __m512i b)
{
    /* vpshufb per 128-bit lane, index a + 3b + 4 in 0..8 */
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(1, 0, -1, 1, -1, 0, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0));
    __m512i idx = _mm512_add_epi8(_mm512_add_epi8(a, _mm512_set1_epi8(4)), _mm512_add_epi8(b, _mm512_add_epi8(b, b)));
    return _mm512_shuffle_epi8(table, idx);
}

/* out[2i] = even[i], out[2i + 1] = odd[i] for i < 64: the two S-box streams interleaved into 128 bytes. */
__attribute__((target("avx512f,avx512bw"))) static void curl_store128(int8_t *out, __m512i even, __m512i odd)
{
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512i lo = _mm512_unpacklo_epi8(even, odd); /* per 128-bit lane l: pairs 16l .. 16l + 7 */
    __m512i hi = _mm512_unpackhi_epi8(even, odd); /* pairs 16l + 8 .. 16l + 15 */
    _mm512_storeu_si512((void *)out, _mm512_permutex2var_epi64(lo, first, hi));
    _mm512_storeu_si512((void *)(out + 64), _mm512_permutex2var_epi64(lo, second, hi));
}

/* State -> mirror of the next state. */
__attribute__((target("avx512f,avx512bw"))) static void curl_round_to_mirror(const int8_t *old, int8_t *out)
{
    int r0;
    for (r0 = 0;; r0 += 64) {
        if (r0 > 300) {
            r0 = 300;
        }
        {
            __m512i x0 = _mm512_loadu_si512((const void *)(old + r0));
            __m512i x1 = _mm512_loadu_si512((const void *)(old + r0 + 1));
            __m512i y = _mm512_loadu_si512((const void *)(old + r0 + 365));
            curl_store128(out + 2 * r0, curl_sbox64(y, x0), curl_sbox64(x1, y));
        }
        if (r0 == 300) {
            break;
        }
    }
    out[728] = curl_sbox[old[0] + 3 * old[364] + 4];
}

/* Mirror -> the state after the next round. */
__attribute__((target("avx512f,avx512bw"))) static void curl_round_from_mirror(const int8_t *mirror, int8_t *out)
{
    int r0;
    out[0] = curl_sbox[mirror[728] + 3 * mirror[364] + 4];
    for (r0 = 0;; r0 += 64) {
        if (r0 > 300) {
            r0 = 300;
        }
        {
            __m512i y = _mm512_loadu_si512((const void *)(mirror + r0));
            __m512i x = _mm512_loadu_si512((const void *)(mirror + r0 + 364));
            __m512i z = _mm512_loadu_si512((const void *)(mirror + r0 + 365));
            curl_store128(out + 1 + 2 * r0, curl_sbox64(x, y), curl_sbox64(y, z));
        }
        if (r0 == 300) {
            break;
        }
    }
}

/* Transforms a, and b when not NULL, their rounds interleaved: the two dependency chains overlap (a round of one
 * state alone waits on the stores of the round before; two run in about 1.5 times the time of one). */
__attribute__((target("avx2,avx512f,avx512bw"))) static void curl_transform_avx512(int8_t *a, int8_t *b,
                                                                                   unsigned rounds)
{
    int8_t mirror_a[IK_CURL_STATE_TRITS];
    int8_t mirror_b[IK_CURL_STATE_TRITS];
    unsigned r;
    for (r = 0; r + 1 < rounds; r += 2) {
        curl_round_to_mirror(a, mirror_a);
        if (b) {
            curl_round_to_mirror(b, mirror_b);
        }
        curl_round_from_mirror(mirror_a, a);
        if (b) {
            curl_round_from_mirror(mirror_b, b);
        }
    }
    if (r < rounds) {
        curl_round_avx2(a, mirror_a);
        memcpy(a, mirror_a, sizeof mirror_a);
        if (b) {
            curl_round_avx2(b, mirror_b);
            memcpy(b, mirror_b, sizeof mirror_b);
        }
    }
}
#endif
#endif

void ik_curl_transform(int8_t state[IK_CURL_STATE_TRITS], unsigned rounds)
{
    int8_t scratch[IK_CURL_STATE_TRITS];
    void (*round)(const int8_t *, int8_t *) = curl_round;
    unsigned r;
#ifdef CURL_HAVE_AVX512
    if (__builtin_cpu_supports("avx512bw")) {
        curl_transform_avx512(state, NULL, rounds);
        return;
    }
#endif
#ifdef CURL_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        round = curl_round_avx2;
    }
#endif
    for (r = 0; r + 1 < rounds; r += 2) {
        round(state, scratch);
        round(scratch, state);
    }
    if (r < rounds) {
        round(state, scratch);
        memcpy(state, scratch, sizeof scratch);
    }
}

/* Two transforms, interleaved where the round allows it. */
static void curl_transform_pair(int8_t *a, int8_t *b, unsigned rounds)
{
#ifdef CURL_HAVE_AVX512
    if (__builtin_cpu_supports("avx512bw")) {
        curl_transform_avx512(a, b, rounds);
        return;
    }
#endif
    ik_curl_transform(a, rounds);
    ik_curl_transform(b, rounds);
}

ik_status ik_curl_init(ik_curl *ctx, unsigned rounds)
{
    if (rounds < 1 || rounds > 81) {
        return IK_ERR_VALUE;
    }
    memset(ctx->state, 0, sizeof ctx->state);
    ctx->rounds = (uint8_t)rounds;
    return IK_OK;
}

void ik_curl_absorb(ik_curl *ctx, const int8_t *trits, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        memcpy(ctx->state, trits, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        trits += n;
        len -= n;
    }
}

void ik_curl_squeeze(ik_curl *ctx, int8_t *trits, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        memcpy(trits, ctx->state, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        trits += n;
        len -= n;
    }
}

ik_status ik_curl_hash_trytes(const char *trytes, size_t n, unsigned rounds, char out[IK_HASH_TRYTES])
{
    ik_curl ctx;
    int8_t chunk[IK_HASH_TRITS];
    ik_status st = ik_curl_init(&ctx, rounds);
    if (st != IK_OK) {
        return st;
    }
    while (n > 0) {
        size_t m = n < IK_HASH_TRYTES ? n : IK_HASH_TRYTES;
        st = ik_trytes_to_trits(trytes, m, chunk);
        if (st != IK_OK) {
            return st;
        }
        ik_curl_absorb(&ctx, chunk, 3 * m);
        trytes += m;
        n -= m;
    }
    ik_curl_squeeze(&ctx, chunk, IK_HASH_TRITS);
    return ik_trits_to_trytes(chunk, IK_HASH_TRITS, out);
}

ik_status ik_curl_chain(int8_t state[IK_CURL_STATE_TRITS], unsigned times, unsigned rounds)
{
    return ik_curl_chains(state, 1, &times, rounds);
}

ik_status ik_curl_chains(int8_t *states, size_t n, const unsigned *times, unsigned rounds)
{
    size_t i;
    if (rounds < 1 || rounds > 81) {
        return IK_ERR_VALUE;
    }
    for (i = 0; i < n; i += 2) { /* two chains at a time, while both have links left */
        int8_t *a = states + i * IK_CURL_STATE_TRITS;
        int8_t *b = i + 1 < n ? a + IK_CURL_STATE_TRITS : NULL;
        unsigned left_a = times[i];
        unsigned left_b = b ? times[i + 1] : 0;
        for (; left_a > 0 && left_b > 0; left_a--, left_b--) {
            memset(a + IK_HASH_TRITS, 0, IK_CURL_STATE_TRITS - IK_HASH_TRITS);
            memset(b + IK_HASH_TRITS, 0, IK_CURL_STATE_TRITS - IK_HASH_TRITS);
            curl_transform_pair(a, b, rounds);
        }
        for (; left_a > 0; left_a--) {
            memset(a + IK_HASH_TRITS, 0, IK_CURL_STATE_TRITS - IK_HASH_TRITS);
            ik_curl_transform(a, rounds);
        }
        for (; left_b > 0; left_b--) {
            memset(b + IK_HASH_TRITS, 0, IK_CURL_STATE_TRITS - IK_HASH_TRITS);
            ik_curl_transform(b, rounds);
        }
    }
    return IK_OK;
}
