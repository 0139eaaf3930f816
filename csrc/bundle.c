/* bundle.c - the bundle hash with the M-bug escape [§6.3, §7]: Kerl over the essences of a bundle's transactions;
 * while the normalized hash holds a 13 (a signature would then reveal a private key segment unhashed), the tail's
 * obsolete tag goes up by one and the hash is taken again, as PyOTA, iota.js and entangled do. Only the tail's second
 * block (essence trits 243..485, the tag at 324..404) changes between tries, so the other blocks are converted to
 * Kerl's byte form once.
 *
 * 64-bit hosts go further (a bundle takes about 100 tries). The tag block lies in the first 104-byte Keccak rate
 * block (bytes 48..95), so the rest of that block (block 0, and block 2's first lane or the padding) is kept as
 * lanes; each try's tag block is the one before plus 3^81 (a 384-bit addition) except where the tag wraps; and the
 * digest is judged chunk by chunk straight from its 384 bits, without converting it to trits or normalizing it.
 * x86-64 tries several consecutive tags at once: 8 (AVX-512F) or 4 (AVX2) Keccak-f states side by side, one per
 * vector element, judged together (bundle_lanes.inc); the first secure one in increment order wins, so the tag and
 * hash are exactly those of the one-at-a-time loop. 32-bit targets keep the compact loop (code size). */
#include "iota_kernel.h"

#include <string.h>

#define ESSENCE_TRITS 486 /* address, value, obsolete tag, timestamp, current and last index: 162 trytes */
#define TAG_START 324     /* the obsolete tag: essence trits 324..404 (trytes 108..134) */
#define TAG_TRITS 81
#define BLOCK_LANES 6   /* 48 bytes: one Kerl block, 6 Keccak lanes */
#define RATE_LANES 13   /* 104 bytes */
#define CACHED_BLOCKS 8 /* blocks after the tail kept converted (384 bytes of stack); later ones per try */
#define POW3_18 387420489u

/* IK_ERR_LENGTH for no transaction, IK_ERR_TRIT for a trit outside -1..1. */
static ik_status bundle_check(const int8_t *essences, size_t n_tx)
{
    unsigned bad = 0;
    size_t i;
    if (n_tx < 1) {
        return IK_ERR_LENGTH;
    }
    for (i = 0; i < n_tx * ESSENCE_TRITS; i++) {
        bad |= (unsigned)(essences[i] + 1) > 2u;
    }
    return bad ? IK_ERR_TRIT : IK_OK;
}

#if UINTPTR_MAX > 0xffffffffu /* ---- 64-bit hosts ---- */

/* Build switches for the tests (csrc/Makefile): IK_BUNDLE_NO_AVX512, IK_BUNDLE_NO_AVX2 leave those widths out, so
 * the KATs cover every width this CPU could pick. */
#if defined(__x86_64__) && !defined(IK_BUNDLE_NO_AVX2)
#include <immintrin.h>
#define BUNDLE_HAVE_AVX2 1
#ifndef IK_BUNDLE_NO_AVX512
#define BUNDLE_HAVE_AVX512 1
#define MAX_WAYS 8
#else
#define MAX_WAYS 4
#endif
#else
#define MAX_WAYS 1
#endif

/* 3^81 (a tag increment moves its block by this much) as 64-bit limbs, least significant first. */
static const uint64_t pow3_81[3] = {0xb6bf0c69d56d7cc3ull, 0x4d98d5cea149e834ull, 0x1ull};
/* (3^243 - 1) / 2 in 32-bit limbs (kerl.c): digest + half_243 has the base-3 digits trit + 1. */
static const uint32_t half_243[13] = {0xf16b9c2du, 0xdd01633cu, 0x3d8cf0eeu, 0xb09a028bu, 0x246cd94au,
                                      0xf1c6d805u, 0x6cee5506u, 0xda330aa3u, 0xfde381a1u, 0xfe13f810u,
                                      0xf97f039eu, 0x1b3dc3ceu, 0x00000001u};

