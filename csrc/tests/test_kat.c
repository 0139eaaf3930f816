/* test_kat.c - known-answer and refusal tests of the C kernel; the same file runs on the host (under ASan and
 * UBSan), on aarch64 under qemu-user and bare-metal on a Cortex-M3 under QEMU semihosting. The vectors come
 * from the tests/vectors JSON files through the generated vectors.h. Prints "N passed, N failed". */
#include "iota_kernel.h"
#include "pow_internal.h" /* ikp_chains_many and lanes.c: each width on its own */
#ifdef KAT_SMALL
#include "vectors_small.h" /* a few cases per file: emulated targets */
#else
#include "vectors.h"
#endif

#include <stdio.h>
#include <string.h>

#if !defined(IK_NO_THREADS) && defined(__linux__)
#define KAT_THREADS 1
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#endif

#ifndef KAT_POW_MWM
#define KAT_POW_MWM 9
#endif

typedef struct {
    int passed;
    int failed;
} tally;

static void check(tally *t, int ok, const char *what, int i)
{
    if (ok) {
        t->passed++;
    } else {
        t->failed++;
        printf("FAIL %s #%d\n", what, i);
    }
}

static int to_trits(const char *trytes, int8_t *trits)
{
    return ik_trytes_to_trits(trytes, strlen(trytes), trits) == IK_OK;
}

static int trits_equal_trytes(const int8_t *trits, size_t n_trits, const char *trytes)
{
    char buf[256];
    size_t done = 0;
    while (done < n_trits) {
        size_t n = n_trits - done < 243 ? n_trits - done : 243;
        if (ik_trits_to_trytes(trits + done, n, buf) != IK_OK || memcmp(buf, trytes + done / 3, n / 3) != 0) {
            return 0;
        }
        done += n;
    }
    return 1;
}

static int weight(const int8_t *tx)
{
    ik_curl c;
    int8_t h[IK_HASH_TRITS];
    int z = 0;
    int i;
    ik_curl_init(&c, 81);
    ik_curl_absorb(&c, tx, IK_TX_TRITS);
    ik_curl_squeeze(&c, h, IK_HASH_TRITS);
    for (i = IK_HASH_TRITS - 1; i >= 0 && h[i] == 0; i--) {
        z++;
    }
    return z;
}

static void test_trinary(tally *t)
{
    static const char alphabet[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int8_t trits[81];
    char back[27];
    int8_t v[5] = {0, 0, 0, 0, 0};
    check(t, ik_trytes_to_trits(alphabet, 27, trits) == IK_OK, "trytes_to_trits", 0);
    check(t, ik_trits_to_trytes(trits, 81, back) == IK_OK && memcmp(back, alphabet, 27) == 0, "roundtrip", 0);
    check(t, trits[3] == 1 && trits[4] == 0 && trits[5] == 0, "A = (1, 0, 0)", 0);
    check(t, trits[3 * 26] == -1 && trits[3 * 26 + 1] == 0, "Z = (-1, 0, 0)", 0);
    check(t, ik_trytes_to_trits("AB9a", 4, trits) == IK_ERR_TRYTE, "lowercase refused", 0);
    check(t, ik_trytes_to_trits("A@", 2, trits) == IK_ERR_TRYTE, "@ refused", 0);
    trits[0] = 2;
    check(t, ik_trits_to_trytes(trits, 3, back) == IK_ERR_TRIT, "trit 2 refused", 0);
    ik_trits_add_u64(v, 5, 14); /* 14 = -1 + 3*(-1) + 9*(-1) + 27*1 */
    check(t, v[0] == -1 && v[1] == -1 && v[2] == -1 && v[3] == 1 && v[4] == 0, "add 14", 0);
    ik_trits_add_u64(v, 5, 121); /* 14 + 121 = 135 wraps modulo 3^5 = 243 into -108 */
    {
        int val = v[0] + 3 * v[1] + 9 * v[2] + 27 * v[3] + 81 * v[4];
        check(t, val == 135 - 243, "add wraps", val);
    }
}

static void test_keccak(tally *t)
{
    uint64_t st[25];
    memset(st, 0, sizeof st);
    ik_keccak_f1600(st);
    check(t, st[0] == 0xF1258F7940E1DDE7ULL && st[24] == 0xEAF1FF7B5CECA249ULL, "keccak-f zero state", 0);
}

static void test_curl(tally *t)
{
    char out[IK_HASH_TRYTES];
    ik_curl c;
    int i;
    for (i = 0; curl_cases[i].in; i++) {
        ik_status st = ik_curl_hash_trytes(curl_cases[i].in, strlen(curl_cases[i].in), curl_cases[i].rounds, out);
        check(t, st == IK_OK && memcmp(out, curl_cases[i].hash, IK_HASH_TRYTES) == 0, "curl", i);
    }
    for (i = 0; transaction_cases[i].trytes; i++) {
        ik_status st = ik_curl_hash_trytes(transaction_cases[i].trytes, IK_TX_TRYTES, 81, out);
        check(t, st == IK_OK && memcmp(out, transaction_cases[i].hash, IK_HASH_TRYTES) == 0, "tx hash", i);
    }
    check(t, ik_curl_init(&c, 0) == IK_ERR_VALUE && ik_curl_init(&c, 82) == IK_ERR_VALUE, "curl rounds", 0);
    check(t, ik_curl_hash_trytes("A*", 2, 81, out) == IK_ERR_TRYTE, "curl alphabet", 0);
}

/* ik_curl_chain against single Curl-P-27 hashes: the 81-tryte cases are one link (whatever the capacity held);
 * three links hash the first one's trytes twice more. */
static void test_curl_chain(tally *t)
{
    int8_t state[IK_CURL_STATE_TRITS];
    char link[IK_HASH_TRYTES];
    char twice[IK_HASH_TRYTES];
    int i;
    for (i = 0; curl_cases[i].in; i++) {
        if (curl_cases[i].rounds != 27 || strlen(curl_cases[i].in) != IK_HASH_TRYTES) {
            continue;
        }
        memset(state, 1, sizeof state);
        to_trits(curl_cases[i].in, state);
        check(t, ik_curl_chain(state, 1, 27) == IK_OK && trits_equal_trytes(state, IK_HASH_TRITS, curl_cases[i].hash),
              "curl chain 1", i);
        ik_curl_hash_trytes(curl_cases[i].hash, IK_HASH_TRYTES, 27, link);
        ik_curl_hash_trytes(link, IK_HASH_TRYTES, 27, twice);
        check(t, ik_curl_chain(state, 2, 27) == IK_OK && trits_equal_trytes(state, IK_HASH_TRITS, twice),
              "curl chain 3", i);
        to_trits(curl_cases[i].in, state);
        check(t, ik_curl_chain(state, 0, 27) == IK_OK && trits_equal_trytes(state, IK_HASH_TRITS, curl_cases[i].in),
              "curl chain 0", i);
    }
    check(t, ik_curl_chain(state, 1, 0) == IK_ERR_VALUE && ik_curl_chain(state, 1, 82) == IK_ERR_VALUE,
          "curl chain rounds", 0);
    for (i = 0; curl_cases[i].in && curl_cases[i + 1].in && curl_cases[i + 2].in; i++) {
        /* three chains of uneven lengths (a pair, then one alone) == three single chains */
        static int8_t states[3][IK_CURL_STATE_TRITS];
        unsigned times[3];
        int k;
        int same = 1;
        for (k = 0; k < 3; k++) {
            memset(states[k], 0, sizeof states[k]);
            to_trits(curl_cases[i + k].hash, states[k]);
            times[k] = (unsigned)((i + 3 * k) % 5);
        }
        check(t, ik_curl_chains(states[0], 3, times, 27) == IK_OK, "curl chains", i);
        for (k = 0; k < 3; k++) {
            memset(state, 0, sizeof state);
            to_trits(curl_cases[i + k].hash, state);
            ik_curl_chain(state, times[k], 27);
            same = same && memcmp(state, states[k], sizeof state) == 0;
        }
        check(t, same, "curl chains == chain", i);
        if (i == 12) {
            break;
        }
    }
}

static uint32_t kat_random(void);

#if UINTPTR_MAX > 0xffffffffu
#define CHAIN_WORK_BYTES 40000 /* ik_curl_chains_work_bytes() and more */
#else
#define CHAIN_WORK_BYTES 24000
#endif
#ifdef KAT_SMALL
#define CHAINS_MAX 300
#else
#define CHAINS_MAX 700
#endif

/* ik_curl_chains_many (and each width through ikp_chains_many) against ik_curl_chains, one chunk at a time: random
 * chunks and link counts (0..26, some up to 255), 27 and 81 rounds, batch sizes around a group of 8 lanes and a whole
 * unit; then the refusals. */
static void test_chains_many(tally *t)
{
    static int8_t chunks[CHAINS_MAX * IK_HASH_TRITS];
    static int8_t want[CHAINS_MAX * IK_HASH_TRITS];
    static int8_t got[CHAINS_MAX * IK_HASH_TRITS];
    static uint8_t times[CHAINS_MAX];
    static uint64_t work[CHAIN_WORK_BYTES / 8 + 1];
    static const size_t sizes[] = {0, 1, 7, 8, 9, IKL_MAX_LANES - 1, IKL_MAX_LANES, IKL_MAX_LANES + 1, 100, CHAINS_MAX};
    int8_t state[IK_CURL_STATE_TRITS];
    unsigned rounds;
    unsigned si;
    int s;
    size_t i;
    size_t j;
    int case_no = 0;
    for (rounds = 27; rounds <= 81; rounds += 54) {
        for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
#ifdef KAT_SMALL
            if (rounds == 81 && n > 40) {
                continue;
            }
#else
            if (rounds == 81 && n > 300) {
                continue;
            }
#endif
            for (i = 0; i < n * IK_HASH_TRITS; i++) {
                chunks[i] = (int8_t)((int)(kat_random() % 3u) - 1);
            }
            for (i = 0; i < n; i++) {
                uint32_t r = kat_random();
                times[i] = (uint8_t)(r % 50u == 0 ? 27 + (r >> 8) % 229u : (r >> 8) % 27u);
#ifdef KAT_SMALL
                times[i] = (uint8_t)(times[i] % (rounds == 27 ? 9u : 3u));
#endif
                memset(state, 0, sizeof state);
                memcpy(state, chunks + i * IK_HASH_TRITS, IK_HASH_TRITS);
                ik_curl_chain(state, times[i], rounds);
                memcpy(want + i * IK_HASH_TRITS, state, IK_HASH_TRITS);
            }
            memcpy(got, chunks, n * IK_HASH_TRITS);
            check(t, ik_curl_chains_many(got, n, times, rounds, work, sizeof work) == IK_OK &&
                         memcmp(got, want, n * IK_HASH_TRITS) == 0,
                  "chains many", case_no);
            memcpy(got, chunks, n * IK_HASH_TRITS);
            check(t, ik_curl_chains_many(got, n, times, rounds, NULL, 0) == IK_OK &&
                         memcmp(got, want, n * IK_HASH_TRITS) == 0,
                  "chains many byte-wise", case_no);
            for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
                ik_status st;
                if (ikl_chains_work_bytes((ik_simd)s) == 0) {
                    continue;
                }
                memcpy(got, chunks, n * IK_HASH_TRITS);
                st = ikp_chains_many(got, n, times, rounds, work, sizeof work, (ik_simd)s);
                for (j = 0; j < n * IK_HASH_TRITS && got[j] == want[j]; j++) {
                }
                check(t, st == IK_OK && j == n * IK_HASH_TRITS, "chains many width", 100 * case_no + s);
            }
            case_no++;
        }
    }
    /* a work area too small for a whole unit takes fewer groups (or none) */
    memcpy(got, chunks, 40 * IK_HASH_TRITS);
    check(t, ik_curl_chains_many(got, 40, times, 81, work, ik_curl_chains_work_bytes() / 2) == IK_OK &&
                 memcmp(got, chunks, 40 * IK_HASH_TRITS) != 0,
          "chains many small work", 0);
    memcpy(want, got, 40 * IK_HASH_TRITS);
    memcpy(got, chunks, 40 * IK_HASH_TRITS);
    check(t, ik_curl_chains_many(got, 40, times, 81, work, 100) == IK_OK && memcmp(got, want, 40 * IK_HASH_TRITS) == 0,
          "chains many tiny work", 0);
    check(t, ik_curl_chains_many(got, 3, times, 0, work, sizeof work) == IK_ERR_VALUE &&
                 ik_curl_chains_many(got, 3, times, 82, work, sizeof work) == IK_ERR_VALUE,
          "chains many rounds", 0);
    memcpy(got, chunks, 3 * IK_HASH_TRITS);
    got[2 * IK_HASH_TRITS + 100] = 2;
    check(t, ik_curl_chains_many(got, 3, times, 27, work, sizeof work) == IK_ERR_TRIT &&
                 memcmp(got, chunks, 2 * IK_HASH_TRITS) == 0,
          "chains many trits", 0);
    check(t, ik_curl_chains_work_bytes() > 0 && ik_curl_chains_work_bytes() <= sizeof work, "chains many work bytes",
          (int)ik_curl_chains_work_bytes());
    check(t, ikp_chains_many(got, 3, times, 27, work, sizeof work, (ik_simd)9) == IK_ERR_UNSUPPORTED &&
                 ikp_chains_many(got, 3, times, 27, work, 100, IK_SIMD_PORTABLE) == IK_ERR_UNSUPPORTED,
          "chains many width range", 0);
}

