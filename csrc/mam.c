/* mam.c - MAM v0 over Curl-P-27: the duplex mask/unmask of a payload and the Merkle leaf a Winternitz signature
 * opens to [§9.3]. The chains, tree and sponges are those of mam.js (signing/iss-p27.ts, mam/parser.ts). A batch
 * (ik_mam_parse_many) runs its sponges, chains, digests and folds across payloads on lanes.c. */
#include "pow_internal.h" /* ikp_chains_many, lanes.c */

#include <string.h>

#define MAM_ROUNDS 27
#define SEGMENTS 27

/* Balanced trit of a sum or difference of two trits (-2..2). */
static int8_t trit_wrap(int v)
{
    return (int8_t)(v > 1 ? v - 3 : (v < -1 ? v + 3 : v));
}

void ik_mam_mask(ik_curl *ctx, int8_t *buf, size_t len)
{
    int8_t key[IK_HASH_TRITS];
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        size_t i;
        memcpy(key, ctx->state, n);
        memcpy(ctx->state, buf, n); /* absorb the plaintext chunk (a short one overwrites its prefix) */
        ik_curl_transform(ctx->state, ctx->rounds);
        for (i = 0; i < n; i++) {
            buf[i] = trit_wrap(buf[i] + key[i]);
        }
        buf += n;
        len -= n;
    }
}

void ik_mam_unmask(ik_curl *ctx, int8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < IK_HASH_TRITS ? len : IK_HASH_TRITS;
        size_t i;
        for (i = 0; i < n; i++) {
            buf[i] = trit_wrap(buf[i] - ctx->state[i]);
        }
        memcpy(ctx->state, buf, n);
        ik_curl_transform(ctx->state, ctx->rounds);
        buf += n;
        len -= n;
    }
}

ik_status ik_mam_leaf(const int8_t hmac[IK_HASH_TRITS], const int8_t *signature, unsigned security,
                      int8_t leaf[IK_HASH_TRITS])
{
    ik_curl digest;
    int8_t chains[2][IK_CURL_STATE_TRITS];
    unsigned times[2];
    unsigned j;
    unsigned k;
    unsigned n;
    if (security < 1 || security > IK_MAX_SECURITY) {
        return IK_ERR_VALUE;
    }
    for (j = 0; j < IK_HASH_TRITS; j++) {
        if (hmac[j] < -1 || hmac[j] > 1) {
            return IK_ERR_TRIT;
        }
    }
    ik_curl_init(&digest, MAM_ROUNDS);
    for (j = 0; j < SEGMENTS * security; j += n) { /* two segments at a time: ik_curl_chains interleaves them */
        n = j + 1 < SEGMENTS * security ? 2 : 1;
        for (k = 0; k < n; k++) {
            const int8_t *t = hmac + 3 * (j + k);
            memcpy(chains[k], signature + (size_t)(j + k) * IK_HASH_TRITS, IK_HASH_TRITS);
            times[k] = (unsigned)(13 + t[0] + 3 * t[1] + 9 * t[2]); /* to the public key segment */
        }
        ik_curl_chains(chains[0], n, times, MAM_ROUNDS);
        for (k = 0; k < n; k++) {
            ik_curl_absorb(&digest, chains[k], IK_HASH_TRITS);
        }
    }
    memcpy(chains[0], digest.state, IK_HASH_TRITS);
    ik_curl_chain(chains[0], 1, MAM_ROUNDS);
    memcpy(leaf, chains[0], IK_HASH_TRITS);
    return IK_OK;
}

void ik_mam_fold(int8_t node[IK_HASH_TRITS], const int8_t *siblings, unsigned depth, uint64_t index)
{
    ik_curl c;
    unsigned b;
    for (b = 0; b < depth; b++) {
        const int8_t *sibling = siblings + (size_t)b * IK_HASH_TRITS;
        int right = b < 64 && ((index >> b) & 1u);
        ik_curl_init(&c, MAM_ROUNDS);
        ik_curl_absorb(&c, right ? sibling : node, IK_HASH_TRITS);
        ik_curl_absorb(&c, right ? node : sibling, IK_HASH_TRITS);
        memcpy(node, c.state, IK_HASH_TRITS);
    }
}

/* ---- whole verification of a payload (iota_edge.streams.parser.parse_payload) ------------------------------- */

