/* lanes.c - Curl-P sponges and hash chains of several messages at once, byte-sliced across messages [§3, §9.2]: one
 * sponge (or chain) per lane, each taking its own chunks (absorbed, or unmasked as ik_mam_unmask does), every lane's
 * transform in the same rounds (lanes_kernel.inc's byte-sliced rounds, per SIMD width). ik_mam_parse_many runs the
 * unmasking, digest and fold sponges of its payloads on it (byte-wise about 70 transforms per payload at security 1)
 * and ik_curl_chains_many its Winternitz chains.
 *
 * Per step and group of 8 lanes: the chunks go into natural-order bytes (ikp_sliced_in), an unmasking subtracts the
 * rate gathered from the state's permuted layout (bit-sliced, 64 lane trits per word operation) and gives its
 * plaintext back to the lanes (ikp_sliced_out), the new rate goes back into the layout (only the trits each lane's
 * chunk covers), then one transform runs on all lanes. */
#include "pow_internal.h"

#include <string.h>

#define RATE_BYTES 256 /* the natural-order rate of a group, per plane (243 used; words of 8 run over 248) */
#define ROW_BYTES 256

static const int8_t zero_row[IK_HASH_TRITS];

static size_t stride_of(unsigned vb)
{
    return ((size_t)IK_CURL_STATE_TRITS + vb + 63u) & ~(size_t)63u;
}

static size_t unit_bytes(unsigned vb, unsigned groups)
{
    return (size_t)groups * (4u * stride_of(vb) + 4u * RATE_BYTES + 8u * ROW_BYTES) + 63u;
}

/* Width simd's functions (IK_SIMD_AUTO: the widest this CPU runs); 0 when this build or CPU has not got it. */
static int width_of(ikl_unit *u, ik_simd simd)
{
    if (simd == IK_SIMD_AUTO) {
        simd = ik_pow_simd_best();
    }
    if (!ik_pow_simd_supported(simd)) {
        return 0;
    }
    switch (simd) {
#if defined(__x86_64__) || defined(__i386__)
    case IK_SIMD_SSE2:
        u->rounds = ikp_sliced_rounds_sse2;
        u->in = ikp_sliced_in_sse2;
        u->out = ikp_sliced_out_sse2;
        u->vb = 16;
        return 1;
    case IK_SIMD_AVX2:
        u->rounds = ikp_sliced_rounds_avx2;
        u->in = ikp_sliced_in_avx2;
        u->out = ikp_sliced_out_avx2;
        u->vb = 32;
        return 1;
    case IK_SIMD_AVX512:
        u->rounds = ikp_sliced_rounds_avx512;
        u->in = ikp_sliced_in_avx512;
        u->out = ikp_sliced_out_avx512;
        u->vb = 64; /* 512-bit vectors (pow_x86.c) */
        return 1;
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
    case IK_SIMD_NEON:
        u->rounds = ikp_sliced_rounds_neon;
        u->in = ikp_sliced_in_neon;
        u->out = ikp_sliced_out_neon;
        u->vb = 16;
        return 1;
#endif
    case IK_SIMD_PORTABLE:
        u->rounds = ikp_sliced_rounds_portable;
        u->in = ikp_sliced_in_portable;
        u->out = ikp_sliced_out_portable;
        u->vb = ik_pow_simd_lanes(IK_SIMD_PORTABLE) / 8; /* pow.c's portable word */
        return 1;
    default:
        return 0;
    }
}

size_t ikl_work_bytes(unsigned groups)
{
    ikl_unit u;
    return width_of(&u, IK_SIMD_AUTO) ? unit_bytes(u.vb, groups) : 0;
}

unsigned ikl_init(ikl_unit *u, void *work, size_t work_bytes, size_t lanes, unsigned rounds, ik_simd simd)
{
    uint8_t *base = (uint8_t *)(((uintptr_t)work + 63u) & ~(uintptr_t)63u);
    unsigned groups = lanes > 8 * IKL_MAX_GROUPS ? IKL_MAX_GROUPS : (unsigned)((lanes + 7) / 8);
    if (!width_of(u, simd)) {
        return 0;
    }
    if (groups == 0) {
        groups = 1;
    }
    while (groups > 0 && unit_bytes(u->vb, groups) > work_bytes) {
        groups--;
    }
    if (groups == 0) {
        return 0;
    }
    u->groups = groups;
    u->m = 1;
    u->n_rounds = rounds;
    u->stride = stride_of(u->vb);
    u->state = base;
    u->spare = u->state + 2 * groups * u->stride;
    u->rate = u->spare + 2 * groups * u->stride;
    u->chunk = u->rate + 2 * groups * RATE_BYTES;
    u->rows = (int8_t *)(u->chunk + 2 * groups * RATE_BYTES);
    memset(u->state, 0xff, 2 * groups * u->stride); /* trit 0 is (1, 1) */
    memset(u->rate, 0, 4 * groups * RATE_BYTES);     /* the words past trit 242 read defined bytes */
    return 8 * groups;
}