typedef struct {
    const int8_t *essences;
    size_t n_tx;
    uint64_t head[RATE_LANES];                  /* the first rate block without the tag block (lanes 6..11: 0) */
    uint64_t cache[CACHED_BLOCKS][BLOCK_LANES]; /* blocks 2, 3, ... as lanes */
} bundle_ctx;

static uint64_t bswap64(uint64_t x)
{
    x = ((x & 0x00ff00ff00ff00ffull) << 8) | ((x >> 8) & 0x00ff00ff00ff00ffull);
    x = ((x & 0x0000ffff0000ffffull) << 16) | ((x >> 16) & 0x0000ffff0000ffffull);
    return (x << 32) | (x >> 32);
}

/* A block of trits -> its 6 Keccak lanes (bytes 8m..8m + 7 little-endian in lane m, as ik_kerl_absorb_bytes). */
static void block_lanes(const int8_t *trits, uint64_t lanes[BLOCK_LANES])
{
    uint8_t b[IK_KERL_BYTES];
    int m;
    int j;
    ik_kerl_trits_to_bytes(trits, b);
    for (m = 0; m < BLOCK_LANES; m++) {
        uint64_t lane = 0;
        for (j = 7; j >= 0; j--) {
            lane = (lane << 8) | b[8 * m + j];
        }
        lanes[m] = lane;
    }
}

/* Lanes of block b >= 2 (cached or converted into tmp). */
static const uint64_t *stream_block(const bundle_ctx *ctx, size_t b, uint64_t tmp[BLOCK_LANES])
{
    if (b - 2 < CACHED_BLOCKS) {
        return ctx->cache[b - 2];
    }
    block_lanes(ctx->essences + b * IK_HASH_TRITS, tmp);
    return tmp;
}

/* The chunks of a hash as they are read, one digit D_i = tryte value n_i + 13 (0..26) at a time [§6.1]. ik_normalize
 * moves a chunk's sum S to 0, always changing the first tryte that can still move; its result holds a 13 exactly when
 *   S >= 0: trytes are lowered from the first on, tryte i iff P_i = D_0 + ... + D_(i-1) (what those before it can
 *           give up) is below S, and a lowered one ends below 13: so a 13 at some i with P_i >= S;
 *   S < 0:  trytes are raised, and a 13 stays one: so any 13, or tryte 0 raised to 13 (13 - n_0 <= -S; otherwise it
 *           takes all of -S alone), that is S <= D_0 - 26.
 * P grows with i, so with last = P_i of the last 13 (-1 if none) both read: last >= max(S, 0) or S <= D_0 - 26. */
typedef struct {
    int pos;  /* digits of the chunk so far */
    int p;    /* their sum */
    int last; /* P_i of the last 13 */
    int d0;
} chunk_state;

/* Adds a digit; 0 when it closes an insecure chunk. */
static int chunk_digit(chunk_state *ch, int d)
{
    if (ch->pos == 0) {
        ch->p = 0;
        ch->last = -1;
        ch->d0 = d;
    }
    if (d == 26) {
        ch->last = ch->p;
    }
    ch->p += d;
    if (++ch->pos == 27) {
        int s = ch->p - 351;
        ch->pos = 0;
        return !(ch->last >= (s > 0 ? s : 0) || s <= ch->d0 - 26);
    }
    return 1;
}

/* 1 if the hash of these digest lanes (Kerl's squeeze: big-endian bytes of lanes 0..5, reduced mod 3^242) has a
 * normalized form without 13. With u = v + half_243 >= 0 (v the digest, sign-extended), trit i is digit i of u
 * minus 1 for i < 242 (reducing v first only changes digit 242), so tryte j < 80 is base-27 digit j of u minus 13,
 * and tryte 80 (trits 240, 241 and 0) is that digit mod 9, minus 4. Digits come six at a time, dividing by 3^18, and
 * each chunk is judged as soon as it is known (most tries fail in the first). */