#define PASCAL_MAX_TRYTES 13 /* |value| < 27^13 / 2 < 2^61: the Python decoder takes 14, whose value may not fit */

/* A pascal integer at buf[pos..end) (mam.py pascal_decode): 0 as its 4-trit form, else value trytes up to the first
 * positive one, then one encoder trit per value tryte holding a number in 0 .. 2^m - 1 whose bit i negates tryte i;
 * the value must not be negative. Such an encoding is always the canonical one (bar the bits of zero trytes, which
 * either library may set), so no re-encoding is needed. 1 with *value and *next, or 0 where Python raises (or, for
 * 14 value trytes, might not: the caller then asks Python). */
static int pascal_decode(const int8_t *buf, size_t pos, size_t end, uint64_t *value, size_t *next)
{
    size_t p = pos;
    size_t m;
    size_t i;
    int64_t encoder = 0;
    int64_t sum = 0;
    int64_t scale = 1;
    if (pos > end) {
        return 0;
    }
    if (end - pos >= 4 && buf[pos] == 1 && buf[pos + 1] == 0 && buf[pos + 2] == 0 && buf[pos + 3] == -1) {
        *value = 0;
        *next = pos + 4;
        return 1;
    }
    for (;;) {
        if (end - p < 3 || p - pos >= 3 * PASCAL_MAX_TRYTES) {
            return 0;
        }
        p += 3;
        if (buf[p - 3] + 3 * buf[p - 2] + 9 * buf[p - 1] > 0) {
            break;
        }
    }
    m = (p - pos) / 3;
    if (end - p < m) {
        return 0;
    }
    for (i = m; i-- > 0;) {
        encoder = 3 * encoder + buf[p + i];
    }
    if (encoder < 0 || encoder >= ((int64_t)1 << m)) {
        return 0;
    }
    for (i = 0; i < m; i++) {
        const int8_t *t = buf + pos + 3 * i;
        int v = t[0] + 3 * t[1] + 9 * t[2];
        sum += scale * (((encoder >> i) & 1) ? -v : v);
        scale *= 27;
    }
    if (sum < 0) {
        return 0;
    }
    *value = (uint64_t)sum;
    *next = p + m;
    return 1;
}

/* mam.js checksumSecurity: the level L whose first 81 L trits sum to zero (no shorter such prefix), or 0. */
static unsigned security_of(const int8_t rate[IK_HASH_TRITS])
{
    int s = 0;
    unsigned i = 0;
    unsigned level;
    for (level = 1; level <= IK_MAX_SECURITY; level++) {
        for (; i < IK_NONCE_TRITS * level; i++) {
            s += rate[i];
        }
        if (s == 0) {
            return level;
        }
    }
    return 0;
}

static ik_status mam_refuse(ik_mam_parsed *out, ik_mam_reason reason)
{
    out->reason = (uint32_t)reason;
    return IK_ERR_MISMATCH;
}

/* What phase 1 of a verification (parse_head) leaves for the leaf and the rest. */
typedef struct {
    int8_t hmac[IK_HASH_TRITS];
    int8_t node[IK_HASH_TRITS]; /* the root's trits */
    uint64_t index;
    uint64_t length;
    uint64_t depth;
    size_t end;                 /* 3 n */
    size_t p_next;
    size_t p_msg;
    size_t p_nonce;
    size_t p_rest;
    size_t p_sib;
    unsigned security;          /* 0: the message hash has none */
} mam_head;

/* Up to the sponge: the key, the trits, the pascal header and its bounds. IK_OK when the sponge is to run. */
static ik_status head_begin(const char *payload, size_t n, const char root[IK_HASH_TRYTES],
                            const int8_t key[IK_HASH_TRITS], int8_t *work, ik_mam_parsed *out, mam_head *h)
{
    const size_t end = 3 * n;
    size_t p;
    size_t i;
    memset(out, 0, sizeof *out);
    for (i = 0; i < IK_HASH_TRITS; i++) {
        if (key[i] < -1 || key[i] > 1) {
            return IK_ERR_TRIT;
        }
    }
    if (ik_trytes_to_trits(payload, n, work) != IK_OK ||
        ik_trytes_to_trits(root, IK_HASH_TRYTES, h->node) != IK_OK) {
        return IK_ERR_TRYTE;
    }
    if (!pascal_decode(work, 0, end, &h->index, &p) || !pascal_decode(work, p, end, &h->length, &h->p_next) ||
        h->length % 3 != 0) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    if (end - h->p_next < IK_HASH_TRITS + IK_NONCE_TRITS ||
        h->length > end - h->p_next - IK_HASH_TRITS - IK_NONCE_TRITS) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    h->end = end;
    h->p_msg = h->p_next + IK_HASH_TRITS;
    h->p_nonce = h->p_msg + (size_t)h->length;
    h->p_rest = h->p_nonce + IK_NONCE_TRITS;
    return IK_OK;
}