static void test_kerl(tally *t)
{
    char out[3 * IK_HASH_TRYTES];
    int8_t trits[IK_HASH_TRITS];
    int8_t back[IK_HASH_TRITS];
    uint8_t bytes[IK_KERL_BYTES];
    ik_kerl k;
    int i;
    for (i = 0; kerl_cases[i].in; i++) {
        ik_status st = ik_kerl_hash_trytes(kerl_cases[i].in, strlen(kerl_cases[i].in), out, kerl_cases[i].length);
        check(t, st == IK_OK && memcmp(out, kerl_cases[i].hash, kerl_cases[i].length) == 0, "kerl", i);
    }
    for (i = 0; curl_cases[i].in; i++) { /* bytes <-> trits round trip on varied trits (trit 242 zeroed) */
        to_trits(curl_cases[i].hash, trits);
        trits[242] = 0;
        ik_kerl_trits_to_bytes(trits, bytes);
        ik_kerl_bytes_to_trits(bytes, back);
        check(t, memcmp(trits, back, IK_HASH_TRITS) == 0, "kerl bytes round trip", i);
    }
    memset(trits, 0, sizeof trits); /* every trit 1 except 242: the largest value, 0x5e69... */
    memset(trits, 1, 242);
    ik_kerl_trits_to_bytes(trits, bytes);
    check(t, bytes[0] == 0x5e && bytes[1] == 0x69 && bytes[47] == 0x64, "kerl max", 0);
    ik_kerl_init(&k);
    check(t, ik_kerl_absorb(&k, trits, 242) == IK_ERR_LENGTH && ik_kerl_squeeze(&k, trits, 100) == IK_ERR_LENGTH,
          "kerl lengths", 0);
    check(t, ik_kerl_hash_trytes("A", 1, out, 81) == IK_ERR_LENGTH, "kerl hash length", 0);
    check(t, ik_kerl_hash_trytes(kerl_cases[0].in ? kerl_cases[0].in : "", 81, out, 80) == IK_ERR_LENGTH,
          "kerl out length", 0);
}

static void test_iss(tally *t)
{
    static int8_t sig[IK_MAX_SECURITY * IK_FRAGMENT_TRITS];
    static int8_t key[IK_MAX_SECURITY * IK_FRAGMENT_TRITS];
    int8_t seed[IK_HASH_TRITS];
    int8_t addr[IK_HASH_TRITS];
    int8_t hash[IK_HASH_TRITS];
    int8_t norm[IK_HASH_TRYTES];
    int8_t sub[IK_HASH_TRITS];
    int8_t digests[IK_MAX_SECURITY * IK_HASH_TRITS];
    int8_t bad_chunk[27];
    int i;
    for (i = 0; address_cases[i].seed; i++) {
        to_trits(address_cases[i].seed, seed);
        check(t, ik_address(seed, address_cases[i].index, address_cases[i].security, addr) == IK_OK &&
                     trits_equal_trytes(addr, IK_HASH_TRITS, address_cases[i].address),
              "address", i);
    }
    for (i = 0; normalize_cases[i].bundle; i++) {
        to_trits(normalize_cases[i].bundle, hash);
        ik_normalize(hash, norm);
        check(t, memcmp(norm, normalize_cases[i].normalized, IK_HASH_TRYTES) == 0, "normalize", i);
    }
    for (i = 0; signature_cases[i].seed; i++) {
        unsigned sec = signature_cases[i].security;
        size_t n = sec * IK_FRAGMENT_TRITS;
        to_trits(signature_cases[i].seed, seed);
        to_trits(signature_cases[i].bundle, hash);
        to_trits(signature_cases[i].address, addr);
        ik_normalize(hash, norm);
        check(t, ik_sign(seed, signature_cases[i].index, sec, norm, sig) == IK_OK &&
                     trits_equal_trytes(sig, n, signature_cases[i].signature),
              "sign", i);
        check(t, ik_verify(addr, sig, sec, norm) == IK_OK, "verify", i);
        /* the same through the non-streaming API: key, fragments, digests, address */
        ik_subseed(seed, signature_cases[i].index, sub);
        check(t, ik_key(sub, sec, key) == IK_OK && ik_digests(key, n, digests) == IK_OK &&
                     ik_address_from_digests(digests, sec * IK_HASH_TRITS, hash) == IK_OK &&
                     memcmp(hash, addr, IK_HASH_TRITS) == 0,
              "key/digests/address", i);
        check(t, ik_signature_fragment(norm, key, key) == IK_OK && memcmp(key, sig, IK_FRAGMENT_TRITS) == 0,
              "signature fragment (in place)", i);
        check(t, ik_signature_digest(norm, sig, hash) == IK_OK && memcmp(hash, digests, IK_HASH_TRITS) == 0,
              "signature digest", i);
        sig[7] = (int8_t)(sig[7] == 1 ? 0 : sig[7] + 1);
        check(t, ik_verify(addr, sig, sec, norm) == IK_ERR_MISMATCH, "tampered signature", i);
    }
    memset(bad_chunk, 0, sizeof bad_chunk);
    bad_chunk[3] = 14;
    check(t, ik_key(seed, 0, key) == IK_ERR_VALUE && ik_key(seed, 4, key) == IK_ERR_VALUE, "key security", 0);
    check(t, ik_address(seed, 0, 4, addr) == IK_ERR_VALUE, "address security", 0);
    check(t, ik_signature_fragment(bad_chunk, key, sig) == IK_ERR_VALUE, "chunk range", 0);
    check(t, ik_digests(key, 100, digests) == IK_ERR_LENGTH, "digests length", 0);
    check(t, ik_verify(addr, sig, 0, norm) == IK_ERR_LENGTH, "verify no fragments", 0);
}