static int digest_secure(const uint64_t lanes[BLOCK_LANES])
{
    uint32_t u[13];
    chunk_state ch;
    uint64_t carry = 0;
    int top = 12;
    int pass;
    int k;
    for (k = 0; k < BLOCK_LANES; k++) {
        uint64_t x = bswap64(lanes[BLOCK_LANES - 1 - k]);
        u[2 * k] = (uint32_t)x;
        u[2 * k + 1] = (uint32_t)(x >> 32);
    }
    u[12] = (u[11] & 0x80000000u) ? 0xffffffffu : 0u;
    for (k = 0; k < 13; k++) {
        carry += (uint64_t)u[k] + half_243[k];
        u[k] = (uint32_t)carry;
        carry >>= 32;
    }
    ch.pos = 0;
    for (pass = 0; pass < 13; pass++) {
        uint32_t rem = 0;
        int j;
        for (j = top; j >= 0; j--) {
            uint64_t cur = ((uint64_t)rem << 32) | u[j];
            u[j] = (uint32_t)(cur / POW3_18);
            rem = (uint32_t)(cur % POW3_18);
        }
        while (top > 0 && u[top] == 0) {
            top--;
        }
        for (j = 0; j < 6; j++) {
            if (!chunk_digit(&ch, (int)(rem % 27u))) {
                return 0;
            }
            rem /= 27u;
        }
    }
    /* u < 3^9 */
    return chunk_digit(&ch, (int)(u[0] % 27u)) && chunk_digit(&ch, (int)(u[0] / 27u % 27u)) &&
           chunk_digit(&ch, (int)(u[0] / 729u % 9u) + 9);
}

/* Kerl of the bundle with this tag block (6 lanes), one candidate: the digest lanes (before the flip step). */
static void hash_one(const bundle_ctx *ctx, const uint64_t tag[BLOCK_LANES], uint64_t digest[BLOCK_LANES])
{
    uint64_t st[25];
    size_t n_lanes = 12 * ctx->n_tx; /* lanes absorbed */
    size_t k;
    memcpy(st, ctx->head, sizeof ctx->head);
    memcpy(st + BLOCK_LANES, tag, BLOCK_LANES * sizeof tag[0]);
    memset(st + RATE_LANES, 0, sizeof st - sizeof ctx->head);
    ik_keccak_f1600(st); /* one transaction: head[12] held the padding, and this was the digest */
    if (n_lanes > RATE_LANES) {
        uint64_t tmp[BLOCK_LANES];
        const uint64_t *block = stream_block(ctx, 2, tmp);
        for (k = RATE_LANES; k < n_lanes; k++) {
            if (k % BLOCK_LANES == 0) {
                block = stream_block(ctx, k / BLOCK_LANES, tmp);
            }
            st[k % RATE_LANES] ^= block[k % BLOCK_LANES];
            if (k % RATE_LANES == RATE_LANES - 1) {
                ik_keccak_f1600(st);
            }
        }
        st[n_lanes % RATE_LANES] ^= 0x01; /* pad 0x01 ... 0x80 */
        st[RATE_LANES - 1] ^= (uint64_t)0x80 << 56;
        ik_keccak_f1600(st);
    }
    memcpy(digest, st, BLOCK_LANES * sizeof st[0]);
}

/* ---- several candidates at once (x86): bundle_lanes.inc per width ---- */
#ifdef BUNDLE_HAVE_AVX2
/* AVX2: 4 candidates, plain vector operations (rotations as two shifts). */
#define BL_W 4
#define BL_SUFFIX x4
#define BL_ATTR __attribute__((target("avx2")))
#include "bundle_lanes.inc"
#undef BL_W
#undef BL_SUFFIX
#undef BL_ATTR

#ifdef BUNDLE_HAVE_AVX512
/* AVX-512F: 8 candidates; vprolq, and vpternlogq for chi (0xd2: b0 ^ (~b1 & b2)) and the column parities (0x96:
 * three-way XOR). */