/* After the sponge (h->hmac and h->security set; the rest unmasked when there is a security): everything up to the
 * leaf. IK_OK when the signature is left to check. */
static ik_status head_end(const char *payload, size_t n, const int8_t *work, ik_mam_parsed *out, mam_head *h)
{
    const size_t end = h->end;
    size_t p_count;
    size_t p_end;
    size_t i;
    if (h->security == 0) {
        return mam_refuse(out, IK_MAM_NONCE);
    }
    if ((end - h->p_rest) / IK_FRAGMENT_TRITS < h->security) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    p_count = h->p_rest + (size_t)h->security * IK_FRAGMENT_TRITS;
    if (!pascal_decode(work, p_count, end, &h->depth, &h->p_sib) || h->depth > (end - h->p_sib) / IK_HASH_TRITS) {
        return mam_refuse(out, IK_MAM_DECODE);
    }
    p_end = h->p_sib + (size_t)h->depth * IK_HASH_TRITS;
    if (h->depth < 64 && (h->index >> h->depth) != 0) {
        return mam_refuse(out, IK_MAM_INDEX);
    }
    /* What follows the siblings was never masked: zero trits to a whole tryte, then 9s (from the caller's trytes,
     * as work is unmasked there). */
    if (p_end % 3 != 0) {
        int8_t t[3];
        (void)ik_trytes_to_trits(payload + p_end / 3, 1, t);
        for (i = p_end % 3; i < 3; i++) {
            if (t[i] != 0) {
                return mam_refuse(out, IK_MAM_DECODE);
            }
        }
    }
    for (i = (p_end + 2) / 3; i < n; i++) {
        if (payload[i] != '9') {
            return mam_refuse(out, IK_MAM_DECODE);
        }
    }
    return IK_OK;
}

/* The sponge of a verification, byte-wise: key | root | header absorbed, next root, message and nonce unmasked, the
 * message hash and its security, and when it has one the rest unmasked (signature, sibling count, siblings, padding:
 * one masked stream, as mam.js). */
static void head_sponge(const int8_t key[IK_HASH_TRITS], int8_t *work, mam_head *h)
{
    ik_curl c;
    ik_curl_init(&c, MAM_ROUNDS);
    ik_curl_absorb(&c, key, IK_HASH_TRITS);
    ik_curl_absorb(&c, h->node, IK_HASH_TRITS);
    ik_curl_absorb(&c, work, h->p_next);
    ik_mam_unmask(&c, work + h->p_next, IK_HASH_TRITS);
    ik_mam_unmask(&c, work + h->p_msg, (size_t)h->length);
    ik_mam_unmask(&c, work + h->p_nonce, IK_NONCE_TRITS);
    memcpy(h->hmac, c.state, IK_HASH_TRITS);
    h->security = security_of(h->hmac);
    if (h->security != 0) {
        ik_mam_unmask(&c, work + h->p_rest, h->end - h->p_rest);
    }
}

/* Everything up to the leaf: IK_OK when the signature is left to check (h filled in), else the refusal. */
static ik_status parse_head(const char *payload, size_t n, const char root[IK_HASH_TRYTES],
                            const int8_t key[IK_HASH_TRITS], int8_t *work, ik_mam_parsed *out, mam_head *h)
{
    ik_status st = head_begin(payload, n, root, key, work, out, h);
    if (st != IK_OK) {
        return st;
    }
    head_sponge(key, work, h);
    return head_end(payload, n, work, out, h);
}