/* Whole MAM v0 verifications of payloads made by the official JS libraries: unmask the header, message and nonce
 * (each from a chunk boundary, as mam.js does), then the rest; the signature must open to a leaf that the siblings
 * fold to the root. Masking the rest again from the same sponge gives the payload back. */
static void test_mam(tally *t)
{
    static int8_t buf[3 * 7000];
    static int8_t again[3 * 7000];
    int8_t key[IK_HASH_TRITS];
    int8_t hmac[IK_HASH_TRITS];
    int8_t node[IK_HASH_TRITS];
    ik_curl c;
    ik_curl before;
    int i;
    for (i = 0; mam_cases[i].payload; i++) {
        size_t n = 3 * strlen(mam_cases[i].payload);
        size_t p_next = mam_cases[i].header;
        size_t p_msg = p_next + IK_HASH_TRITS;
        size_t p_nonce = p_msg + mam_cases[i].length;
        size_t p_rest = p_nonce + IK_NONCE_TRITS;
        size_t p_sib = p_rest + mam_cases[i].security * IK_FRAGMENT_TRITS + mam_cases[i].depth_trits;
        if (n + 3 > sizeof buf) {
            check(t, 0, "mam payload size", i);
            continue;
        }
        to_trits(mam_cases[i].payload, buf);
        ik_curl_init(&c, 27);
        to_trits(mam_cases[i].key, key);
        ik_curl_absorb(&c, key, IK_HASH_TRITS);
        to_trits(mam_cases[i].root, key);
        ik_curl_absorb(&c, key, IK_HASH_TRITS);
        ik_curl_absorb(&c, buf, p_next);
        ik_mam_unmask(&c, buf + p_next, IK_HASH_TRITS);
        ik_mam_unmask(&c, buf + p_msg, mam_cases[i].length);
        ik_mam_unmask(&c, buf + p_nonce, IK_NONCE_TRITS);
        memcpy(hmac, c.state, sizeof hmac);
        before = c;
        ik_mam_unmask(&c, buf + p_rest, n - p_rest);
        check(t, trits_equal_trytes(buf + p_msg, mam_cases[i].length, mam_cases[i].message) &&
                     trits_equal_trytes(buf + p_next, IK_HASH_TRITS, mam_cases[i].next_root),
              "mam unmask", i);
        check(t, ik_mam_leaf(hmac, buf + p_rest, mam_cases[i].security, node) == IK_OK, "mam leaf", i);
        ik_mam_fold(node, buf + p_sib, mam_cases[i].depth, mam_cases[i].index);
        check(t, trits_equal_trytes(node, IK_HASH_TRITS, mam_cases[i].root), "mam root", i);
        ik_mam_mask(&before, buf + p_rest, n - p_rest);
        to_trits(mam_cases[i].payload, again);
        check(t, memcmp(buf + p_rest, again + p_rest, n - p_rest) == 0 && memcmp(before.state, c.state, 729) == 0,
              "mam mask", i);
        /* the same in one call, then refusals: a signature trit, the root, a trailing tryte, the length */
        to_trits(mam_cases[i].key, key);
        {
            static char text[7000];
            static char payload[7001];
            char next_root[IK_HASH_TRYTES];
            char root[IK_HASH_TRYTES];
            ik_mam_parsed got;
            size_t len = n / 3;
            memcpy(payload, mam_cases[i].payload, len);
            memcpy(root, mam_cases[i].root, IK_HASH_TRYTES);
            check(t, ik_mam_parse(payload, len, root, key, buf, text, next_root, &got) == IK_OK &&
                         got.reason == IK_MAM_VERIFIED && got.index == mam_cases[i].index &&
                         got.security == mam_cases[i].security && got.depth == mam_cases[i].depth &&
                         got.message_trytes == mam_cases[i].length / 3 &&
                         memcmp(text, mam_cases[i].message, got.message_trytes) == 0 &&
                         memcmp(next_root, mam_cases[i].next_root, IK_HASH_TRYTES) == 0,
                  "mam parse", i);
            payload[len] = '9'; /* a 9 more is padding, anything else is not */
            check(t, ik_mam_parse(payload, len + 1, root, key, buf, text, next_root, &got) == IK_OK,
                  "mam parse padded", i);
            payload[len] = 'A';
            check(t, ik_mam_parse(payload, len + 1, root, key, buf, text, next_root, &got) == IK_ERR_MISMATCH &&
                         got.reason == IK_MAM_DECODE,
                  "mam parse trailing", i);
            root[40] = root[40] == 'A' ? 'B' : 'A';
            check(t, ik_mam_parse(payload, len, root, key, buf, text, next_root, &got) == IK_ERR_MISMATCH &&
                         got.reason == IK_MAM_NONCE,
                  "mam parse root", i);
            root[40] = mam_cases[i].root[40];
            check(t, ik_mam_parse(payload, len - (n / 3 - p_sib / 3) - 1, root, key, buf, text, next_root, &got) ==
                             IK_ERR_MISMATCH && got.reason == IK_MAM_DECODE,
                  "mam parse truncated", i);
            payload[1] = payload[1] == 'Z' ? 'Y' : 'Z';
            check(t, ik_mam_parse(payload, len, root, key, buf, text, next_root, &got) == IK_ERR_MISMATCH &&
                         got.reason != IK_MAM_VERIFIED,
                  "mam parse header", i);
            payload[1] = 'a';
            check(t, ik_mam_parse(payload, len, root, key, buf, text, next_root, &got) == IK_ERR_TRYTE,
                  "mam parse alphabet", i);
        }
    }
    memset(hmac, 0, sizeof hmac);
    check(t, ik_mam_leaf(hmac, buf, 0, node) == IK_ERR_VALUE && ik_mam_leaf(hmac, buf, 4, node) == IK_ERR_VALUE,
          "mam leaf security", 0);
    hmac[5] = 2;
    check(t, ik_mam_leaf(hmac, buf, 1, node) == IK_ERR_TRIT, "mam leaf trits", 0);
}

#ifdef KAT_SMALL
#define MANY_ITEMS 26 /* the first cases' variants: the buffers take under 2 MiB of the Cortex-M3's RAM */
#else
#define MANY_ITEMS 80
#endif
#define MANY_VARIANTS 8
#define MANY_POOL (MANY_ITEMS * 7200)

/* ik_mam_parse_many against ik_mam_parse item by item (status, reason and fields, message, next root): every MAM
 * case as is and tampered (a tryte of the signature, of the message, of the last sibling; the root; a tryte cut
 * off; a trailing A; a bad character; a bad side key trit), in one batch, with the whole scratch, a scratch for
 * one payload at a time with byte-wise chains, and one too small. */
/* Point batch item ``it`` (its n already set) at payload p and its buffers, and fill ``want`` with what ik_mam_parse
 * returns for it alone, into buffers of its own. */