/* Trits 0..242 of the rate from the layout (trit t at byte m t mod 729) into natural order. */
static void gather(const uint8_t *lo, const uint8_t *hi, unsigned m, uint8_t *rlo, uint8_t *rhi)
{
    unsigned t;
    unsigned pos = 0;
    for (t = 0; t < IK_HASH_TRITS; t++) {
        rlo[t] = lo[pos];
        rhi[t] = hi[pos];
        pos = pos + m >= IK_CURL_STATE_TRITS ? pos + m - IK_CURL_STATE_TRITS : pos + m;
    }
}

/* Rate trits t of the lanes in active (bit b: n[b] > t) from clo, chi into the layout; the other lanes keep theirs. */
static void scatter(uint8_t *lo, uint8_t *hi, unsigned m, const uint8_t *clo, const uint8_t *chi, unsigned active,
                    const uint16_t n[8])
{
    unsigned t = 0;
    unsigned pos = 0;
    while (active) {
        unsigned stop = IK_HASH_TRITS;
        unsigned b;
        for (b = 0; b < 8; b++) {
            if ((active >> b) & 1u) {
                stop = n[b] < stop ? n[b] : stop;
            }
        }
        if (active == 0xffu) {
            for (; t < stop; t++) {
                lo[pos] = clo[t];
                hi[pos] = chi[t];
                pos = pos + m >= IK_CURL_STATE_TRITS ? pos + m - IK_CURL_STATE_TRITS : pos + m;
            }
        } else {
            uint8_t keep = (uint8_t)~active;
            for (; t < stop; t++) {
                lo[pos] = (uint8_t)((clo[t] & active) | (lo[pos] & keep));
                hi[pos] = (uint8_t)((chi[t] & active) | (hi[pos] & keep));
                pos = pos + m >= IK_CURL_STATE_TRITS ? pos + m - IK_CURL_STATE_TRITS : pos + m;
            }
        }
        for (b = 0; b < 8; b++) {
            if (((active >> b) & 1u) && n[b] <= stop) {
                active &= ~(1u << b);
            }
        }
    }
}

/* c = c - r (trit-wise, balanced) for the lanes in unmask, bit-sliced over 8 trits x 8 lanes a word: with n, z, p the
 * planes of -1, 0, +1, the difference is +1 for (c, r) = (-1, +1), (0, -1), (+1, 0) and -1 for (-1, 0), (0, +1),
 * (+1, -1). */
static void subtract(uint8_t *clo, uint8_t *chi, const uint8_t *rlo, const uint8_t *rhi, unsigned unmask)
{
    const uint64_t um = (uint64_t)unmask * 0x0101010101010101ull;
    unsigned j;
    for (j = 0; j < RATE_BYTES; j += 8) {
        uint64_t cl;
        uint64_t ch;
        uint64_t rl;
        uint64_t rh;
        uint64_t plus;
        uint64_t minus;
        memcpy(&cl, clo + j, 8);
        memcpy(&ch, chi + j, 8);
        memcpy(&rl, rlo + j, 8);
        memcpy(&rh, rhi + j, 8);
        plus = (~ch & ~rl) | (cl & ch & ~rh) | (~cl & rl & rh);
        minus = (~ch & rl & rh) | (cl & ch & ~rl) | (~cl & ~rh);
        cl = (~plus & um) | (cl & ~um);
        ch = (~minus & um) | (ch & ~um);
        memcpy(clo + j, &cl, 8);
        memcpy(chi + j, &ch, 8);
    }
}

