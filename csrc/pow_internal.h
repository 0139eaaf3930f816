/* pow_internal.h - private to the nonce search (pow.c and the per-width kernels), not installed. */
#ifndef IK_POW_INTERNAL_H
#define IK_POW_INTERNAL_H

#include "iota_kernel.h"

#include <string.h>

/* Nonce trit j lives at state[IKP_NONCE + j] of the last absorbed chunk [§3.4]. The nonce is split into:
 * lane trits (a fixed pattern per SIMD lane), counter trits (one batch after another), partition trits
 * (one value per searcher, so searchers never overlap), and the rest (kept from the caller's trytes). */
#define IKP_NONCE 162
#define IKP_LANE_TRITS 6 /* 3^6 = 729 >= 512 lanes */
#define IKP_CTR 6
#define IKP_CTR_TRITS 42
#define IKP_PART 48
#define IKP_PART_TRITS 9 /* 3^9 = 19683 partitions */
#define IKP_MAX_PARTS 19683u

/* Lane words of the AVX-512 kernel: 256 (ymm with AVX-512VL vpternlogq: its in-place state fits a 48 KiB L1;
 * measured faster here than 512, whose 93 KiB state streams from L2) or 512 (zmm). */
#ifndef IKP_AVX512_BITS
#define IKP_AVX512_BITS 256
#endif

/* One output of a partial round: out = S(src[a], src[b]) (slots of the source buffer, index of the result). */
typedef struct {
    uint16_t a;
    uint16_t b;
    uint16_t out;
} ikp_edge;

/* Round schedule of the in-place kernels (built per searcher, on its stack):
 * - head: rounds 1..IKP_HEAD_ROUNDS are cached per batch; when only the k <= IKP_HEAD_K lowest counter trits
 *   changed, only their cone of influence is recomputed (2, 4, 8, ... outputs per round for k = 1);
 * - body: full rounds, three per pass over the state (measured faster than two at every width here, also
 *   where its ~24 live vectors spill); the first pass reads the head's last cache, the others run in place,
 *   the second has the 1 or 2 rounds left over when the number is not a multiple of 3;
 * - tail: the last rounds compute only outputs that reach the mwm checked trits (14, 15, 17, 21, ... backwards). */
#define IKP_HEAD_ROUNDS 7 /* measured: 6..9 within a few %, 7 best; the partial steps cost ~4.6 body steps */
#define IKP_HEAD_K 3
#define IKP_HEAD_POOL 6144
#define IKP_TAIL_MAX 16
#define IKP_TAIL_POOL 2560
#define IKP_BODY_MAX 25   /* passes: at most 72 body rounds (mwm 0, no tail) */
#define IKP_WORK_TRITS 733 /* the in-place state and 4 scratch slots of the triple pass */

typedef struct {
    uint16_t head_start[IKP_HEAD_K][IKP_HEAD_ROUNDS + 1]; /* entries of round r for k+1 trits: [start[r-1], start[r]) */
    ikp_edge head[IKP_HEAD_POOL];
    unsigned body_passes;
    uint8_t body_rounds[IKP_BODY_MAX];     /* rounds of each body pass: 1, 2 or 3 */
    unsigned tail_rounds;
    unsigned hash_c;                       /* hash trit t is in slot (hash_c t + hash_d) mod 729 */
    unsigned hash_d;
    uint16_t tail_start[IKP_TAIL_MAX + 1];
    ikp_edge tail[IKP_TAIL_POOL];
    /* Slots (scaled) of each body pass, see pow_kernel.inc. Single round: step i reads slot[i] and
     * slot[i + 1] and writes slot[i]. Double pass: step i loads slot[i + 2] and stores slot[i]. Triple pass:
     * step i loads slot[i + 4] and stores slot[i]; slot[729 + e] = 729 + e, scratch slots after the state. */
    uint16_t slot[IKP_BODY_MAX][IKP_WORK_TRITS];
} ikp_plan;

/* Hosts (64-bit, x86, NEON) use the plan; 32-bit microcontrollers keep the small plain kernel. */
#if UINTPTR_MAX > 0xffffffffu || defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) ||             \
    defined(__ARM_NEON)