/* After the fold (node: the root the signature and siblings lead to): compare with the root, outputs. */
static ik_status parse_tail(const mam_head *h, const int8_t node[IK_HASH_TRITS], const int8_t *work, char *message,
                            char next_root[IK_HASH_TRYTES], ik_mam_parsed *out)
{
    if (memcmp(node, h->node, IK_HASH_TRITS) != 0) {
        return mam_refuse(out, IK_MAM_SIGNATURE);
    }
    (void)ik_trits_to_trytes(work + h->p_msg, (size_t)h->length, message);
    (void)ik_trits_to_trytes(work + h->p_next, IK_HASH_TRITS, next_root);
    out->reason = IK_MAM_VERIFIED;
    out->index = h->index;
    out->security = h->security;
    out->depth = (uint32_t)h->depth;
    out->message_trytes = (size_t)h->length / 3;
    return IK_OK;
}

ik_status ik_mam_parse(const char *payload, size_t n, const char root[IK_HASH_TRYTES],
                       const int8_t key[IK_HASH_TRITS], int8_t *work, char *message,
                       char next_root[IK_HASH_TRYTES], ik_mam_parsed *out)
{
    mam_head h;
    int8_t leaf[IK_HASH_TRITS];
    ik_status st = parse_head(payload, n, root, key, work, out, &h);
    if (st != IK_OK) {
        return st;
    }
    if (ik_mam_leaf(h.hmac, work + h.p_rest, h.security, leaf) != IK_OK) {
        return mam_refuse(out, IK_MAM_SIGNATURE);
    }
    ik_mam_fold(leaf, work + h.p_sib, (unsigned)h.depth, h.index);
    return parse_tail(&h, leaf, work, message, next_root, out);
}

/* ---- a batch of payloads: chains and sponges across payloads ------------------------------------------- */

/* The leaf from the chain ends (security * 27 chunks of 243 trits): ik_mam_leaf after its chains. */
static void leaf_of_ends(const int8_t *ends, unsigned security, int8_t leaf[IK_HASH_TRITS])
{
    ik_curl digest;
    int8_t state[IK_CURL_STATE_TRITS];
    ik_curl_init(&digest, MAM_ROUNDS);
    ik_curl_absorb(&digest, ends, (size_t)SEGMENTS * security * IK_HASH_TRITS);
    memcpy(state, digest.state, IK_HASH_TRITS);
    ik_curl_chain(state, 1, MAM_ROUNDS);
    memcpy(leaf, state, IK_HASH_TRITS);
}

/* The scratch of ik_mam_parse_many: the byte planes of the chains and of the sponges (ik_curl_chains_work_bytes,
 * when there is room), then a pass's chains (243 trits each) growing up, their link counts copied after them for the
 * chains, and one record per payload of the window growing down from the end. */
typedef struct {
    mam_head h;
    int8_t leaf[IK_HASH_TRITS];
    size_t chain_at;  /* its first chain among the pass's */
    uint32_t steps;   /* steps of its sponge (phase 1), or of its digest and fold (phase 3): lanes of about as many
                         go together */
    uint8_t taken;    /* picked for a unit of lanes already (or nothing to run) */
    uint8_t times[SEGMENTS * IK_MAX_SECURITY];
} many_record;

#define MANY_CHUNK_BYTES (IK_HASH_TRITS + 1) /* a chain's trits and its link count */
#define MANY_ITEM_BYTES (SEGMENTS * IK_MAX_SECURITY * MANY_CHUNK_BYTES + sizeof(many_record))

size_t ik_mam_parse_many_scratch(size_t m, unsigned security)
{
    size_t segments = SEGMENTS * (security >= 1 && security <= IK_MAX_SECURITY ? security : IK_MAX_SECURITY);
    if (m == 0) {
        m = 1;
    }
    /* the last payload of a pass is let in while a whole security-3 signature still fits */
    return ik_curl_chains_work_bytes() + ((m - 1) * segments + SEGMENTS * IK_MAX_SECURITY) * MANY_CHUNK_BYTES +
           m * sizeof(many_record) + 2 * sizeof(uint64_t);
}

static size_t chunks_of(size_t len)
{
    return (len + IK_HASH_TRITS - 1) / IK_HASH_TRITS;
}

/* A payload's place in the sliced sponge of parse_head: segment seg (the calls of head_sponge, 0..6), trits off
 * into it. */
typedef struct {
    ik_mam_item *it;
    many_record *rec;
    unsigned seg;
    size_t off;
} head_lane;

/* The lane's next chunk into op, 0 when it has none left; *hmac_after when the message hash follows the step (the
 * nonce's chunk). The rest (segment 6) follows only a message hash with a security. */