#define BL_W 8
#define BL_SUFFIX x8
#define BL_ATTR __attribute__((target("avx512f")))
#define BL_ROL(x, n) ((VU)_mm512_rol_epi64((__m512i)(x), n))
#define BL_CHI(b0, b1, b2) ((VU)_mm512_ternarylogic_epi64((__m512i)(b0), (__m512i)(b1), (__m512i)(b2), 0xd2))
#define BL_XOR5(x0, x1, x2, x3, x4)                                                                                 \
    ((VU)_mm512_ternarylogic_epi64(                                                                                 \
        _mm512_ternarylogic_epi64((__m512i)(x0), (__m512i)(x1), (__m512i)(x2), 0x96), (__m512i)(x3), (__m512i)(x4), \
        0x96))
#include "bundle_lanes.inc"
#undef BL_W
#undef BL_SUFFIX
#undef BL_ATTR
#endif
#endif

#ifdef BUNDLE_HAVE_AVX2
__attribute__((target("sse"))) static unsigned bundle_mxcsr(void)
{
    return _mm_getcsr();
}
#endif

/* Candidates per group on this CPU. */
static unsigned bundle_ways(void)
{
#ifdef BUNDLE_HAVE_AVX2
    if (bundle_mxcsr() & 0x6000u) { /* the screens round to nearest (bundle_lanes.inc): not under another mode */
        return 1;
    }
#endif
#ifdef BUNDLE_HAVE_AVX512
    if (__builtin_cpu_supports("avx512f")) {
        return 8;
    }
#endif
#ifdef BUNDLE_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) {
        return 4;
    }
#endif
    return 1;
}

/* Hashes ways candidates (tag block lane m of candidate c at tag[ways * m + c]) and returns the first whose hash is
 * secure, its digest lanes in digest; ways if none. */
static unsigned try_group(const bundle_ctx *ctx, unsigned ways, const uint64_t *tag, uint64_t digest[BLOCK_LANES])
{
#ifdef BUNDLE_HAVE_AVX512
    if (ways == 8) {
        return try_x8(ctx, tag, digest);
    }
#endif
#ifdef BUNDLE_HAVE_AVX2
    if (ways == 4) {
        return try_x4(ctx, tag, digest);
    }
#endif
    (void)ways;
    hash_one(ctx, tag, digest);
    return digest_secure(digest) ? 0 : 1;
}

/* Balanced tag + 1, the carry out of its last trit dropped ('M...M' + 1 = 'N...N'); 1 if it wrapped. */
static int tag_increment(int8_t *tag)
{
    int i;
    for (i = 0; i < TAG_TRITS; i++) {
        if (tag[i] < 1) {
            tag[i]++;
            return 0;
        }
        tag[i] = -1;
    }
    return 1;
}

/* The inverse: tag - 1, 'N...N' - 1 = 'M...M'. */
static void tag_decrement(int8_t *tag)
{
    int i;
    for (i = 0; i < TAG_TRITS; i++) {
        if (tag[i] > -1) {
            tag[i]--;
            return;
        }
        tag[i] = 1;
    }
}

/* The tail's second block as a 384-bit two's-complement integer: 64-bit limbs, least significant first. */
static void tag_block_load(const int8_t *trits, uint64_t w[BLOCK_LANES])
{
    uint64_t lanes[BLOCK_LANES];
    int m;
    block_lanes(trits, lanes);
    for (m = 0; m < BLOCK_LANES; m++) {
        w[BLOCK_LANES - 1 - m] = bswap64(lanes[m]);
    }
}

/* The tail's tag + 1 in the essences, and its block w with it: w + 3^81 (the tag is trits 81..161 of the block),
 * or converted again where the tag wrapped. */
