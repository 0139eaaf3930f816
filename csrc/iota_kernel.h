/*
 * iota_kernel.h - the one public header of the iota_edge C kernel (prefix ik_).
 *
 * Legacy IOTA primitives over balanced trits (int8_t, values -1/0/+1, least significant first) and
 * tryte characters ('9', 'A'..'Z'): trinary codecs, Curl-P-27/81, Keccak-f[1600], Kerl, the Kerl-based
 * Winternitz scheme (ISS), the bundle hash, MAM v0 payloads and the bit-sliced Curl-P-81 nonce search.
 *
 * House rules: C99 (+ GCC vector extensions in the SIMD search), no malloc, no globals, no I/O.
 * Every function that can fail returns an ik_status; outputs go to caller buffers whose sizes are stated
 * below. Spec references (spec/iota-legacy.md) are given as [§n].
 */
#ifndef IOTA_KERNEL_H
#define IOTA_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes ------------------------------------------------------------------------------------------ */
#define IK_HASH_TRITS 243         /* one hash / Kerl block / Curl rate */
#define IK_HASH_TRYTES 81
#define IK_CURL_STATE_TRITS 729   /* 3 x 243 [§3.1] */
#define IK_KERL_BYTES 48          /* 384 bits [§4.2] */
#define IK_FRAGMENT_TRITS 6561    /* 27 segments x 243 [§5] */
#define IK_FRAGMENT_TRYTES 2187
#define IK_TX_TRITS 8019          /* 2673 trytes [§2] */
#define IK_TX_TRYTES 2673
#define IK_NONCE_TRITS 81         /* transaction trits 7938..8018 [§3.4] */
#define IK_NONCE_TRYTES 27
#define IK_MAX_SECURITY 3

/* ---- status ----------------------------------------------------------------------------------------- */
typedef enum {
    IK_OK = 0,
    IK_ERR_LENGTH = 1,     /* a length is not what the function requires (e.g. not a multiple of 243) */
    IK_ERR_TRYTE = 2,      /* a character outside '9', 'A'..'Z' */
    IK_ERR_TRIT = 3,       /* a trit outside -1..1 */
    IK_ERR_VALUE = 4,      /* a number out of range: rounds, security, mwm, thread count, SIMD choice */
    IK_ERR_MISMATCH = 5,   /* a signature does not lead to the given address */
    IK_ERR_CANCELLED = 6,  /* the nonce search stopped before finding a nonce (cancel flag set) */
    IK_ERR_UNSUPPORTED = 7 /* this build or CPU lacks the requested feature (SIMD width, threads) */
} ik_status;

/* ---- trinary codecs (trinary.c) [§1] ----------------------------------------------------------------- */
/* n trytes -> 3n trits. */
ik_status ik_trytes_to_trits(const char *trytes, size_t n, int8_t *trits);
/* n_trits trits -> ceil(n_trits / 3) trytes (missing high trits of the last tryte count as 0). */
ik_status ik_trits_to_trytes(const int8_t *trits, size_t n_trits, char *trytes);
/* Balanced-ternary addition of a non-negative integer to a trit vector, carry out of the top dropped
 * [§1.2]; used for seed + index. */
void ik_trits_add_u64(int8_t *trits, size_t n, uint64_t value);

/* ---- Curl-P (curl.c) [§3] ---------------------------------------------------------------------------- */
typedef struct {
    int8_t state[IK_CURL_STATE_TRITS];
    uint8_t rounds;
} ik_curl;

/* rounds: 1..81 (27 and 81 are the protocol's). */
ik_status ik_curl_init(ik_curl *ctx, unsigned rounds);
/* Absorb len trits; a final partial chunk overwrites only its prefix of the rate (JS/C rule, [§3.3]). */
void ik_curl_absorb(ik_curl *ctx, const int8_t *trits, size_t len);
/* Squeeze len trits (243 per transform). */
void ik_curl_squeeze(ik_curl *ctx, int8_t *trits, size_t len);
/* One Curl-P permutation of a 729-trit state. */
void ik_curl_transform(int8_t state[IK_CURL_STATE_TRITS], unsigned rounds);
/* Hash of n trytes (any n) -> 81 trytes. */
ik_status ik_curl_hash_trytes(const char *trytes, size_t n, unsigned rounds, char out[IK_HASH_TRYTES]);
/* Hash the rate (trits 0..242 of state) times times, each a fresh sponge: the capacity is zeroed before each
 * transform. MAM's key and signature chains [§9.2]. rounds 1..81. */
