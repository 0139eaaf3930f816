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

#if defined(__x86_64__) || defined(__i386__)
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
#endif

void ik_curl_transform(int8_t state[IK_CURL_STATE_TRITS], unsigned rounds)
{
    int8_t scratch[IK_CURL_STATE_TRITS];
    void (*round)(const int8_t *, int8_t *) = curl_round;
    unsigned r;
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