static void tag_next(int8_t *essences, uint64_t w[BLOCK_LANES])
{
    uint64_t carry = 0;
    int m;
    if (tag_increment(essences + TAG_START)) {
        tag_block_load(essences + IK_HASH_TRITS, w);
        return;
    }
    for (m = 0; m < BLOCK_LANES; m++) { /* modulo 2^384 */
        uint64_t add = m < 3 ? pow3_81[m] : 0;
        uint64_t s = w[m] + add;
        uint64_t s2 = s + carry;
        carry = (uint64_t)(s < add) + (uint64_t)(s2 < s);
        w[m] = s2;
    }
}

ik_status ik_bundle_finalize(int8_t *essences, size_t n_tx, int8_t hash[IK_HASH_TRITS])
{
    bundle_ctx ctx;
    uint64_t tag[BLOCK_LANES * MAX_WAYS];
    uint64_t digest[BLOCK_LANES];
    uint64_t w[BLOCK_LANES];
    unsigned ways;
    size_t b;
    ik_status st = bundle_check(essences, n_tx);
    if (st != IK_OK) {
        return st;
    }
    ways = bundle_ways();
    ctx.essences = essences;
    ctx.n_tx = n_tx;
    memset(ctx.head, 0, sizeof ctx.head);
    block_lanes(essences, ctx.head);
    for (b = 2; b < 2 * n_tx && b - 2 < CACHED_BLOCKS; b++) {
        block_lanes(essences + b * IK_HASH_TRITS, ctx.cache[b - 2]);
    }
    ctx.head[RATE_LANES - 1] = n_tx > 1 ? ctx.cache[0][0] : 0x8000000000000001ull; /* block 2's first lane or pad */
    tag_block_load(essences + IK_HASH_TRITS, w);
    for (;;) {
        unsigned c;
        int m;
        /* candidates tag, tag + 1, ..., tag + ways - 1; the essences then hold tag + ways */
        for (c = 0; c < ways; c++) {
            for (m = 0; m < BLOCK_LANES; m++) {
                tag[ways * (unsigned)m + c] = bswap64(w[BLOCK_LANES - 1 - m]);
            }
            tag_next(essences, w);
        }
        c = try_group(&ctx, ways, tag, digest);
        if (c < ways) {
            uint8_t block[IK_KERL_BYTES];
            int8_t normalized[IK_HASH_TRYTES];
            for (; c < ways; c++) {
                tag_decrement(essences + TAG_START);
            }
            for (m = 0; m < IK_KERL_BYTES; m++) { /* ik_kerl_squeeze_bytes' byte order */
                block[m] = (uint8_t)(digest[m / 8] >> (8 * (m % 8)));
            }
            ik_kerl_bytes_to_trits(block, hash); /* reduces modulo 3^242 as the squeeze does */
            ik_normalize(hash, normalized);
            for (m = 0; m < IK_HASH_TRYTES && normalized[m] != 13; m++) {
            }
            if (m == IK_HASH_TRYTES) {
                return IK_OK;
            }
            /* Never taken while the screens agree with ik_normalize (the tests hold them equal); should one not, a
             * 13 must not get out: go on one at a time from the next tag. */
            ways = 1;
            tag_increment(essences + TAG_START);
            tag_block_load(essences + IK_HASH_TRITS, w);
        }
    }
}