ik_status ik_curl_chain(int8_t state[IK_CURL_STATE_TRITS], unsigned times, unsigned rounds);
/* n independent chains: state i (729 trits at states + 729 i) hashed times[i] times, two at a time (their rounds
 * interleaved on AVX-512, where one chain alone leaves the core idle between rounds). */
ik_status ik_curl_chains(int8_t *states, size_t n, const unsigned *times, unsigned rounds);

/* Many chains at once (chains.c, lanes.c), byte-sliced across chains on the widest SIMD width this CPU runs (a trit of 8
 * chains is a byte, bit k one chain): chunk i (243 trits at chunks + 243 i) is replaced by its hash chain of times[i]
 * links, each link a Curl-P-rounds transform of (chunk, 486 zero trits) keeping the first 243 trits: bit for bit
 * ik_curl_chains. Chains go in decreasing order of times, up to 32 at a time (16 on 32-bit targets), so a group of 8
 * runs about as many links as its longest chain. work: work_bytes of scratch for the byte planes
 * (ik_curl_chains_work_bytes() for the widest width here: 33 KiB with 512-bit vectors, 19 KiB on 32-bit targets);
 * less takes fewer chains at a time, none at all (NULL, or under 13 KiB) runs every chain byte-wise. IK_ERR_VALUE for
 * rounds outside 1..81, IK_ERR_TRIT for a chunk trit outside -1..1 (nothing written). Stack: 2.5 KiB on 32-bit targets
 * (the byte-wise pair's states; make -C csrc size). */
ik_status ik_curl_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                              size_t work_bytes);
/* Bytes of work ik_curl_chains_many needs for the widest width this CPU runs (64-byte alignment slack included). */
size_t ik_curl_chains_work_bytes(void);

/* ---- Keccak-f[1600] (keccak.c) ----------------------------------------------------------------------- */
void ik_keccak_f1600(uint64_t st[25]);
extern const uint64_t ik_keccak_rc[24]; /* its round constants (bundle.c's multi-lane rounds use them too) */

/* ---- Kerl (kerl.c) [§4] ------------------------------------------------------------------------------ */
typedef struct {
    uint64_t st[25]; /* Keccak-384 state, rate 104 bytes, original padding 0x01 */
    uint32_t pos;    /* bytes absorbed into the current rate block */
} ik_kerl;

void ik_kerl_init(ik_kerl *ctx);
/* len must be a multiple of 243; trit 242 of every block is treated as 0 (the caller's buffer is not
 * modified). */
ik_status ik_kerl_absorb(ik_kerl *ctx, const int8_t *trits, size_t len);
/* len must be a multiple of 243; each block is followed by the reset + complement ("flip") step. */
ik_status ik_kerl_squeeze(ik_kerl *ctx, int8_t *trits, size_t len);
/* The same operations on the 48-byte big-endian two's-complement form of a block [§4.2]. Squeezed
 * blocks are already reduced into the 242-trit range, so bytes -> trits -> bytes is the identity on them. */
void ik_kerl_absorb_bytes(ik_kerl *ctx, const uint8_t block[IK_KERL_BYTES]);
void ik_kerl_squeeze_bytes(ik_kerl *ctx, uint8_t block[IK_KERL_BYTES]);
/* 243 trits -> 48 bytes (trit 242 ignored). */
void ik_kerl_trits_to_bytes(const int8_t trits[IK_HASH_TRITS], uint8_t block[IK_KERL_BYTES]);
/* 48 bytes -> 243 trits (reduced mod 3^242 into the balanced range, trit 242 = 0) [§4.3]. */
void ik_kerl_bytes_to_trits(const uint8_t block[IK_KERL_BYTES], int8_t trits[IK_HASH_TRITS]);
/* Hash of n trytes (multiple of 81) squeezed to out_n trytes (multiple of 81). */
ik_status ik_kerl_hash_trytes(const char *trytes, size_t n, char *out, size_t out_n);

/* ---- ISS: Kerl Winternitz one-time signatures (iss.c) [§5, §6] --------------------------------------- */
/* subseed = Kerl(seed (+) index) [§5.2]. */
void ik_subseed(const int8_t seed[IK_HASH_TRITS], uint64_t index, int8_t subseed[IK_HASH_TRITS]);
/* Private key: security * 6561 trits. */
ik_status ik_key(const int8_t subseed[IK_HASH_TRITS], unsigned security, int8_t *key);
/* One digest (243 trits) per 6561-trit key fragment; key_len a multiple of 6561. */
ik_status ik_digests(const int8_t *key, size_t key_len, int8_t *digests);
/* Address = Kerl(digests); digests_len a multiple of 243. */
ik_status ik_address_from_digests(const int8_t *digests, size_t digests_len, int8_t address[IK_HASH_TRITS]);
/* seed, index, security -> address, streaming (no key buffer; about 1 KiB of stack). */
ik_status ik_address(const int8_t seed[IK_HASH_TRITS], uint64_t index, unsigned security,
                     int8_t address[IK_HASH_TRITS]);