static int head_chunk(head_lane *l, ikl_op *op, int *hmac_after)
{
    const mam_head *h = &l->rec->h;
    int8_t *work = l->it->work;
    memset(op, 0, sizeof *op);
    *hmac_after = 0;
    for (;;) {
        const int8_t *src = NULL;
        int8_t *dst = NULL;
        size_t len;
        switch (l->seg) {
        case 0: src = l->it->key; len = IK_HASH_TRITS; break;
        case 1: src = h->node; len = IK_HASH_TRITS; break;
        case 2: src = work; len = h->p_next; break;
        case 3: dst = work + h->p_next; len = IK_HASH_TRITS; break;
        case 4: dst = work + h->p_msg; len = (size_t)h->length; break;
        case 5: dst = work + h->p_nonce; len = IK_NONCE_TRITS; break;
        case 6:
            if (h->security == 0) {
                return 0;
            }
            dst = work + h->p_rest;
            len = h->end - h->p_rest;
            break;
        default: return 0;
        }
        if (l->off < len) {
            size_t k = len - l->off < IK_HASH_TRITS ? len - l->off : IK_HASH_TRITS;
            op->src = (dst ? dst : src) + l->off;
            op->dst = dst ? dst + l->off : NULL;
            op->n = (uint16_t)k;
            l->off += k;
            *hmac_after = l->seg == 5 && l->off == len;
            return 1;
        }
        l->seg++;
        l->off = 0;
    }
}

/* The sponges of count lanes (head_sponge's, bit for bit) at once: h->hmac, h->security, the work unmasked. */
static void heads_sliced(ikl_unit *u, head_lane *lanes, unsigned count)
{
    ikl_op ops[IKL_MAX_LANES];
    int8_t *hmac[IKL_MAX_LANES];
    unsigned l;
    for (;;) {
        int any = 0;
        int capture = 0;
        for (l = 0; l < count; l++) {
            int after;
            any |= head_chunk(&lanes[l], &ops[l], &after);
            hmac[l] = after ? lanes[l].rec->h.hmac : NULL;
            capture |= after;
        }
        if (!any) {
            return;
        }
        ikl_step(u, ops, count);
        if (capture) {
            ikl_rate(u, hmac, count);
            for (l = 0; l < count; l++) {
                if (hmac[l]) {
                    lanes[l].rec->h.security = security_of(hmac[l]);
                }
            }
        }
    }
}

/* Up to cap of the payloads i in [from, to) (records top - 1 - (i - base)) not taken yet, those of the most steps
 * (the first of equals), into index, taken from now on; returns how many. */
static unsigned pick(many_record *top, size_t base, size_t from, size_t to, unsigned cap, size_t *index)
{
    unsigned n = 0;
    unsigned k;
    size_t i;
    for (i = from; i < to; i++) {
        const many_record *rec = top - (i - base + 1);
        unsigned pos;
        if (rec->taken) {
            continue;
        }
        if (n < cap) {
            pos = n++;
        } else if (rec->steps <= (top - (index[cap - 1] - base + 1))->steps) {
            continue;
        } else {
            pos = cap - 1;
        }
        for (; pos > 0 && (top - (index[pos - 1] - base + 1))->steps < rec->steps; pos--) {
            index[pos] = index[pos - 1];
        }
        index[pos] = i;
    }
    for (k = 0; k < n; k++) {
        (top - (index[k] - base + 1))->taken = 1;
    }
    return n;
}

/* Phase 1 of count payloads (records top - 1, top - 2, ...): each up to its leaf, as parse_head; the sponges of up to
 * IKL_MAX_LANES payloads at a time, those of about as many chunks together, when work has room for a unit (else, and
 * for a lone payload, byte-wise). */