#else /* ---- 32-bit targets: one try at a time through Kerl's byte form ---- */
ik_status ik_bundle_finalize(int8_t *essences, size_t n_tx, int8_t hash[IK_HASH_TRITS])
{
    uint8_t first[IK_KERL_BYTES];
    uint8_t cache[CACHED_BLOCKS][IK_KERL_BYTES];
    uint8_t block[IK_KERL_BYTES];
    int8_t normalized[IK_HASH_TRYTES];
    int8_t *tag = essences + TAG_START;
    size_t n_blocks = 2 * n_tx;
    size_t b;
    ik_status st = bundle_check(essences, n_tx);
    if (st != IK_OK) {
        return st;
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
#endif

/* ---- a finalized bundle of one zero-value transfer, as trytes (iota_edge.bundle.prepare_transfer's) ---- */
#define TX_FRAGMENT 2187 /* transaction trytes [§2]: signature or message fragment */
#define TX_ESSENCE 2187  /* address, value, obsolete tag, timestamp, current index, last index: 162 trytes */
#define TX_BUNDLE 2349   /* then trunk, branch, tag, three attachment timestamps, nonce */
#define TX_TAG 2592
#define MAX_TIMESTAMP 3812798742493ll /* (3^27 - 1) / 2: a 27-trit field */

/* value as 9 trytes, balanced, least significant first (|value| <= MAX_TIMESTAMP). */
static void int9_trytes(int64_t value, char out[9])
{
    static const char alphabet[] = "NOPQRSTUVWXYZ9ABCDEFGHIJKLM"; /* -13..13 */
    int i;
    for (i = 0; i < 9; i++) {
        int64_t d = value % 27; /* -26..26 */
        d = d > 13 ? d - 27 : (d < -13 ? d + 27 : d);
        out[i] = alphabet[d + 13];
        value = (value - d) / 27;
    }
}

/* 1 when the n characters are all trytes (no branch per character: a message is thousands). */
static int trytes_ok(const char *s, size_t n)
{
    unsigned bad = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bad |= (unsigned)(c != '9') & (unsigned)((unsigned char)(c - 'A') > 25u);
    }
    return bad == 0;
}

ik_status ik_bundle_message(const char address[IK_HASH_TRYTES], const char tag[27], const char *message, size_t n,
                            int64_t timestamp, int8_t *work, char *out)
{
    size_t n_tx = n == 0 ? 1 : (n + TX_FRAGMENT - 1) / TX_FRAGMENT;
    int8_t hash[IK_HASH_TRITS];
    char ts[9];
    char last[9];
    size_t i;
    if (timestamp < -MAX_TIMESTAMP || timestamp > MAX_TIMESTAMP || n_tx - 1 > (size_t)MAX_TIMESTAMP) {
        return IK_ERR_VALUE;
    }
    int9_trytes(timestamp, ts);
    int9_trytes((int64_t)(n_tx - 1), last);
    for (i = 0; i < n_tx; i++) {
        char *tx = out + i * IK_TX_TRYTES;
        size_t len = i + 1 < n_tx ? TX_FRAGMENT : n - i * TX_FRAGMENT;
        memcpy(tx, message + i * TX_FRAGMENT, len);
        memset(tx + len, '9', TX_FRAGMENT - len);
        memcpy(tx + TX_ESSENCE, address, IK_HASH_TRYTES);
        memset(tx + TX_ESSENCE + 81, '9', 27); /* value 0 */
        memcpy(tx + TX_ESSENCE + 108, tag, 27);
        memcpy(tx + TX_ESSENCE + 135, ts, 9);
        int9_trytes((int64_t)i, tx + TX_ESSENCE + 144);
        memcpy(tx + TX_ESSENCE + 153, last, 9);
        memset(tx + TX_BUNDLE, '9', IK_TX_TRYTES - TX_BUNDLE); /* trunk and branch (not attached), ... nonce */
        memcpy(tx + TX_TAG, tag, 27);
        if (ik_trytes_to_trits(tx + TX_ESSENCE, ESSENCE_TRITS / 3, work + i * ESSENCE_TRITS) != IK_OK ||
            !trytes_ok(tx, len)) {
            return IK_ERR_TRYTE; /* the address, the tag or the message */
        }
    }
    (void)ik_bundle_finalize(work, n_tx, hash);
    (void)ik_trits_to_trytes(work + TAG_START, TAG_TRITS, out + TX_ESSENCE + 108); /* the tail's tag after the escape */
    (void)ik_trits_to_trytes(hash, IK_HASH_TRITS, out + TX_BUNDLE);
    for (i = 1; i < n_tx; i++) {
        memcpy(out + i * IK_TX_TRYTES + TX_BUNDLE, out + TX_BUNDLE, IK_HASH_TRYTES);
    }
    return IK_OK;
}