static void expect_item(ik_mam_item *it, ik_mam_item *want, const char *p, const char *root, const int8_t *key,
                        int8_t *work, char *message, char *next_root, char *want_message, char *want_next)
{
    it->payload = p;
    it->root = root;
    it->key = key;
    it->work = work;
    it->message = message;
    it->next_root = next_root;
    *want = *it;
    want->message = want_message;
    want->next_root = want_next;
    want->status = ik_mam_parse(p, it->n, root, key, work, want_message, want_next, &want->parsed);
}

/* 1 when each item of ``got`` has the status, parse and (when IK_OK) message and next root of ``want``; each that
 * differs is a failed check ``what`` numbered ``base`` + its index. */
static int same_items(tally *t, const ik_mam_item *got, const ik_mam_item *want, size_t n, const char *what, int base)
{
    int same = 1;
    size_t i;
    for (i = 0; i < n; i++) {
        const ik_mam_item *a = &got[i];
        const ik_mam_item *b = &want[i];
        int ok = a->status == b->status && memcmp(&a->parsed, &b->parsed, sizeof a->parsed) == 0;
        if (ok && a->status == IK_OK) {
            ok = memcmp(a->message, b->message, b->parsed.message_trytes) == 0 &&
                 memcmp(a->next_root, b->next_root, IK_HASH_TRYTES) == 0;
        }
        if (!ok) {
            check(t, 0, what, base + (int)i);
        }
        same = same && ok;
    }
    return same;
}

static void test_mam_many(tally *t)
{
    static char payloads[MANY_POOL];
    static int8_t works[3 * MANY_POOL];
    static char messages[MANY_POOL];
    static char want_messages[MANY_POOL];
    static char roots[MANY_ITEMS][IK_HASH_TRYTES];
    static char next_roots[MANY_ITEMS][IK_HASH_TRYTES];
    static char want_next[MANY_ITEMS][IK_HASH_TRYTES];
    static int8_t keys[MANY_ITEMS][IK_HASH_TRITS];
    static ik_mam_item items[MANY_ITEMS];
    static ik_mam_item want[MANY_ITEMS];
    static uint64_t scratch[(CHAIN_WORK_BYTES + MANY_ITEMS * 21000) / 8];
    size_t used = 0;
    size_t m = 0;
    size_t sizes[3];
    unsigned reasons = 0;
    int i;
    int v;
    int k;
    for (i = 0; mam_cases[i].payload; i++) {
        size_t len = strlen(mam_cases[i].payload);
        size_t p_rest = (mam_cases[i].header + IK_HASH_TRITS + mam_cases[i].length + IK_NONCE_TRITS) / 3;
        for (v = 0; v < MANY_VARIANTS && m < MANY_ITEMS && used + len + 2 <= MANY_POOL; v++, m++) {
            ik_mam_item *it = &items[m];
            char *p = payloads + used;
            size_t at = 0;
            memcpy(p, mam_cases[i].payload, len);
            memcpy(roots[m], mam_cases[i].root, IK_HASH_TRYTES);
            to_trits(mam_cases[i].key, keys[m]);
            it->n = len;
            switch (v) {
            case 1: at = p_rest + 100 + (size_t)i; break;       /* signature */
            case 2: at = mam_cases[i].header / 3 + 81 + 3; break; /* message */
            case 3: at = len - 20; break;                        /* last sibling (or the sibling count) */
            case 4: roots[m][i % 81] = roots[m][i % 81] == 'Z' ? '9' : 'Z'; break;
            case 5: it->n = len - 1 - (size_t)i % 3; break;
            case 6: p[len] = 'A'; it->n = len + 1; break;
            case 7: p[i % 7] = i % 2 ? 'a' : '!'; if (i % 3 == 0) keys[m][i] = 2; break;
            default: break;
            }
            if (at) {
                p[at] = p[at] == 'A' ? 'B' : 'A';
            }
            expect_item(it, &want[m], p, roots[m], keys[m], works + 3 * used, messages + used, next_roots[m],
                        want_messages + used, want_next[m]);
            reasons |= 1u << (want[m].status == IK_OK ? 0 : want[m].status == IK_ERR_MISMATCH ? want[m].parsed.reason
                                                                                             : (uint32_t)(4 + want[m].status));
            used += len + 2;
        }
    }
    sizes[0] = ik_mam_parse_many_scratch(m, 3);
    sizes[1] = ik_mam_parse_many_scratch(1, 3) - ik_curl_chains_work_bytes();
    sizes[2] = sizes[1] - 1;
    check(t, sizes[0] <= sizeof scratch && m >= 8, "mam many setup", (int)m);
    /* verified, refused as decode, nonce and signature, bad characters and key trits among the cases */
    check(t, (reasons & 0x17) == 0x17 && (reasons & (1u << (4 + IK_ERR_TRYTE))) && (reasons & (1u << (4 + IK_ERR_TRIT))),
          "mam many coverage", (int)reasons);
    for (k = 0; k < 3; k++) {
        size_t j;
        for (j = 0; j < m; j++) {
            items[j].status = -1;
            memset(&items[j].parsed, 0xa5, sizeof items[j].parsed);
        }
        if (k == 2) {
            check(t, ik_mam_parse_many(items, m, scratch, sizes[k]) == IK_ERR_LENGTH && items[0].status == -1,
                  "mam many scratch too small", k);
            continue;
        }
        check(t, sizes[k] <= sizeof scratch && ik_mam_parse_many(items, m, scratch, sizes[k]) == IK_OK,
              "mam many", k);
        check(t, same_items(t, items, want, m, "mam many item", 100 * (int)k), "mam many == parse", k);
    }
    check(t, ik_mam_parse_many(items, 0, scratch, sizes[1]) == IK_OK, "mam many empty", 0);
}

static int8_t trit_wrap(int v)
{
    return (int8_t)(v > 1 ? v - 3 : (v < -1 ? v + 3 : v));
}

static void random_trits(int8_t *trits, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        trits[i] = (int8_t)((int)(kat_random() % 3u) - 1);
    }
}

#define LANES_WORK_BYTES (IKL_MAX_GROUPS * 7000 + 64)

/* The byte-sliced sponges (lanes.c, on each width here) against one ik_curl per lane: steps of random chunks per lane
 * (absorbed or unmasked, 243 trits or fewer, into the source or elsewhere), some lanes idle, fresh sponges and chain
 * links among them; lane counts around the group size, 27 and 81 rounds. Every lane's rate and unmasked trits are
 * compared after every step. */
static void test_lanes(tally *t)
{
    static uint64_t work[LANES_WORK_BYTES / 8];
    static ik_curl ref[IKL_MAX_LANES];
    static int8_t src[IKL_MAX_LANES][IK_HASH_TRITS];
    static int8_t dst[IKL_MAX_LANES][IK_HASH_TRITS];
    static int8_t want[IKL_MAX_LANES][IK_HASH_TRITS];
    static int8_t rate[IKL_MAX_LANES][IK_HASH_TRITS];
    static const unsigned counts[] = {1, 2, 7, 8, 9, 17, 24, IKL_MAX_LANES};
#ifdef KAT_SMALL
    enum { STEPS = 4, COUNTS = 4 };
#else
    enum { STEPS = 12, COUNTS = sizeof counts / sizeof counts[0] };
#endif
    ikl_op ops[IKL_MAX_LANES];
    int8_t *rows[IKL_MAX_LANES];
    unsigned rounds;
    unsigned ci;
    int s;
    int case_no = 0;
    check(t, ikl_work_bytes(IKL_MAX_GROUPS) <= sizeof work, "lanes work bytes", (int)ikl_work_bytes(IKL_MAX_GROUPS));
    for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
        for (rounds = 27; rounds <= 81; rounds += 54) {
            for (ci = 0; ci < COUNTS; ci++) {
                unsigned lanes = counts[ci];
                ikl_unit u;
                unsigned step;
                unsigned l;
                int same = 1;
                unsigned cap = ikl_init(&u, work, sizeof work, lanes, rounds, (ik_simd)s);
                if (!ik_pow_simd_supported((ik_simd)s)) {
                    check(t, cap == 0, "lanes width refused", s);
                    break;
                }
                check(t, cap >= lanes, "lanes init", case_no);
                for (l = 0; l < lanes; l++) {
                    ik_curl_init(&ref[l], rounds);
                }
                for (step = 0; step < STEPS; step++) {
                    for (l = 0; l < lanes; l++) {
                        uint32_t r = kat_random();
                        unsigned kind = r % 8u;
                        unsigned n = (r >> 8) % 3u == 0 ? 1u + (r >> 12) % 243u : IK_HASH_TRITS;
                        ik_curl *c = &ref[l];
                        size_t i;
                        memset(&ops[l], 0, sizeof ops[l]);
                        if (kind == 6 || (step == 0 && kind == 7)) { /* a fresh sponge, then a chunk */
                            ops[l].reset = 1;
                            ik_curl_init(c, rounds);
                            kind = 1;
                        }
                        random_trits(src[l], IK_HASH_TRITS);
                        if (kind >= 1 && kind <= 5) {
                            ops[l].src = src[l];
                            ops[l].n = (uint16_t)n;
                        }
                        if (kind == 1 || kind == 2 || kind == 7) { /* absorbed (kind 7: a chain link, no chunk) */
                            memcpy(c->state, src[l], kind == 7 ? 0 : n);
                        } else if (kind >= 3 && kind <= 5) { /* unmasked into dst, or in place */
                            for (i = 0; i < n; i++) {
                                want[l][i] = trit_wrap(src[l][i] - c->state[i]);
                            }
                            memcpy(c->state, want[l], n);
                            memcpy(dst[l], src[l], IK_HASH_TRITS);
                            ops[l].dst = kind == 5 ? src[l] : dst[l];
                            if (kind == 5) {
                                memcpy(dst[l], src[l], IK_HASH_TRITS); /* what is past n must stay */
                            }
                        }
                        if (kind == 7 || (kind == 2 && (r >> 20) % 2u)) {
                            ops[l].chain = 1;
                            memset(c->state + IK_HASH_TRITS, 0, IK_CURL_STATE_TRITS - IK_HASH_TRITS);
                        }
                        ik_curl_transform(c->state, rounds); /* every lane's state, also of an idle lane */
                    }
                    ikl_step(&u, ops, lanes);
                    for (l = 0; l < lanes; l++) {
                        rows[l] = rate[l];
                        if (ops[l].dst) {
                            const int8_t *out = ops[l].dst;
                            int8_t *keep = ops[l].dst == src[l] ? dst[l] : src[l]; /* the untouched copy */
                            same = same && memcmp(out, want[l], ops[l].n) == 0 &&
                                   memcmp(out + ops[l].n, keep + ops[l].n, IK_HASH_TRITS - ops[l].n) == 0;
                        }
                    }
                    ikl_rate(&u, rows, lanes);
                    for (l = 0; l < lanes; l++) {
                        same = same && memcmp(rate[l], ref[l].state, IK_HASH_TRITS) == 0;
                    }
                }
                check(t, same, "lanes == curl", 1000 * s + case_no);
                case_no++;
            }
        }
    }
    check(t, ikl_init(&(ikl_unit){0}, work, 100, 8, 27, IK_SIMD_AUTO) == 0, "lanes work too small", 0);
}