/* Normalized bundle hash: 81 values in -13..13, each 27-value chunk summing to 0 [§6.1]. */
void ik_normalize(const int8_t hash[IK_HASH_TRITS], int8_t normalized[IK_HASH_TRYTES]);
/* sig[j] = Kerl^(13 - chunk[j])(key_fragment[j]), chunk = 27 normalized values [§6.2]. */
ik_status ik_signature_fragment(const int8_t chunk[27], const int8_t key_fragment[IK_FRAGMENT_TRITS],
                                int8_t signature[IK_FRAGMENT_TRITS]);
/* digest = Kerl(Kerl^(13 + chunk[j])(sig[j]) for j < 27) [§6.2]. */
ik_status ik_signature_digest(const int8_t chunk[27], const int8_t signature[IK_FRAGMENT_TRITS],
                              int8_t digest[IK_HASH_TRITS]);
/* Streaming sign: security fragments (security * 6561 trits) for normalized[81]; fragment f uses
 * chunk f % 3. */
ik_status ik_sign(const int8_t seed[IK_HASH_TRITS], uint64_t index, unsigned security,
                  const int8_t normalized[IK_HASH_TRYTES], int8_t *signature);
/* IK_OK if the fragments (n_fragments * 6561 trits) lead to address, IK_ERR_MISMATCH if not. */
ik_status ik_verify(const int8_t address[IK_HASH_TRITS], const int8_t *signature, size_t n_fragments,
                    const int8_t normalized[IK_HASH_TRYTES]);

/* ---- Bundles (bundle.c) [§6.3, §7] ------------------------------------------------------------------- */
/* essences: n_tx * 486 trits (162 trytes each: address .. last_index), tail first, indices set. Writes the Kerl
 * bundle hash to hash; while its normalized form holds a 13, first increments the tail's obsolete tag (essence
 * trits 324..404, balanced, 'M...M' wraps to 'N...N') in place. IK_ERR_LENGTH if n_tx is 0, IK_ERR_TRIT on a
 * trit outside -1..1. */
ik_status ik_bundle_finalize(int8_t *essences, size_t n_tx, int8_t hash[IK_HASH_TRITS]);
/* The finalized bundle of one zero-value transfer carrying n message trytes to address, as
 * iota_edge.bundle.prepare_transfer builds it: max(1, ceil(n / 2187)) transactions of 2673 trytes into out, tail
 * first, each its message fragment (9-padded), address, value 0, obsolete tag (tag; the tail's after the M-bug
 * escape), timestamp, current and last index, bundle hash, trunk and branch of 9s (not attached), tag, attachment
 * timestamps 0 and nonce of 9s. tag: 27 trytes (9-padded). work: 486 trits per transaction. IK_ERR_TRYTE for a
 * character outside 9A-Z, IK_ERR_VALUE for a timestamp beyond 27 trits. */
ik_status ik_bundle_message(const char address[IK_HASH_TRYTES], const char tag[27], const char *message, size_t n,
                            int64_t timestamp, int8_t *work, char *out);

/* ---- MAM v0 (mam.c) [§9.3] --------------------------------------------------------------------------- */
/* Duplex encryption with a caller-held Curl-P-27 sponge (JS/C absorb rule), len trits of buf in place. mask:
 * c = p + rate, then absorb p; unmask: p = c - rate, then absorb p. Each call starts at a chunk boundary. */
void ik_mam_mask(ik_curl *ctx, int8_t *buf, size_t len);
void ik_mam_unmask(ik_curl *ctx, int8_t *buf, size_t len);
/* The Merkle leaf a signature (security * 6561 trits) opens to for the message hash hmac: segment j hashed
 * 13 + v_j times (v_j the value of tryte j of hmac), one sponge over those, then one more hash. IK_ERR_VALUE for
 * security outside 1..3, IK_ERR_TRIT for an hmac trit outside -1..1. */
ik_status ik_mam_leaf(const int8_t hmac[IK_HASH_TRITS], const int8_t *signature, unsigned security,
                      int8_t leaf[IK_HASH_TRITS]);
/* node = the root reached through depth siblings (243 trits each, bottom up): at level b the parent is
 * Curl-P-27(sibling | node) when bit b of index is set, else Curl-P-27(node | sibling); bits above 63 count as 0. */