#define IKP_HAVE_PLAN 1
/* Fills plan for mwm; slot entries are slot * scale (byte offsets or a fraction of them, see pow_kernel.inc). */
void ikp_plan_build(ikp_plan *plan, unsigned mwm, unsigned scale);
#else
#define IKP_HAVE_PLAN 0
#endif

typedef struct {
    int8_t base[IK_CURL_STATE_TRITS]; /* Curl state after 32 chunks, last chunk copied into [0, 243),
                                         partition trits set, counter and lane trits zero */
    unsigned mwm;
    ik_pow_control *ctl;
} ikp_job;

/* Kernel result: 1 = found (nonce holds the winner's 81 nonce trits), 0 = stopped. *batches counts the
 * batches tried. */
typedef int (*ikp_kernel)(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);

int ikp_search_portable(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#if defined(__x86_64__) || defined(__i386__)
int ikp_search_sse2(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
int ikp_search_avx2(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
int ikp_search_avx512(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
int ikp_search_neon(const ikp_job *job, int8_t nonce[IK_NONCE_TRITS], uint64_t *batches);
#endif

/* Byte-sliced Curl-P (lanes_kernel.inc, driven by lanes.c): rounds of a state of groups x 8 lanes in the permuted
 * layout described there, and the conversions between 8 lane rows of 243 trits and one group's natural-order bytes. */
typedef unsigned (*ikp_sliced_rounds_fn)(uint8_t **state, uint8_t **spare, unsigned groups, size_t stride, unsigned m,
                                         unsigned rounds, const uint8_t *mask);
typedef void (*ikp_sliced_in_fn)(const int8_t *const rows[8], uint8_t *lo, uint8_t *hi);
typedef void (*ikp_sliced_out_fn)(const uint8_t *lo, const uint8_t *hi, int8_t *const rows[8], unsigned mask);
#define IKP_SLICED_DECLARE(sfx)                                                                                       \
    unsigned ikp_sliced_rounds_##sfx(uint8_t **state, uint8_t **spare, unsigned groups, size_t stride, unsigned m,     \
                                     unsigned rounds, const uint8_t *mask);                                           \
    void ikp_sliced_in_##sfx(const int8_t *const rows[8], uint8_t *lo, uint8_t *hi);                                  \
    void ikp_sliced_out_##sfx(const uint8_t *lo, const uint8_t *hi, int8_t *const rows[8], unsigned mask);
IKP_SLICED_DECLARE(portable)
#if defined(__x86_64__) || defined(__i386__)
IKP_SLICED_DECLARE(sse2)
IKP_SLICED_DECLARE(avx2)
IKP_SLICED_DECLARE(avx512)
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
IKP_SLICED_DECLARE(neon)
#endif

/* ---- Curl-P sponges of several messages at once (lanes.c) ----
 * A unit of up to IKL_MAX_GROUPS groups of 8 lanes, each lane one Curl-P sponge of its own, in the byte-sliced layout
 * of lanes_kernel.inc. A step gives every lane at most one chunk (an ikl_op), then transforms every lane's state, also
 * of the lanes that took none (a lane whose sponge is over just stops reading it). */
#if UINTPTR_MAX > 0xffffffffu || defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
#define IKL_MAX_GROUPS 4 /* a unit's states in L1 (26 KiB with 512-bit vectors) */
#else
#define IKL_MAX_GROUPS 2 /* 32-bit targets: the work ik_curl_chains_work_bytes asks for stays small */
#endif
#define IKL_MAX_LANES (8 * IKL_MAX_GROUPS)
typedef struct {
    const int8_t *src; /* the chunk (n trits), NULL: none this step */
    int8_t *dst;       /* NULL: absorb src; else unmask it as ik_mam_unmask does: dst (may be src) = src - rate, then
                          absorbed */
    uint16_t n;        /* 1..243: a shorter chunk overwrites only its prefix of the rate */
    uint8_t reset;     /* before the chunk: a fresh sponge (every trit 0) */
    uint8_t chain;     /* after the chunk: the capacity set to 0 (a link of a hash chain, ik_curl_chain) */
} ikl_op;

typedef struct {
    ikp_sliced_rounds_fn rounds;
    ikp_sliced_in_fn in;
    ikp_sliced_out_fn out;
    unsigned vb;       /* vector bytes of the width */
    unsigned groups;
    unsigned m;        /* layout multiplier of the state */
    unsigned n_rounds;
    size_t stride;     /* bytes per plane */
    uint8_t *state;    /* 2 * groups planes */
    uint8_t *spare;
    uint8_t *rate;     /* per group: lo and hi bytes of 256 trits in natural order */
    uint8_t *chunk;
    int8_t *rows;      /* 8 * groups rows of 256 trits: short chunks, zero padded */
    uint8_t *masks;    /* chains: the capacity bytes of the layouts links start in */
} ikl_unit;

/* Work bytes of a unit of groups groups (64-byte alignment slack included). */
size_t ikl_work_bytes(unsigned groups);
/* A unit of as many groups as lanes needs (at most IKL_MAX_GROUPS and what work holds), every sponge fresh, rounds
 * 1..81 per transform, on width simd (IK_SIMD_AUTO: the widest this CPU runs). Returns its lanes (8 per group), 0
 * when work is too small for one group or the CPU cannot run simd. */
unsigned ikl_init(ikl_unit *u, void *work, size_t work_bytes, size_t lanes, unsigned rounds, ik_simd simd);
/* One step: ops[l] for lane l < lanes (lanes <= the unit's lanes). */
void ikl_step(ikl_unit *u, const ikl_op *ops, unsigned lanes);
/* The rate (243 trits) of lane l into rows[l], for the l < lanes where rows[l] is not NULL. */
void ikl_rate(ikl_unit *u, int8_t *const *rows, unsigned lanes);
/* Hash chains: a unit as ikl_init makes one, and after it in work the capacity masks its chains need (ikl_chains).
 * Returns its lanes, 0 as ikl_init. */
unsigned ikl_init_chains(ikl_unit *u, void *work, size_t work_bytes, size_t lanes, unsigned rounds, ik_simd simd);
/* Work bytes of a chains unit of IKL_MAX_GROUPS groups on width simd (IK_SIMD_AUTO: the widest), 0 for a width this
 * build or CPU has not got. */
size_t ikl_chains_work_bytes(ik_simd simd);
/* count hash chains at once (count <= the unit's lanes): rows[k] (243 trits) replaced by its chain of times[k] links
 * (ik_curl_chain), times in decreasing order. */
void ikl_chains(ikl_unit *u, int8_t *const *rows, const uint8_t *times, unsigned count);

/* ik_curl_chains_many without the trit check (chunks known good), on a given width (IK_SIMD_AUTO: the widest whose
 * unit fits work, byte-wise through ik_curl_chains where none does; another: IK_ERR_UNSUPPORTED where this CPU or work
 * cannot run it). */
ik_status ikp_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                          size_t work_bytes, ik_simd simd);

/* Shared by pow.c and pow_threads.c. */
ik_status ikp_prepare(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd *simd, ik_pow_control *ctl,
                      ikp_job *job);
/* Runs one partition; on a find, claims ctl->found and writes nonce. Adds nothing to ctl->trials. */
ik_status ikp_run(const ikp_job *job, ik_simd simd, unsigned part, int8_t nonce[IK_NONCE_TRITS],
                  uint64_t *trials);

/* pow_threads.c: IK_OK for a thread count this build runs (1..64; 1 without threads), else the status
 * ik_pow_search_threads returns for it. */
ik_status ikp_check_threads(unsigned threads);
/* Runs a prepared job on threads (checked) searchers, partitions 0 .. threads - 1: one runs on the calling
 * thread when its stack has room (see ik_pow_search_threads); adds their trials to job->ctl->trials. */
ik_status ikp_search_job(const ikp_job *job, ik_simd simd, unsigned threads, int8_t nonce[IK_NONCE_TRITS]);
/* 1 when a one-thread search started here now would run on this thread (always, without threads). */
int ikp_runs_inline(void);

/* Polling helpers: plain volatile reads; the found flag is claimed with a compare-and-swap where the
 * target has one (single-core microcontrollers without it run one searcher). */
static inline int ikp_should_stop(const ik_pow_control *ctl)
{
    return ctl->cancel != 0 || ctl->found != 0;
}

static inline int ikp_claim(ik_pow_control *ctl)
{
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_4)
    int32_t expected = 0;
    return __atomic_compare_exchange_n((int32_t *)&ctl->found, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
#else
    if (ctl->found != 0) {
        return 0;
    }
    ctl->found = 1;
    return 1;
#endif
}

#endif