static void heads(ik_mam_item *items, size_t count, many_record *top, void *work, size_t work_bytes)
{
    size_t left = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        ik_mam_item *it = &items[i];
        many_record *rec = top - (i + 1);
        it->status = head_begin(it->payload, it->n, it->root, it->key, it->work, &it->parsed, &rec->h);
        rec->taken = it->status != IK_OK;
        if (!rec->taken) {
            rec->steps = (uint32_t)(2 + chunks_of(rec->h.p_next) + 1 + chunks_of((size_t)rec->h.length) + 1 +
                                    chunks_of(rec->h.end - rec->h.p_rest));
            left++;
        }
    }
    while (left > 0) {
        head_lane lanes[IKL_MAX_LANES];
        size_t index[IKL_MAX_LANES];
        ikl_unit u;
        unsigned cap = left > 1 && work ? ikl_init(&u, work, work_bytes, left, MAM_ROUNDS, IK_SIMD_AUTO) : 0;
        unsigned n = pick(top, 0, 0, count, cap ? cap : 1, index);
        unsigned l;
        for (l = 0; l < n; l++) {
            lanes[l].it = &items[index[l]];
            lanes[l].rec = top - (index[l] + 1);
            lanes[l].seg = 0;
            lanes[l].off = 0;
        }
        if (cap == 0) {
            head_sponge(lanes[0].it->key, lanes[0].it->work, &lanes[0].rec->h);
        } else {
            heads_sliced(&u, lanes, n);
        }
        for (l = 0; l < n; l++) {
            ik_mam_item *it = lanes[l].it;
            it->status = head_end(it->payload, it->n, it->work, &it->parsed, &lanes[l].rec->h);
        }
        left -= n;
    }
}

/* The digests and folds of count payloads at once (leaf_of_ends and ik_mam_fold of each, bit for bit): their chain
 * ends absorbed, one more link (the leaf), then per level of the tree a fresh sponge over (node | sibling) or
 * (sibling | node); the root they reach into rec->leaf. */
static void digests_sliced(ikl_unit *u, ik_mam_item *const *its, many_record *const *recs, unsigned count,
                           const int8_t *chains)
{
    ikl_op ops[IKL_MAX_LANES];
    int8_t *node[IKL_MAX_LANES];
    unsigned steps = 0;
    unsigned k;
    unsigned l;
    for (l = 0; l < count; l++) {
        steps = recs[l]->steps > steps ? recs[l]->steps : steps;
    }
    for (k = 0; k < steps; k++) {
        int capture = 0;
        for (l = 0; l < count; l++) {
            const mam_head *h = &recs[l]->h;
            unsigned segs = SEGMENTS * h->security;
            memset(&ops[l], 0, sizeof ops[l]);
            node[l] = NULL;
            if (k < segs) {
                ops[l].src = chains + (recs[l]->chain_at + k) * IK_HASH_TRITS;
                ops[l].n = IK_HASH_TRITS;
            } else if (k == segs) {
                ops[l].chain = 1;
                node[l] = recs[l]->leaf;
            } else if (k < recs[l]->steps) { /* level b of the fold, its first or second chunk */
                unsigned b = (k - segs - 1) / 2;
                int second = (k - segs - 1) % 2;
                int right = b < 64 && ((h->index >> b) & 1u);
                const int8_t *sibling = its[l]->work + h->p_sib + (size_t)b * IK_HASH_TRITS;
                ops[l].src = right != second ? sibling : recs[l]->leaf;
                ops[l].n = IK_HASH_TRITS;
                ops[l].reset = !second;
                node[l] = second ? recs[l]->leaf : NULL;
            }
            capture |= node[l] != NULL;
        }
        ikl_step(u, ops, count);
        if (capture) {
            ikl_rate(u, node, count);
        }
    }
}

/* Phase 3's digests and folds for the payloads of a pass (items from .. to - 1, records top - 1 - (i - base)): up to
 * IKL_MAX_LANES at a time, those of about as many steps together, or each byte-wise without room for a unit (and
 * a lone one). */
static void digests(ik_mam_item *items, size_t base, size_t from, size_t to, many_record *top, const int8_t *chains,
                    void *work, size_t work_bytes)
{
    size_t left = 0;
    size_t i;
    for (i = from; i < to; i++) {
        many_record *rec = top - (i - base + 1);
        rec->taken = items[i].status != IK_OK;
        if (!rec->taken) {
            rec->steps = (uint32_t)(SEGMENTS * rec->h.security + 1 + 2 * rec->h.depth);
            left++;
        }
    }
    while (left > 0) {
        ik_mam_item *its[IKL_MAX_LANES];
        many_record *recs[IKL_MAX_LANES];
        size_t index[IKL_MAX_LANES];
        ikl_unit u;
        unsigned cap = left > 1 && work ? ikl_init(&u, work, work_bytes, left, MAM_ROUNDS, IK_SIMD_AUTO) : 0;
        unsigned n = pick(top, base, from, to, cap ? cap : 1, index);
        unsigned l;
        for (l = 0; l < n; l++) {
            its[l] = &items[index[l]];
            recs[l] = top - (index[l] - base + 1);
        }
        if (cap == 0) {
            const mam_head *h = &recs[0]->h;
            leaf_of_ends(chains + recs[0]->chain_at * IK_HASH_TRITS, h->security, recs[0]->leaf);
            ik_mam_fold(recs[0]->leaf, its[0]->work + h->p_sib, (unsigned)h->depth, h->index);
        } else {
            digests_sliced(&u, its, recs, n, chains);
        }
        left -= n;
    }
}

