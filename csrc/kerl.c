/* kerl.c - Kerl: Keccak-384 (original padding 0x01) over 243-trit blocks carried as 48-byte big-endian
 * two's-complement integers [§4]. Big integers are little-endian arrays of 32-bit limbs so the same code
 * runs on 32-bit microcontrollers. */
#include "iota_kernel.h"

#include <string.h>

#define KERL_RATE 104u /* bytes: 1600 - 2 x 384 bits */
#define LIMBS 12       /* 384 bits */
#define POW3_20 3486784401u

/* (3^242 - 1) / 2, 3^242 and (3^243 - 1) / 2. */
static const uint32_t half_242[LIMBS] = {0xa5ce8964u, 0x9f007669u, 0x1484504fu, 0x3ade00d9u,
                                         0x0c24486eu, 0x50979d57u, 0x79a4c702u, 0x48bbae36u,
                                         0xa9f6808bu, 0xaa06a805u, 0xa87fabdfu, 0x5e69ebefu};
static const uint32_t pow3_242[LIMBS] = {0x4b9d12c9u, 0x3e00ecd3u, 0x2908a09fu, 0x75bc01b2u,
                                         0x184890dcu, 0xa12f3aaeu, 0xf3498e04u, 0x91775c6cu,
                                         0x53ed0116u, 0x540d500bu, 0x50ff57bfu, 0xbcd3d7dfu};
static const uint32_t half_243[LIMBS + 1] = {0xf16b9c2du, 0xdd01633cu, 0x3d8cf0eeu, 0xb09a028bu, 0x246cd94au,
                                             0xf1c6d805u, 0x6cee5506u, 0xda330aa3u, 0xfde381a1u, 0xfe13f810u,
                                             0xf97f039eu, 0x1b3dc3ceu, 0x00000001u};

static void limbs_from_bytes(const uint8_t b[IK_KERL_BYTES], uint32_t x[LIMBS])
{
    int i;
    for (i = 0; i < LIMBS; i++) {
        const uint8_t *p = b + 4 * (LIMBS - 1 - i);
        x[i] = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    }
}

static void limbs_to_bytes(const uint32_t x[LIMBS], uint8_t b[IK_KERL_BYTES])
{
    int i;
    for (i = 0; i < LIMBS; i++) {
        uint8_t *p = b + 4 * (LIMBS - 1 - i);
        p[0] = (uint8_t)(x[i] >> 24);
        p[1] = (uint8_t)(x[i] >> 16);
        p[2] = (uint8_t)(x[i] >> 8);
        p[3] = (uint8_t)x[i];
    }
}

/* x += y (n limbs, modulo 2^(32 n)). */
static void limbs_add(uint32_t *x, const uint32_t *y, int n)
{
    uint64_t carry = 0;
    int i;
    for (i = 0; i < n; i++) {
        carry += (uint64_t)x[i] + y[i];
        x[i] = (uint32_t)carry;
        carry >>= 32;
    }
}

/* x -= y (n limbs, modulo 2^(32 n)). */
static void limbs_sub(uint32_t *x, const uint32_t *y, int n)
{
    uint32_t borrow = 0;
    int i;
    for (i = 0; i < n; i++) {
        uint64_t d = (uint64_t)x[i] - y[i] - borrow;
        x[i] = (uint32_t)d;
        borrow = (uint32_t)(d >> 63);
    }
}

/* 1 if x > y as unsigned n-limb numbers. */
static int limbs_gt(const uint32_t *x, const uint32_t *y, int n)
{
    int i;
    for (i = n - 1; i >= 0; i--) {
        if (x[i] != y[i]) {
            return x[i] > y[i];
        }
    }
    return 0;
}