/* Balanced trits of value (n of them; the value must fit). */
static void int_trits(uint64_t value, int8_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned r = (unsigned)(value % 3u);
        out[i] = (int8_t)(r == 2 ? -1 : (int)r);
        value = value / 3u + (r == 2);
    }
}

/* MAM's pascal encoding of value (mam.py pascal_otrits): trits out, returns their count. */
static size_t pascal_put(int8_t *out, uint64_t value)
{
    unsigned n = 1;
    uint64_t basis = 1;
    size_t m;
    size_t i;
    uint64_t encoding = 0;
    if (value == 0) {
        out[0] = 1;
        out[1] = 0;
        out[2] = 0;
        out[3] = -1;
        return 4;
    }
    while (value > basis) {
        basis = 3 * basis + 1;
        n++;
    }
    m = (n + 2) / 3;
    int_trits(value, out, 3 * m);
    for (i = 0; i < m; i++) {
        int8_t *p = out + 3 * i;
        int v = p[0] + 3 * p[1] + 9 * p[2];
        if (i < m - 1 ? v >= 0 : v < 0) {
            encoding |= (uint64_t)1 << i;
            p[0] = (int8_t)-p[0];
            p[1] = (int8_t)-p[1];
            p[2] = (int8_t)-p[2];
        }
    }
    int_trits(encoding, out + 3 * m, m);
    return 4 * m;
}

static unsigned hmac_security(const int8_t hmac[IK_HASH_TRITS])
{
    int sum = 0;
    unsigned i;
    for (i = 0; i < 3 * IK_NONCE_TRITS; i++) {
        sum += hmac[i];
        if (i % IK_NONCE_TRITS == IK_NONCE_TRITS - 1 && sum == 0) {
            return i / IK_NONCE_TRITS + 1;
        }
    }
    return 0;
}

/* A MAM v0 payload that verifies, built as mam.js builds one but from a random private key (security x 27 segments of
 * 243 trits; the public segments are each hashed 26 times), random siblings and a searched nonce (until the message
 * hash has exactly this security): trytes into out (returns their count, a few trailing 9s included), its root into
 * root, and where the nonce's trytes start into nonce_tryte. key: the side key trits. trits: room for the payload's
 * trits (3 x the trytes). */
static size_t mam_make(unsigned security, size_t msg_trytes, unsigned depth, uint64_t index,
                       const int8_t key[IK_HASH_TRITS], char root[IK_HASH_TRYTES], char *out, int8_t *trits,
                       size_t *nonce_tryte)
{
    static int8_t priv[IK_MAX_SECURITY * IK_FRAGMENT_TRITS];
    static int8_t sig[IK_MAX_SECURITY * IK_FRAGMENT_TRITS];
    int8_t state[IK_CURL_STATE_TRITS];
    int8_t node[IK_HASH_TRITS];
    int8_t hmac[IK_HASH_TRITS];
    int8_t nonce[IK_NONCE_TRITS];
    int8_t *siblings;
    ik_curl c;
    ik_curl tried;
    size_t segs = 27 * security;
    size_t p_next;
    size_t p_rest;
    size_t pos;
    size_t j;
    size_t pad = kat_random() % 4u;
    random_trits(priv, segs * IK_HASH_TRITS);
    for (j = 0; j < segs; j++) { /* halfway: hashed 13 times, what an all-zero message hash would sign */
        memset(state, 0, sizeof state);
        memcpy(state, priv + j * IK_HASH_TRITS, IK_HASH_TRITS);
        ik_curl_chain(state, 13, 27);
        memcpy(sig + j * IK_HASH_TRITS, state, IK_HASH_TRITS);
    }
    memset(hmac, 0, sizeof hmac);
    (void)ik_mam_leaf(hmac, sig, security, node);
    pos = pascal_put(trits, index);
    pos += pascal_put(trits + pos, 3 * msg_trytes);
    p_next = pos;
    p_rest = p_next + IK_HASH_TRITS + 3 * msg_trytes + IK_NONCE_TRITS;
    siblings = trits + p_rest + segs * IK_HASH_TRITS + 64; /* built there, moved after the sibling count below */
    random_trits(siblings, (size_t)depth * IK_HASH_TRITS);
    ik_mam_fold(node, siblings, depth, index);
    (void)ik_trits_to_trytes(node, IK_HASH_TRITS, root);
    random_trits(trits + p_next, IK_HASH_TRITS + 3 * msg_trytes);
    ik_curl_init(&c, 27);
    ik_curl_absorb(&c, key, IK_HASH_TRITS);
    ik_curl_absorb(&c, node, IK_HASH_TRITS);
    ik_curl_absorb(&c, trits, p_next);
    ik_mam_mask(&c, trits + p_next, IK_HASH_TRITS);
    ik_mam_mask(&c, trits + p_next + IK_HASH_TRITS, 3 * msg_trytes);
    do {
        tried = c;
        random_trits(nonce, IK_NONCE_TRITS);
        memcpy(trits + p_rest - IK_NONCE_TRITS, nonce, IK_NONCE_TRITS);
        ik_mam_mask(&tried, trits + p_rest - IK_NONCE_TRITS, IK_NONCE_TRITS);
    } while (hmac_security(tried.state) != security);
    c = tried;
    *nonce_tryte = (p_rest - IK_NONCE_TRITS + 2) / 3;
    memcpy(hmac, c.state, IK_HASH_TRITS);
    for (j = 0; j < segs; j++) { /* signature segment j: hashed 13 - v_j times, so the verifier's 13 + v_j reach 26 */
        const int8_t *v = hmac + 3 * j;
        memset(state, 0, sizeof state);
        memcpy(state, priv + j * IK_HASH_TRITS, IK_HASH_TRITS);
        ik_curl_chain(state, (unsigned)(13 - v[0] - 3 * v[1] - 9 * v[2]), 27);
        memcpy(trits + p_rest + j * IK_HASH_TRITS, state, IK_HASH_TRITS);
    }
    pos = p_rest + segs * IK_HASH_TRITS;
    {
        int8_t count[64];
        size_t k = pascal_put(count, depth);
        memmove(trits + pos + k, siblings, (size_t)depth * IK_HASH_TRITS);
        memcpy(trits + pos, count, k);
        pos += k + (size_t)depth * IK_HASH_TRITS;
    }
    ik_mam_mask(&c, trits + p_rest, pos - p_rest);
    while (pos % 3 != 0) {
        trits[pos++] = 0;
    }
    (void)ik_trits_to_trytes(trits, pos, out);
    memset(out + pos / 3, '9', pad);
    return pos / 3 + pad;
}