ik_status ik_mam_parse_many(ik_mam_item *items, size_t m, void *scratch, size_t scratch_bytes)
{
    size_t chain_work = ik_curl_chains_work_bytes();
    size_t room;
    size_t done = 0;
    int8_t *chains;
    many_record *top;
    if (scratch_bytes < MANY_ITEM_BYTES + 2 * sizeof(uint64_t)) {
        return IK_ERR_LENGTH;
    }
    if (scratch_bytes < chain_work + MANY_ITEM_BYTES + 2 * sizeof(uint64_t)) {
        chain_work = 0; /* byte-wise chains and sponges */
    }
    chains = (int8_t *)scratch + chain_work;
    top = (many_record *)(((uintptr_t)scratch + scratch_bytes) & ~(uintptr_t)(sizeof(uint64_t) - 1));
    room = (size_t)((int8_t *)top - chains);
    while (done < m) {
        /* a window of payloads whose records fit beside one security-3 signature's chains */
        size_t end = done + 1;
        size_t avail;
        size_t cur;
        while (end < m && (end - done + 1) * sizeof(many_record) + SEGMENTS * IK_MAX_SECURITY * MANY_CHUNK_BYTES <=
                              room) {
            end++;
        }
        avail = room - (end - done) * sizeof(many_record);
        /* phase 1: up to the leaf */
        heads(items + done, end - done, top, chain_work ? scratch : NULL, chain_work);
        for (cur = done; cur < end;) {
            size_t run;
            size_t used = 0;
            size_t i;
            uint8_t *times;
            /* phase 2: the chains of as many payloads as fit, all at once */
            for (run = cur; run < end; run++) {
                ik_mam_item *it = &items[run];
                many_record *rec = top - (run - done + 1);
                unsigned j;
                if (it->status != IK_OK) {
                    continue;
                }
                if ((used + SEGMENTS * rec->h.security) * MANY_CHUNK_BYTES > avail) {
                    break;
                }
                memcpy(chains + used * IK_HASH_TRITS, it->work + rec->h.p_rest,
                       (size_t)rec->h.security * IK_FRAGMENT_TRITS);
                for (j = 0; j < SEGMENTS * rec->h.security; j++) {
                    const int8_t *t = rec->h.hmac + 3 * j;
                    rec->times[j] = (uint8_t)(13 + t[0] + 3 * t[1] + 9 * t[2]); /* to the public key segment */
                }
                rec->chain_at = used;
                used += SEGMENTS * rec->h.security;
            }
            times = (uint8_t *)(chains + used * IK_HASH_TRITS);
            used = 0;
            for (i = cur; i < run; i++) {
                const many_record *rec = top - (i - done + 1);
                if (items[i].status == IK_OK) {
                    memcpy(times + used, rec->times, SEGMENTS * rec->h.security);
                    used += SEGMENTS * rec->h.security;
                }
            }
            (void)ikp_chains_many(chains, used, times, MAM_ROUNDS, chain_work ? scratch : NULL, chain_work,
                                  IK_SIMD_AUTO);
            /* phase 3: digests, leaves, folds, outputs */
            digests(items, done, cur, run, top, chains, chain_work ? scratch : NULL, chain_work);
            for (i = cur; i < run; i++) {
                ik_mam_item *it = &items[i];
                many_record *rec = top - (i - done + 1);
                if (it->status == IK_OK) {
                    it->status = parse_tail(&rec->h, rec->leaf, it->work, it->message, it->next_root, &it->parsed);
                }
            }
            cur = run;
        }
        done = end;
    }
    return IK_OK;
}