void ik_kerl_trits_to_bytes(const int8_t trits[IK_HASH_TRITS], uint8_t block[IK_KERL_BYTES])
{
    /* u = sum (t_i + 1) 3^i over i < 242 is v + half_242 with u >= 0; Horner in steps of 20 trits, over the
     * limbs u has reached so far (used). */
    uint32_t u[LIMBS];
    int i = 241;
    int used = 0;
    memset(u, 0, sizeof u);
    while (i >= 0) {
        int k = (i + 1) % 20 == 0 ? 20 : (i + 1) % 20;
        uint32_t mul = 1;
        uint32_t add = 0;
        uint64_t carry;
        int j;
        for (j = 0; j < k; j++, i--) {
            mul *= 3u;
            add = add * 3u + (uint32_t)(trits[i] + 1);
        }
        carry = add;
        for (j = 0; j < used; j++) {
            carry += (uint64_t)u[j] * mul;
            u[j] = (uint32_t)carry;
            carry >>= 32;
        }
        if (carry != 0) { /* u < 3^242 < 2^384: never past the last limb */
            u[used++] = (uint32_t)carry;
        }
    }
    limbs_sub(u, half_242, LIMBS);
    limbs_to_bytes(u, block);
}

void ik_kerl_bytes_to_trits(const uint8_t block[IK_KERL_BYTES], int8_t trits[IK_HASH_TRITS])
{
    /* u = v + half_243 >= 0 over 13 limbs; its base-3 digits d_i give the balanced trits d_i - 1 of v over
     * 243 places, and dropping place 242 reduces v modulo 3^242 into the balanced range. Twelve divisions by
     * 3^20 give digits 0..239 (each remainder split in two runs of 10, shorter dependency chains); what is left
     * (< 27) holds digits 240..242. */
    uint32_t u[LIMBS + 1];
    int top = LIMBS; /* u[j] == 0 for j > top */
    int pass;
    limbs_from_bytes(block, u);
    u[LIMBS] = (u[LIMBS - 1] & 0x80000000u) ? 0xffffffffu : 0u;
    limbs_add(u, half_243, LIMBS + 1);
    for (pass = 0; pass < 12; pass++) {
        int8_t *out = trits + 20 * pass;
        uint32_t rem = 0;
        uint32_t lo;
        uint32_t hi;
        int j;
        for (j = top; j >= 0; j--) {
            uint64_t cur = ((uint64_t)rem << 32) | u[j];
            u[j] = (uint32_t)(cur / POW3_20);
            rem = (uint32_t)(cur % POW3_20);
        }
        while (top > 0 && u[top] == 0) {
            top--;
        }
        hi = rem / 59049u; /* 3^10 */
        lo = rem % 59049u;
        for (j = 0; j < 10; j++) {
            out[j] = (int8_t)((int)(lo % 3u) - 1);
            out[10 + j] = (int8_t)((int)(hi % 3u) - 1);
            lo /= 3u;
            hi /= 3u;
        }
    }
    trits[240] = (int8_t)((int)(u[0] % 3u) - 1);
    trits[241] = (int8_t)((int)(u[0] / 3u % 3u) - 1);
    trits[IK_HASH_TRITS - 1] = 0;
}

/* Reduce a 384-bit two's-complement block into [-half_242, half_242] modulo 3^242, in place. */
static void kerl_reduce(uint8_t block[IK_KERL_BYTES])
{
    uint32_t x[LIMBS];
    limbs_from_bytes(block, x);
    if (x[LIMBS - 1] & 0x80000000u) {
        uint32_t y[LIMBS];
        memcpy(y, x, sizeof y);
        limbs_add(y, half_242, LIMBS); /* y = v + half < 0 iff v < -half; no overflow */
        if (!(y[LIMBS - 1] & 0x80000000u)) {
            return;
        }
        limbs_add(x, pow3_242, LIMBS);
    } else {
        if (!limbs_gt(x, half_242, LIMBS)) {
            return;
        }
        limbs_sub(x, pow3_242, LIMBS);
    }
    limbs_to_bytes(x, block);
}

void ik_kerl_init(ik_kerl *ctx)
{
    memset(ctx->st, 0, sizeof ctx->st);
    ctx->pos = 0;
}