#ifdef KAT_SMALL
#define RANDOM_MAM 6
#define RANDOM_MAM_TRYTES 5200
#else
#define RANDOM_MAM 60
#define RANDOM_MAM_TRYTES 7800 /* security 3, 600 message trytes, 5 siblings */
#endif
#define RANDOM_MAM_POOL (RANDOM_MAM * RANDOM_MAM_TRYTES)

/* ik_mam_parse_many against ik_mam_parse item by item on random payloads built here (mam_make): securities 1..3 (1
 * and 2 on emulated targets), messages of 0..600 trytes, 0..5 siblings, side keys or none, each either as built (it
 * must verify) or tampered (a tryte of the message, the nonce, the signature or a sibling changed, one cut off, a
 * wrong root), in a shuffled batch: with the whole scratch (one pass, the sponges byte-sliced), a scratch of a few
 * payloads (several windows and passes) and one without room for the bit planes (byte-wise). */
static void test_mam_random(tally *t)
{
    static char payloads[RANDOM_MAM_POOL];
    static int8_t works[3 * RANDOM_MAM_POOL];
    static char messages[RANDOM_MAM_POOL];
    static char want_messages[RANDOM_MAM_POOL];
    static int8_t trits[3 * RANDOM_MAM_TRYTES];
    static char roots[RANDOM_MAM][IK_HASH_TRYTES];
    static char next_roots[RANDOM_MAM][IK_HASH_TRYTES];
    static char want_next[RANDOM_MAM][IK_HASH_TRYTES];
    static int8_t keys[RANDOM_MAM][IK_HASH_TRITS];
    static ik_mam_item items[RANDOM_MAM];
    static ik_mam_item want[RANDOM_MAM];
    static uint64_t scratch[(CHAIN_WORK_BYTES + RANDOM_MAM * 21000) / 8];
    size_t used = 0;
    size_t sizes[3];
    unsigned verified = 0;
    unsigned valid = 0;
    unsigned k;
    size_t i;
    for (i = 0; i < RANDOM_MAM; i++) {
        uint32_t r = kat_random();
#ifdef KAT_SMALL
        unsigned security = 1 + (i % 4 == 3);
        size_t msg = (r >> 4) % 120u;
#else
        unsigned security = 1 + (unsigned)(i % 3);
        size_t msg = (r >> 4) % 3u == 0 ? (r >> 6) % 600u : (r >> 6) % 90u;
#endif
        unsigned depth = (r >> 16) % 6u;
        size_t nonce_at;
        uint64_t index = depth ? (r >> 20) % (1u << depth) : 0;
        unsigned tamper = (r >> 24) % 3u ? 0 : 1 + (r >> 26) % 6u;
        ik_mam_item *it = &items[i];
        char *p = payloads + used;
        size_t len;
        if (r % 3u == 0) {
            random_trits(keys[i], IK_HASH_TRITS);
        } else {
            memset(keys[i], 0, IK_HASH_TRITS);
        }
        len = mam_make(security, msg, depth, index, keys[i], roots[i], p, trits, &nonce_at);
        it->n = len;
        switch (tamper) {
        case 1: p[40 + msg / 2] = p[40 + msg / 2] == 'A' ? 'B' : 'A'; break;      /* next root or message */
        case 2: p[len / 2] = p[len / 2] == 'Z' ? 'Y' : 'Z'; break;                /* signature */
        case 3: p[len - 30] = p[len - 30] == '9' ? 'M' : '9'; break;              /* sibling, count or padding */
        case 4: it->n = len - 1 - r % 5u; break;                                  /* cut off */
        case 5: roots[i][r % 81u] = roots[i][r % 81u] == '9' ? 'N' : '9'; break; /* root */
        case 6: p[nonce_at + 9] = p[nonce_at + 9] == 'A' ? 'C' : 'A'; break;     /* nonce */
        default: valid++; break;
        }
        expect_item(it, &want[i], p, roots[i], keys[i], works + 3 * used, messages + used, next_roots[i],
                    want_messages + used, want_next[i]);
        verified += want[i].status == IK_OK;
        if (!tamper) {
            check(t, want[i].status == IK_OK && want[i].parsed.security == security &&
                         want[i].parsed.depth == depth && want[i].parsed.index == index &&
                         want[i].parsed.message_trytes == msg,
                  "mam random made", (int)i);
        }
        used += RANDOM_MAM_TRYTES;
    }
    check(t, verified >= valid && verified < RANDOM_MAM, "mam random mix", (int)verified);
    sizes[0] = ik_mam_parse_many_scratch(RANDOM_MAM, 3);
    sizes[1] = ik_mam_parse_many_scratch(3, 2); /* the bit planes and about three payloads a pass */
    sizes[2] = ik_mam_parse_many_scratch(1, 3) - ik_curl_chains_work_bytes();
    for (k = 0; k < 3; k++) {
        for (i = 0; i < RANDOM_MAM; i++) {
            items[i].status = -1;
            memset(&items[i].parsed, 0x5a, sizeof items[i].parsed);
        }
        check(t, sizes[k] <= sizeof scratch && ik_mam_parse_many(items, RANDOM_MAM, scratch, sizes[k]) == IK_OK,
              "mam random many", (int)k);
        check(t, same_items(t, items, want, RANDOM_MAM, "mam random item", 1000 * (int)k), "mam random many == parse",
              (int)k);
    }
}

/* Bundle hashes of PyOTA bundles from the tail's obsolete tag before its M-bug increments. */
static void test_bundle(tally *t)
{
    static int8_t essences[10 * 486];
    int8_t hash[IK_HASH_TRITS];
    int i;
    for (i = 0; bundle_cases[i].essences; i++) {
        size_t n = strlen(bundle_cases[i].essences);
        if (3 * n > sizeof essences) {
            check(t, 0, "bundle size", i);
            continue;
        }
        to_trits(bundle_cases[i].essences, essences);
        check(t, ik_bundle_finalize(essences, n / 162, hash) == IK_OK &&
                     trits_equal_trytes(hash, IK_HASH_TRITS, bundle_cases[i].hash) &&
                     trits_equal_trytes(essences + 324, 81, bundle_cases[i].tag),
              "bundle finalize", i);
    }
    check(t, ik_bundle_finalize(essences, 0, hash) == IK_ERR_LENGTH, "bundle empty", 0);
    essences[400] = -2;
    check(t, ik_bundle_finalize(essences, 1, hash) == IK_ERR_TRIT, "bundle trits", 0);
    essences[400] = 0;
    essences[3 * 486 - 1] = 2;
    check(t, ik_bundle_finalize(essences, 3, hash) == IK_ERR_TRIT, "bundle trits", 1);
}

static uint32_t kat_rng = 0x2545f491u;

static uint32_t kat_random(void)
{
    kat_rng ^= kat_rng << 13;
    kat_rng ^= kat_rng >> 17;
    kat_rng ^= kat_rng << 5;
    return kat_rng;
}

static unsigned reference_wraps; /* tags that went from 'M...M' to 'N...N' */

/* The M-bug loop one try at a time, from the public Kerl and ik_normalize (the form bundle.c keeps for 32-bit
 * targets); returns the number of tries. */
static unsigned bundle_reference(int8_t *essences, size_t n_tx, int8_t hash[IK_HASH_TRITS])
{
    unsigned tries = 1;
    for (;; tries++) {
        ik_kerl k;
        int8_t normalized[IK_HASH_TRYTES];
        int i;
        ik_kerl_init(&k);
        ik_kerl_absorb(&k, essences, n_tx * 486);
        ik_kerl_squeeze(&k, hash, IK_HASH_TRITS);
        ik_normalize(hash, normalized);
        for (i = 0; i < IK_HASH_TRYTES && normalized[i] != 13; i++) {
        }
        if (i == IK_HASH_TRYTES) {
            return tries;
        }
        for (i = 324; i < 405; i++) { /* obsolete tag + 1, the carry out of its last trit dropped */
            if (essences[i] < 1) {
                essences[i]++;
                break;
            }
            essences[i] = -1;
        }
        reference_wraps += i == 405;
    }
}

/* ik_bundle_finalize (on whichever width this build and CPU pick: the host tests build it with each) against the
 * reference on random bundles of 1..6 transactions (some of 7..10, past the blocks bundle.c keeps converted), a
 * quarter with a tag a few increments below 'M...M' (so the wrap to 'N...N' falls inside the tries) and some
 * exactly 'M...M'. Same tag, same hash, nothing else written (the whole buffers compared). */