void ik_mam_fold(int8_t node[IK_HASH_TRITS], const int8_t *siblings, unsigned depth, uint64_t index);
/* Why ik_mam_parse refused a payload: the reasons of iota_edge's InvalidMessage. */
typedef enum {
    IK_MAM_VERIFIED = 0,
    IK_MAM_DECODE = 1,   /* malformed: pascal integers, lengths, the trits after the siblings */
    IK_MAM_NONCE = 2,    /* the message hash has no security level (bad nonce or wrong side key) */
    IK_MAM_INDEX = 3,    /* the leaf index does not fit the tree the siblings describe */
    IK_MAM_SIGNATURE = 4 /* signature and siblings do not lead to the root */
} ik_mam_reason;
typedef struct {
    uint32_t reason;       /* an ik_mam_reason */
    uint32_t security;     /* the rest: set when verified */
    uint32_t depth;        /* siblings: the tree has 2^depth leaves */
    uint64_t index;        /* leaf position */
    size_t message_trytes; /* written to message */
} ik_mam_parsed;
/* The whole verification of a MAM v0 payload (n trytes, trailing 9s allowed) against root, as
 * iota_edge.streams.parser.parse_payload does it: pascal index and length, a Curl-P-27 sponge over key (the side
 * key, or 243 zero trits) | root | header, unmask next root, message and nonce, the security of the message hash,
 * unmask the rest, pascal sibling count, bounds, index < 2^depth, zero trits after the siblings, leaf of the
 * signature (ik_mam_leaf), fold (ik_mam_fold), compare with root. work: 3 n trits (the unmasked payload ends up
 * there); message: room for n trytes. IK_OK with out and the message and next_root trytes filled in;
 * IK_ERR_MISMATCH with out->reason; IK_ERR_TRYTE for a bad character, IK_ERR_TRIT for a key trit outside -1..1.
 * Index and length pascal integers of 14 value trytes (values beyond 2^61) are refused as IK_MAM_DECODE.
 * Stack: 3.9 KiB in all on 32-bit targets (ik_mam_leaf inside it 3.1 KiB; `make size`). */
ik_status ik_mam_parse(const char *payload, size_t n, const char root[IK_HASH_TRYTES],
                       const int8_t key[IK_HASH_TRITS], int8_t *work, char *message,
                       char next_root[IK_HASH_TRYTES], ik_mam_parsed *out);

/* A batch of payloads for ik_mam_parse_many: the arguments of one ik_mam_parse call (payload .. next_root, each
 * item its own root, side key and buffers), and what it returns (status, parsed). */
typedef struct {
    const char *payload;   /* n trytes */
    size_t n;
    const char *root;      /* 81 trytes */
    const int8_t *key;     /* 243 trits */
    int8_t *work;          /* 3 n trits */
    char *message;         /* room for n trytes */
    char *next_root;       /* 81 trytes */
    ik_mam_parsed parsed;  /* out */
    int32_t status;        /* out: the ik_status ik_mam_parse returns for the item */
} ik_mam_item;
/* m payloads verified at once, item by item the result of ik_mam_parse (status, parsed with reason, message,
 * next_root), their Curl-P-27 work byte-sliced across payloads (lanes.c): phase 1 runs each item up to its leaf, the
 * sponges (unmasking) of up to 32 payloads in the same rounds; phase 2 hashes all their Winternitz chains in one
 * ik_curl_chains_many; phase 3 runs the digest sponges and the folds up the trees of up to 32 payloads at once, then
 * each item's outputs. scratch: at least ik_mam_parse_many_scratch(1, 3) bytes (one payload at a time);
 * ik_mam_parse_many_scratch(m, s) bytes take m payloads of security up to s in one pass (the byte planes of the
 * chains and sponges, 6.6 KiB per chain segment of 27 ... 81, a record per payload); less runs the batch in several
 * passes, and below the byte planes' size byte-wise. IK_ERR_LENGTH when scratch is too small for even one payload
 * (no item touched), else IK_OK. Stack: 3.5 KiB on 32-bit targets. */
ik_status ik_mam_parse_many(ik_mam_item *items, size_t m, void *scratch, size_t scratch_bytes);
/* Scratch bytes for ik_mam_parse_many to take m payloads of security up to security (1..3) in one pass. */
size_t ik_mam_parse_many_scratch(size_t m, unsigned security);