void ikl_step(ikl_unit *u, const ikl_op *ops, unsigned lanes)
{
    unsigned g;
    for (g = 0; g < u->groups && 8 * g < lanes; g++) {
        const ikl_op *o = ops + 8 * g;
        unsigned count = lanes - 8 * g < 8 ? lanes - 8 * g : 8;
        uint8_t *lo = u->state + 2 * g * u->stride;
        uint8_t *hi = lo + u->stride;
        uint8_t *rlo = u->rate + 2 * g * RATE_BYTES;
        uint8_t *rhi = rlo + RATE_BYTES;
        uint8_t *clo = u->chunk + 2 * g * RATE_BYTES;
        uint8_t *chi = clo + RATE_BYTES;
        int8_t *tmp = u->rows + 8 * g * ROW_BYTES;
        const int8_t *in_rows[8];
        int8_t *out_rows[8];
        uint16_t n[8];
        unsigned active = 0;
        unsigned unmask = 0;
        unsigned reset = 0;
        unsigned chain = 0;
        unsigned b;
        for (b = 0; b < 8; b++) {
            const ikl_op *p = &o[b];
            in_rows[b] = zero_row;
            out_rows[b] = NULL;
            n[b] = 0;
            if (b >= count) {
                continue;
            }
            reset |= (p->reset ? 1u : 0u) << b;
            chain |= (p->chain ? 1u : 0u) << b;
            if (!p->src) {
                continue;
            }
            active |= 1u << b;
            unmask |= (p->dst ? 1u : 0u) << b;
            n[b] = p->n;
            if (p->n == IK_HASH_TRITS) {
                in_rows[b] = p->src;
                out_rows[b] = p->dst;
            } else {
                int8_t *row = tmp + b * ROW_BYTES;
                memcpy(row, p->src, p->n);
                memset(row + p->n, 0, IK_HASH_TRITS - p->n);
                in_rows[b] = row;
                out_rows[b] = row;
            }
        }
        if (reset) {
            const size_t len = IK_CURL_STATE_TRITS + u->vb;
            size_t i;
            for (i = 0; i < len; i++) {
                lo[i] |= (uint8_t)reset;
                hi[i] |= (uint8_t)reset;
            }
        }
        if (active) {
            u->in(in_rows, clo, chi);
            if (unmask) {
                gather(lo, hi, u->m, rlo, rhi);
                subtract(clo, chi, rlo, rhi, unmask);
                u->out(clo, chi, out_rows, unmask);
                for (b = 0; b < 8; b++) {
                    if (((unmask >> b) & 1u) && n[b] < IK_HASH_TRITS) {
                        memcpy(o[b].dst, out_rows[b], n[b]);
                    }
                }
            }
            scatter(lo, hi, u->m, clo, chi, active, n);
        }
        if (chain) { /* the capacity's trits to 0 */
            const unsigned m = u->m;
            unsigned t;
            unsigned pos = (unsigned)((IK_HASH_TRITS * m) % IK_CURL_STATE_TRITS);
            for (t = IK_HASH_TRITS; t < IK_CURL_STATE_TRITS; t++) {
                lo[pos] |= (uint8_t)chain;
                hi[pos] |= (uint8_t)chain;
                pos = pos + m >= IK_CURL_STATE_TRITS ? pos + m - IK_CURL_STATE_TRITS : pos + m;
            }
        }
        memcpy(lo + IK_CURL_STATE_TRITS, lo, u->vb); /* the repeated head (lanes_kernel.inc) */
        memcpy(hi + IK_CURL_STATE_TRITS, hi, u->vb);
    }
    u->m = u->rounds(&u->state, &u->spare, u->groups, u->stride, u->m, u->n_rounds, NULL);
}

void ikl_rate(ikl_unit *u, int8_t *const *rows, unsigned lanes)
{
    unsigned g;
    for (g = 0; g < u->groups && 8 * g < lanes; g++) {
        const uint8_t *lo = u->state + 2 * g * u->stride;
        uint8_t *rlo = u->rate + 2 * g * RATE_BYTES;
        int8_t *out_rows[8];
        unsigned mask = 0;
        unsigned b;
        for (b = 0; b < 8; b++) {
            out_rows[b] = 8 * g + b < lanes ? rows[8 * g + b] : NULL;
            mask |= (out_rows[b] ? 1u : 0u) << b;
        }
        if (mask) {
            gather(lo, lo + u->stride, u->m, rlo, rlo + RATE_BYTES);
            u->out(rlo, rlo + RATE_BYTES, out_rows, mask);
        }
    }
}

/* ---- hash chains (ik_curl_chain), byte-sliced ----
 * A chain keeps its state in the permuted layout from one link to the next: a link's capacity goes back to zero
 * trits by OR-ing a mask of the layout's capacity bytes, and the rate is gathered only once a lane's last link is
 * done. With rounds a multiple of 27 the links start in one of 9 layouts (364^27 has order 9 modulo 729), whose masks
 * are made once per unit; otherwise the mask is made for every link. */
#define LAYOUTS 9

/* The capacity bytes of layout m (0xff where a capacity trit sits, 0 at the rate's), stride bytes. */
static void capacity_mask(const ikl_unit *u, unsigned m, uint8_t *cm)
{
    unsigned t;
    unsigned pos = 0;
    memset(cm, 0xff, u->stride);
    for (t = 0; t < IK_HASH_TRITS; t++) {
        cm[pos] = 0;
        pos = pos + m >= IK_CURL_STATE_TRITS ? pos + m - IK_CURL_STATE_TRITS : pos + m;
    }
    memcpy(cm + IK_CURL_STATE_TRITS, cm, u->vb);
}