static void test_bundle_random(tally *t)
{
#ifdef KAT_SMALL
    enum { CASES = 150 };
#else
    enum { CASES = 2000 };
#endif
    static int8_t a[10 * 486];
    static int8_t b[10 * 486];
    int8_t ha[IK_HASH_TRITS];
    int8_t hb[IK_HASH_TRITS];
    unsigned most = 0;
    int i;
    for (i = 0; i < CASES; i++) {
        size_t n_tx = 1 + kat_random() % 6;
        size_t j;
        unsigned tries;
        if (i % 97 == 5) {
            n_tx = 7 + kat_random() % 4;
        }
        for (j = 0; j < n_tx * 486; j++) {
            a[j] = (int8_t)((int)(kat_random() % 3u) - 1);
        }
        if (i % 4 == 1) { /* 'M...M' less a few: the trits above a random few are 1 */
            for (j = 324 + kat_random() % 7; j < 405; j++) {
                a[j] = 1;
            }
        } else if (i % 16 == 2) {
            memset(a + 324, 1, 81);
        }
        memcpy(b, a, n_tx * 486);
        tries = bundle_reference(a, n_tx, ha);
        most = tries > most ? tries : most;
        check(t, ik_bundle_finalize(b, n_tx, hb) == IK_OK && memcmp(a, b, sizeof a) == 0 &&
                     memcmp(ha, hb, IK_HASH_TRITS) == 0,
              "bundle random", i);
    }
    /* the cases did reach long searches and wrapped tags */
    check(t, most >= (CASES >= 1000 ? 400u : 100u), "bundle random tries", (int)most);
    check(t, reference_wraps >= CASES / 40, "bundle random wraps", (int)reference_wraps);
}

/* value as 9 trytes, balanced (the test's own conversion, through trits). */
static void ts_trytes(int64_t value, char out[9])
{
    int8_t trits[27];
    int i;
    for (i = 0; i < 27; i++) {
        int r = (int)(((value % 3) + 3) % 3);
        trits[i] = (int8_t)(r == 2 ? -1 : r);
        value = (value - trits[i]) / 3;
    }
    (void)ik_trits_to_trytes(trits, 27, out);
}

/* ik_bundle_message against the transactions laid out here around ik_bundle_finalize: random addresses, tags and
 * messages of 0..6600 trytes (1..4 transactions), timestamps across the 27-trit range; then the refusals. */
static void test_bundle_message(tally *t)
{
    static const char alphabet[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static char message[6600];
    static char out[4 * IK_TX_TRYTES];
    static char want[4 * IK_TX_TRYTES];
    static int8_t work[4 * 486];
    static int8_t essences[4 * 486];
    const int64_t max_ts = 3812798742493ll;
#ifdef KAT_SMALL
    enum { CASES = 12 };
#else
    enum { CASES = 150 };
#endif
    char address[IK_HASH_TRYTES];
    char tag[27];
    int8_t hash[IK_HASH_TRITS];
    int c;
    for (c = 0; c < CASES; c++) {
        uint32_t r = kat_random();
        size_t n = c % 5 == 0 ? (size_t)(c % 3) * 2187 : kat_random() % 6600u;
        size_t n_tx = n == 0 ? 1 : (n + 2186) / 2187;
        int64_t ts = c == 1 ? max_ts : c == 2 ? -max_ts : (int64_t)(r % 2000000000u) - (c % 7 == 3 ? 1000000000 : 0);
        size_t i;
        for (i = 0; i < IK_HASH_TRYTES; i++) {
            address[i] = alphabet[kat_random() % 27u];
        }
        for (i = 0; i < 27; i++) {
            tag[i] = i < (r >> 24) % 28u ? alphabet[kat_random() % 27u] : '9';
        }
        for (i = 0; i < n; i++) {
            message[i] = alphabet[kat_random() % 27u];
        }
        memset(want, '9', n_tx * IK_TX_TRYTES);
        for (i = 0; i < n_tx; i++) {
            char *tx = want + i * IK_TX_TRYTES;
            size_t len = i + 1 < n_tx ? 2187 : n - i * 2187;
            memcpy(tx, message + i * 2187, len);
            memcpy(tx + 2187, address, 81);
            memcpy(tx + 2295, tag, 27);
            ts_trytes(ts, tx + 2322);
            ts_trytes((int64_t)i, tx + 2331);
            ts_trytes((int64_t)n_tx - 1, tx + 2340);
            memcpy(tx + 2592, tag, 27);
            (void)ik_trytes_to_trits(tx + 2187, 162, essences + i * 486);
        }
        (void)ik_bundle_finalize(essences, n_tx, hash);
        (void)ik_trits_to_trytes(essences + 324, 81, want + 2295);
        for (i = 0; i < n_tx; i++) {
            (void)ik_trits_to_trytes(hash, 243, want + i * IK_TX_TRYTES + 2349);
        }
        memset(out, 0, sizeof out);
        check(t, ik_bundle_message(address, tag, message, n, ts, work, out) == IK_OK &&
                     memcmp(out, want, n_tx * IK_TX_TRYTES) == 0,
              "bundle message", c);
    }
    message[5] = 'a';
    check(t, ik_bundle_message(address, tag, message, 100, 0, work, out) == IK_ERR_TRYTE, "bundle message trytes", 0);
    message[5] = 'A';
    address[80] = '!';
    check(t, ik_bundle_message(address, tag, message, 100, 0, work, out) == IK_ERR_TRYTE, "bundle message trytes", 1);
    address[80] = 'A';
    tag[0] = 'z';
    check(t, ik_bundle_message(address, tag, message, 100, 0, work, out) == IK_ERR_TRYTE, "bundle message trytes", 2);
    tag[0] = 'A';
    check(t, ik_bundle_message(address, tag, message, 100, max_ts + 1, work, out) == IK_ERR_VALUE &&
                 ik_bundle_message(address, tag, message, 100, -max_ts - 1, work, out) == IK_ERR_VALUE,
          "bundle message timestamp", 0);
}

static void test_pow(tally *t)
{
    static int8_t tx[IK_TX_TRITS];
    int8_t nonce[IK_NONCE_TRITS];
    char nonce_trytes[IK_NONCE_TRYTES];
    ik_pow_control ctl;
    int s;
    if (!transaction_cases[0].trytes) {
        return;
    }
    for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
        unsigned threads;
        if (!ik_pow_simd_supported((ik_simd)s)) {
            continue;
        }
        for (threads = 1; threads <= 2; threads++) {
            ik_status st;
            to_trits(transaction_cases[s % 4].trytes, tx);
            memset(&ctl, 0, sizeof ctl);
            st = ik_pow_search_threads(tx, KAT_POW_MWM, (ik_simd)s, threads, &ctl, nonce);
#ifdef IK_NO_THREADS
            if (threads > 1) {
                check(t, st == IK_ERR_UNSUPPORTED, "pow threads unsupported", s);
                continue;
            }
#endif
            memcpy(tx + IK_TX_TRITS - IK_NONCE_TRITS, nonce, IK_NONCE_TRITS);
            check(t, st == IK_OK && ctl.found == 1 && ctl.trials >= ik_pow_simd_lanes((ik_simd)s) &&
                         weight(tx) >= KAT_POW_MWM,
                  "pow", s * 10 + (int)threads);
        }
    }
    to_trits(transaction_cases[0].trytes, tx);
    memset(&ctl, 0, sizeof ctl);
    check(t, ik_pow_search(tx, 0, IK_SIMD_AUTO, 0, 1, &ctl, nonce) == IK_OK, "pow mwm 0", 0);
    memset(&ctl, 0, sizeof ctl);
    ctl.cancel = 1;
    check(t, ik_pow_search(tx, 243, IK_SIMD_AUTO, 0, 1, &ctl, nonce) == IK_ERR_CANCELLED, "pow cancelled", 0);
    memset(&ctl, 0, sizeof ctl);
    ctl.found = 1; /* a sibling already won */
    check(t, ik_pow_search(tx, 1, IK_SIMD_AUTO, 1, 2, &ctl, nonce) == IK_ERR_CANCELLED, "pow sibling won", 0);
    memset(&ctl, 0, sizeof ctl);
    check(t, ik_pow_search(tx, 244, IK_SIMD_AUTO, 0, 1, &ctl, nonce) == IK_ERR_VALUE, "pow mwm range", 0);
    check(t, ik_pow_search(tx, 5, IK_SIMD_AUTO, 2, 2, &ctl, nonce) == IK_ERR_VALUE, "pow part range", 0);
    check(t, ik_pow_search(tx, 5, IK_SIMD_AUTO, 0, 0, &ctl, nonce) == IK_ERR_VALUE, "pow parts range", 0);
    check(t, ik_pow_search(tx, 5, (ik_simd)9, 0, 1, &ctl, nonce) == IK_ERR_VALUE, "pow simd range", 0);
    check(t, ik_pow_search_threads(tx, 5, IK_SIMD_AUTO, 0, &ctl, nonce) == IK_ERR_VALUE, "pow threads range", 0);
    tx[100] = 3;
    check(t, ik_pow_search(tx, 5, IK_SIMD_AUTO, 0, 1, &ctl, nonce) == IK_ERR_TRIT, "pow trit range", 0);
    memset(&ctl, 0, sizeof ctl);
    check(t, ik_pow_search_trytes(transaction_cases[1].trytes, 3, IK_SIMD_PORTABLE, 1, &ctl, nonce_trytes) == IK_OK,
          "pow trytes", 0);
}