void ik_kerl_absorb_bytes(ik_kerl *ctx, const uint8_t block[IK_KERL_BYTES])
{
    /* Lane by lane: pos stays a multiple of 8 (blocks of 48 bytes, a rate of 104). */
    unsigned i;
    for (i = 0; i < IK_KERL_BYTES; i += 8) {
        uint64_t lane = 0;
        unsigned j;
        for (j = 0; j < 8; j++) {
            lane |= (uint64_t)block[i + j] << (8 * j);
        }
        ctx->st[ctx->pos / 8] ^= lane;
        ctx->pos += 8;
        if (ctx->pos == KERL_RATE) {
            ik_keccak_f1600(ctx->st);
            ctx->pos = 0;
        }
    }
}

void ik_kerl_squeeze_bytes(ik_kerl *ctx, uint8_t block[IK_KERL_BYTES])
{
    uint64_t st[25];
    uint8_t flipped[IK_KERL_BYTES];
    unsigned i;
    memcpy(st, ctx->st, sizeof st); /* digest of a copy: pad 0x01 ... 0x80 */
    st[ctx->pos / 8] ^= (uint64_t)0x01 << (8 * (ctx->pos % 8));
    st[(KERL_RATE - 1) / 8] ^= (uint64_t)0x80 << (8 * ((KERL_RATE - 1) % 8));
    ik_keccak_f1600(st);
    for (i = 0; i < IK_KERL_BYTES; i++) {
        block[i] = (uint8_t)(st[i / 8] >> (8 * (i % 8)));
        flipped[i] = (uint8_t)~block[i];
    }
    ik_kerl_init(ctx); /* flip step [§4.4] */
    ik_kerl_absorb_bytes(ctx, flipped);
    kerl_reduce(block);
}

ik_status ik_kerl_absorb(ik_kerl *ctx, const int8_t *trits, size_t len)
{
    uint8_t block[IK_KERL_BYTES];
    if (len % IK_HASH_TRITS != 0) {
        return IK_ERR_LENGTH;
    }
    for (; len > 0; len -= IK_HASH_TRITS, trits += IK_HASH_TRITS) {
        ik_kerl_trits_to_bytes(trits, block);
        ik_kerl_absorb_bytes(ctx, block);
    }
    return IK_OK;
}

ik_status ik_kerl_squeeze(ik_kerl *ctx, int8_t *trits, size_t len)
{
    uint8_t block[IK_KERL_BYTES];
    if (len % IK_HASH_TRITS != 0) {
        return IK_ERR_LENGTH;
    }
    for (; len > 0; len -= IK_HASH_TRITS, trits += IK_HASH_TRITS) {
        ik_kerl_squeeze_bytes(ctx, block);
        ik_kerl_bytes_to_trits(block, trits);
    }
    return IK_OK;
}

ik_status ik_kerl_hash_trytes(const char *trytes, size_t n, char *out, size_t out_n)
{
    ik_kerl ctx;
    int8_t chunk[IK_HASH_TRITS];
    ik_status st;
    if (n % IK_HASH_TRYTES != 0 || out_n % IK_HASH_TRYTES != 0) {
        return IK_ERR_LENGTH;
    }
    ik_kerl_init(&ctx);
    for (; n > 0; n -= IK_HASH_TRYTES, trytes += IK_HASH_TRYTES) {
        st = ik_trytes_to_trits(trytes, IK_HASH_TRYTES, chunk);
        if (st != IK_OK) {
            return st;
        }
        ik_kerl_absorb(&ctx, chunk, IK_HASH_TRITS);
    }
    for (; out_n > 0; out_n -= IK_HASH_TRYTES, out += IK_HASH_TRYTES) {
        ik_kerl_squeeze(&ctx, chunk, IK_HASH_TRITS);
        ik_trits_to_trytes(chunk, IK_HASH_TRITS, out);
    }
    return IK_OK;
}