size_t ikl_chains_work_bytes(ik_simd simd)
{
    ikl_unit u;
    if (!width_of(&u, simd)) {
        return 0;
    }
    return unit_bytes(u.vb, IKL_MAX_GROUPS) + LAYOUTS * stride_of(u.vb);
}

unsigned ikl_init_chains(ikl_unit *u, void *work, size_t work_bytes, size_t lanes, unsigned rounds, ik_simd simd)
{
    ikl_unit probe;
    size_t masks_bytes;
    unsigned cap;
    unsigned i;
    unsigned m = 1;
    if (!width_of(&probe, simd)) {
        return 0;
    }
    masks_bytes = LAYOUTS * stride_of(probe.vb);
    if (work_bytes < masks_bytes) {
        return 0;
    }
    cap = ikl_init(u, work, work_bytes - masks_bytes, lanes, rounds, simd);
    if (cap == 0) {
        return 0;
    }
    u->masks = (uint8_t *)u->rows + 8 * u->groups * ROW_BYTES; /* after the unit: ikl_init left them room */
    for (i = 0; i < LAYOUTS && rounds % 27 == 0; i++) {
        unsigned r;
        capacity_mask(u, m, u->masks + i * u->stride);
        for (r = 0; r < rounds; r++) {
            m = (364u * m) % 729u;
        }
    }
    return cap;
}

void ikl_chains(ikl_unit *u, int8_t *const *rows, const uint8_t *times, unsigned count)
{
    unsigned groups = (count + 7) / 8;
    unsigned k = 0;
    unsigned s;
    unsigned g;
    for (g = 0; g < groups; g++) { /* the rates in, natural order: layout 1, capacity zero */
        const int8_t *in_rows[8];
        uint8_t *lo = u->state + 2 * g * u->stride;
        unsigned b;
        for (b = 0; b < 8; b++) {
            in_rows[b] = 8 * g + b < count ? rows[8 * g + b] : zero_row;
        }
        u->in(in_rows, lo, lo + u->stride);
        memset(lo + IK_HASH_TRITS, 0xff, u->stride - IK_HASH_TRITS);
        memset(lo + u->stride + IK_HASH_TRITS, 0xff, u->stride - IK_HASH_TRITS);
        memcpy(u->rate + 2 * g * RATE_BYTES, lo, IK_HASH_TRITS);
        memcpy(u->rate + (2 * g + 1) * RATE_BYTES, lo + u->stride, IK_HASH_TRITS);
        memcpy(lo + IK_CURL_STATE_TRITS, lo, u->vb);
        memcpy(lo + u->stride + IK_CURL_STATE_TRITS, lo + u->stride, u->vb);
    }
    u->m = 1;
    while (groups > 0 && times[8 * (groups - 1)] == 0) { /* groups without a link */
        groups--;
    }
    for (s = 0; groups > 0; s++) {
        const uint8_t *cm = NULL; /* from the second link on, the capacity back to zero trits as round 1 reads it */
        if (s > 0) {
            cm = u->masks + k * u->stride;
            if (u->n_rounds % 27 != 0) {
                capacity_mask(u, u->m, u->masks);
                cm = u->masks;
            }
        }
        u->m = u->rounds(&u->state, &u->spare, groups, u->stride, u->m, u->n_rounds, cm);
        k = k + 1 == LAYOUTS ? 0 : k + 1;
        for (g = 0; g < groups; g++) { /* lanes whose last link this was keep their rate */
            const uint8_t *lo = u->state + 2 * g * u->stride;
            uint8_t *rlo = u->rate + 2 * g * RATE_BYTES;
            uint8_t *rhi = rlo + RATE_BYTES;
            unsigned done = 0;
            unsigned b;
            for (b = 0; b < 8 && 8 * g + b < count; b++) {
                done |= (times[8 * g + b] == s + 1 ? 1u : 0u) << b;
            }
            if (done) {
                unsigned t;
                unsigned pos = 0;
                uint8_t keep = (uint8_t)~done;
                for (t = 0; t < IK_HASH_TRITS; t++) {
                    rlo[t] = (uint8_t)((lo[pos] & done) | (rlo[t] & keep));
                    rhi[t] = (uint8_t)((lo[u->stride + pos] & done) | (rhi[t] & keep));
                    pos = pos + u->m >= IK_CURL_STATE_TRITS ? pos + u->m - IK_CURL_STATE_TRITS : pos + u->m;
                }
            }
        }
        while (groups > 0 && times[8 * (groups - 1)] <= s + 1) {
            groups--;
        }
    }
    for (g = 0; 8 * g < count; g++) {
        const uint8_t *rlo = u->rate + 2 * g * RATE_BYTES;
        u->out(rlo, rlo + RATE_BYTES, rows + 8 * g, count - 8 * g >= 8 ? 0xffu : (1u << (count - 8 * g)) - 1u);
    }
}