static int trailing_zero_trits(const char hash[IK_HASH_TRYTES])
{
    int8_t h[IK_HASH_TRITS];
    int z = 0;
    int i;
    ik_trytes_to_trits(hash, IK_HASH_TRYTES, h);
    for (i = IK_HASH_TRITS - 1; i >= 0 && h[i] == 0; i--) {
        z++;
    }
    return z;
}

static void random_tx(char tx[IK_TX_TRYTES])
{
    static const char alphabet[] = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int i;
    for (i = 0; i < IK_TX_TRYTES; i++) {
        tx[i] = alphabet[kat_random() % 27u];
    }
}

/* One search with its hash: the nonce has the weight, the hash is Curl-P-81 of the transaction with that nonce
 * (ik_curl_hash_trytes from scratch); with one thread and mwm up to 8 the nonce is ik_pow_search_trytes's. */
static int pow_hash_ok(const char *tx, unsigned mwm, ik_simd simd, unsigned threads)
{
    static char done[IK_TX_TRYTES];
    char nonce[IK_NONCE_TRYTES];
    char hash[IK_HASH_TRYTES];
    char nonce1[IK_NONCE_TRYTES];
    char expect[IK_HASH_TRYTES];
    ik_pow_control ctl;
    memset(&ctl, 0, sizeof ctl);
    if (ik_pow_search_trytes_hash(tx, mwm, simd, threads, &ctl, nonce, hash) != IK_OK || ctl.found != 1) {
        return 0;
    }
    memcpy(done, tx, IK_TX_TRYTES - IK_NONCE_TRYTES);
    memcpy(done + IK_TX_TRYTES - IK_NONCE_TRYTES, nonce, IK_NONCE_TRYTES);
    if (ik_curl_hash_trytes(done, IK_TX_TRYTES, 81, expect) != IK_OK || memcmp(expect, hash, IK_HASH_TRYTES) != 0 ||
        trailing_zero_trits(hash) < (int)mwm) {
        return 0;
    }
    if (threads == 1 && mwm <= 8) {
        memset(&ctl, 0, sizeof ctl);
        if (ik_pow_search_trytes(tx, mwm, simd, 1, &ctl, nonce1) != IK_OK || memcmp(nonce, nonce1, sizeof nonce)) {
            return 0;
        }
    }
    return 1;
}

#ifdef KAT_THREADS
static void *cancel_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, 0);
    ((ik_pow_control *)arg)->cancel = 1;
    return 0;
}

typedef struct {
    const char *tx;
    int inline_here;
    int ok;
} stack_run;

static void *search_on_stack(void *arg)
{
    stack_run *r = (stack_run *)arg;
    r->inline_here = ikp_runs_inline();
    r->ok = pow_hash_ok(r->tx, 9, IK_SIMD_AUTO, 1);
    return 0;
}
#endif

/* ik_pow_search_trytes_hash on random transactions, every mwm up to 12 (5 on emulated targets), every width this
 * CPU runs, 1 and 2 threads; refusals; cancellation before and during a search on the calling thread; searches
 * from a thread whose stack is too small to run them there and from one whose stack is big enough. */
static void test_pow_hash(tally *t)
{
#if defined(KAT_SMALL)
    enum { TXS = 1, MAX_MWM = 5 };
#elif defined(IKP_FORCE_TAIL) /* the hash does not depend on the kernel's schedule: kat_host runs more */
    enum { TXS = 1, MAX_MWM = 12 };
#else
    enum { TXS = 2, MAX_MWM = 12 };
#endif
    static char tx[IK_TX_TRYTES];
    char nonce[IK_NONCE_TRYTES];
    char hash[IK_HASH_TRYTES];
    ik_pow_control ctl;
    int i;
    int s;
    for (i = 0; i < TXS; i++) {
        random_tx(tx);
        for (s = IK_SIMD_PORTABLE; s <= IK_SIMD_NEON; s++) {
            unsigned threads;
            unsigned mwm;
            if (!ik_pow_simd_supported((ik_simd)s)) {
                continue;
            }
            for (threads = 1; threads <= 2; threads++) {
                int ok = 1;
#ifdef IK_NO_THREADS
                if (threads > 1) {
                    memset(&ctl, 0, sizeof ctl);
                    check(t, ik_pow_search_trytes_hash(tx, 1, (ik_simd)s, 2, &ctl, nonce, hash) == IK_ERR_UNSUPPORTED,
                          "pow hash threads unsupported", s);
                    continue;
                }
#endif
                for (mwm = 1; mwm <= MAX_MWM; mwm++) {
                    ok &= pow_hash_ok(tx, mwm, (ik_simd)s, threads);
                }
                check(t, ok, "pow hash", i * 100 + s * 10 + (int)threads);
            }
        }
    }
    memset(&ctl, 0, sizeof ctl);
    check(t, ik_pow_search_trytes_hash(tx, 244, IK_SIMD_AUTO, 1, &ctl, nonce, hash) == IK_ERR_VALUE,
          "pow hash mwm range", 0);
    check(t, ik_pow_search_trytes_hash(tx, 5, IK_SIMD_AUTO, 0, &ctl, nonce, hash) == IK_ERR_VALUE,
          "pow hash threads range", 0);
    check(t, ik_pow_search_trytes_hash(tx, 5, IK_SIMD_AUTO, 65, &ctl, nonce, hash) == IK_ERR_VALUE ||
                 ik_pow_search_trytes_hash(tx, 5, IK_SIMD_AUTO, 65, &ctl, nonce, hash) == IK_ERR_UNSUPPORTED,
          "pow hash threads range", 1);
    tx[7] = 'a';
    check(t, ik_pow_search_trytes_hash(tx, 5, IK_SIMD_AUTO, 1, &ctl, nonce, hash) == IK_ERR_TRYTE, "pow hash tryte", 0);
    tx[7] = 'A';
    ctl.cancel = 1;
    check(t, ik_pow_search_trytes_hash(tx, 243, IK_SIMD_AUTO, 1, &ctl, nonce, hash) == IK_ERR_CANCELLED,
          "pow hash cancelled", 1);
#ifdef KAT_THREADS
    check(t, ik_pow_search_trytes_hash(tx, 243, IK_SIMD_AUTO, 2, &ctl, nonce, hash) == IK_ERR_CANCELLED,
          "pow hash cancelled", 2);
    {
        pthread_t id;
        pthread_attr_t attr;
        stack_run run = {tx, -1, 0};
        struct rlimit rl;
        if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= 4096u * 1024u) {
            check(t, ikp_runs_inline() == 1, "pow inline on the main thread", 0); /* ulimit -s: 8 MiB by default */
        }
        memset(&ctl, 0, sizeof ctl);
        check(t, pthread_create(&id, 0, cancel_later, &ctl) == 0, "pow cancel thread", 0);
        check(t, ik_pow_search_trytes_hash(tx, 243, IK_SIMD_AUTO, 1, &ctl, nonce, hash) == IK_ERR_CANCELLED &&
                     ctl.trials > 0 && ctl.found == 0,
              "pow hash cancelled while searching", 1);
        pthread_join(id, 0);
        for (i = 0; i < 2; i++) { /* 256 KiB: the kernel's own thread; 8 MiB: on the caller's */
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, i == 0 ? 256u * 1024u : 8192u * 1024u);
            run.inline_here = -1;
            run.ok = 0;
            check(t, pthread_create(&id, &attr, search_on_stack, &run) == 0, "pow stack thread", i);
            pthread_join(id, 0);
            pthread_attr_destroy(&attr);
            check(t, run.inline_here == i && run.ok == 1, "pow stack", i * 10 + run.inline_here);
        }
    }
#endif
}

int main(void)
{
    tally t = {0, 0};
    test_trinary(&t);
    test_keccak(&t);
    test_curl(&t);
    test_curl_chain(&t);
    test_chains_many(&t);
    test_kerl(&t);
    test_iss(&t);
    test_mam(&t);
    test_mam_many(&t);
    test_lanes(&t);
    test_mam_random(&t);
    test_bundle(&t);
    test_bundle_random(&t);
    test_bundle_message(&t);
    test_pow(&t);
    test_pow_hash(&t);
    printf("%d passed, %d failed\n", t.passed, t.failed);
    return t.failed != 0;
}