/* ---- Proof of work: bit-sliced Curl-P-81 nonce search (pow.c, pow_x86.c, pow_neon.c) [§3.4] ----------- */
typedef enum {
    IK_SIMD_AUTO = 0,     /* widest available on this CPU */
    IK_SIMD_PORTABLE = 1, /* 64 lanes, plain C */
    IK_SIMD_SSE2 = 2,     /* 128 lanes */
    IK_SIMD_AVX2 = 3,     /* 256 lanes */
    IK_SIMD_AVX512 = 4,   /* 512 lanes, vpternlogq */
    IK_SIMD_NEON = 5      /* 128 lanes */
} ik_simd;

/* Caller-held control block, zeroed before each search. The caller may set cancel to non-zero at any time
 * (from any thread) to stop the search; searchers poll it once per batch (one batch = lanes candidates,
 * about 60 us). found is 1 after a successful search; trials counts the candidates tried. */
typedef struct {
    volatile int32_t cancel;
    volatile int32_t found;   /* set by the searcher that finds a nonce, read by its siblings */
    volatile uint64_t trials; /* candidates tried, summed over threads when the search returns */
} ik_pow_control;

/* 1 if this build and this CPU can run the given width (IK_SIMD_AUTO: always 1). */
int ik_pow_simd_supported(ik_simd simd);
/* The width IK_SIMD_AUTO resolves to. */
ik_simd ik_pow_simd_best(void);
/* Lanes (candidates per batch) of a width; 0 if unknown. */
unsigned ik_pow_simd_lanes(ik_simd simd);

/* Search a nonce for a 8019-trit transaction: on IK_OK, nonce (81 trits) makes Curl-P-81 of the
 * transaction (with trits 7938..8018 replaced by nonce) end in at least mwm (0..243) zero trits.
 * Partition part of parts (0 <= part < parts <= 19683) selects a disjoint region of the nonce space, so
 * several callers (threads) never try the same candidate. Returns IK_ERR_CANCELLED when ctl->cancel or
 * ctl->found (a sibling won) is set. Stack: 13.5 KiB on 32-bit microcontrollers (32 lanes, plain rounds);
 * up to 0.58 MiB on hosts (1.07 MiB with IKP_AVX512_BITS=512; -fstack-usage), whose kernels cache the first
 * rounds and keep a round schedule (pow_internal.h), so call it on a thread with a large stack, or use
 * ik_pow_search_threads, which runs it on the caller's stack only when 2 MiB of it are left. */
ik_status ik_pow_search(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned part,
                        unsigned parts, ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS]);

/* Multi-threaded search (pow_threads.c, hosts with POSIX threads): threads (1..64) workers, each on
 * its own partition and its own 4 MiB stack; returns when one finds a nonce or ctl->cancel is set. threads == 1
 * runs the search on the calling thread instead when, on Linux, at least 2 MiB of its stack is left below the call
 * (pthread_getattr_np; on the main thread RLIMIT_STACK less what is used below the top of the initial stack), as on
 * glibc's default threads and main thread (8 MiB; the widest kernel takes 0.6 MiB): that saves creating, joining
 * and faulting in a thread (0.1..0.2 ms a search). Elsewhere, on a smaller stack (musl's 128 KiB threads, an
 * unlimited RLIMIT_STACK) or when it cannot tell, it starts the 4 MiB thread. Either way ctl->cancel, set
 * from another thread, stops it within a batch. Builds with IK_NO_THREADS accept threads == 1 only
 * (IK_ERR_UNSUPPORTED otherwise) and search on the calling thread. */
ik_status ik_pow_search_threads(const int8_t tx[IK_TX_TRITS], unsigned mwm, ik_simd simd, unsigned threads,
                                ik_pow_control *ctl, int8_t nonce[IK_NONCE_TRITS]);

/* Tryte front end for bindings: tx is 2673 trytes, nonce 27 trytes out. */
ik_status ik_pow_search_trytes(const char tx[IK_TX_TRYTES], unsigned mwm, ik_simd simd, unsigned threads,
                               ik_pow_control *ctl, char nonce[IK_NONCE_TRYTES]);
/* The same, and on IK_OK also the transaction hash: Curl-P-81 of tx with its last 27 trytes replaced by nonce
 * (81 trytes out), from the search's mid-state in one transform instead of 33 (ik_curl_hash_trytes). */
ik_status ik_pow_search_trytes_hash(const char tx[IK_TX_TRYTES], unsigned mwm, ik_simd simd, unsigned threads,
                                    ik_pow_control *ctl, char nonce[IK_NONCE_TRYTES], char hash[IK_HASH_TRYTES]);

#ifdef __cplusplus
}
#endif
#endif /* IOTA_KERNEL_H */
