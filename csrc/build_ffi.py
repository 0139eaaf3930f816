"""cffi out-of-line API-mode builder of ``iota_edge._kernel`` (the C kernel in csrc/).

    pip install -e .              # setuptools runs this through setup.py's cffi_modules
    python csrc/build_ffi.py      # quick rebuild in place: writes iota_edge/_kernel*.so

A compile error fails the build (and so ``pip install``): there is no silent fall-back to pure Python at install
time. ``IOTA_EDGE_PURE=1`` at run time is the way to use the pure backend on a host that has the kernel.
"""
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCES = ["trinary.c", "curl.c", "keccak.c", "kerl.c", "iss.c", "bundle.c", "mam.c", "chains.c", "lanes.c", "pow.c",
           "pow_x86.c", "pow_neon.c", "pow_threads.c"]

CDEF = """
typedef enum {
    IK_OK = 0, IK_ERR_LENGTH = 1, IK_ERR_TRYTE = 2, IK_ERR_TRIT = 3, IK_ERR_VALUE = 4,
    IK_ERR_MISMATCH = 5, IK_ERR_CANCELLED = 6, IK_ERR_UNSUPPORTED = 7
} ik_status;
typedef enum {
    IK_SIMD_AUTO = 0, IK_SIMD_PORTABLE = 1, IK_SIMD_SSE2 = 2, IK_SIMD_AVX2 = 3, IK_SIMD_AVX512 = 4, IK_SIMD_NEON = 5
} ik_simd;
typedef struct {
    int8_t state[729];
    uint8_t rounds;
} ik_curl;
typedef struct {
    volatile int32_t cancel;
    volatile int32_t found;
    volatile uint64_t trials;
} ik_pow_control;

ik_status ik_trytes_to_trits(const char *trytes, size_t n, int8_t *trits);
ik_status ik_trits_to_trytes(const int8_t *trits, size_t n_trits, char *trytes);
ik_status ik_curl_hash_trytes(const char *trytes, size_t n, unsigned rounds, char out[81]);
void ik_curl_transform(int8_t state[729], unsigned rounds);
ik_status ik_curl_chain(int8_t state[729], unsigned times, unsigned rounds);
ik_status ik_kerl_hash_trytes(const char *trytes, size_t n, char *out, size_t out_n);
ik_status ik_address(const int8_t seed[243], uint64_t index, unsigned security, int8_t address[243]);
void ik_normalize(const int8_t hash[243], int8_t normalized[81]);
ik_status ik_sign(const int8_t seed[243], uint64_t index, unsigned security, const int8_t normalized[81],
                  int8_t *signature);
ik_status ik_verify(const int8_t address[243], const int8_t *signature, size_t n_fragments,
                    const int8_t normalized[81]);
ik_status ik_bundle_finalize(int8_t *essences, size_t n_tx, int8_t hash[243]);
ik_status ik_bundle_message(const char address[81], const char tag[27], const char *message, size_t n,
                            int64_t timestamp, int8_t *work, char *out);
void ik_mam_mask(ik_curl *ctx, int8_t *buf, size_t len);
void ik_mam_unmask(ik_curl *ctx, int8_t *buf, size_t len);
ik_status ik_mam_leaf(const int8_t hmac[243], const int8_t *signature, unsigned security, int8_t leaf[243]);
void ik_mam_fold(int8_t node[243], const int8_t *siblings, unsigned depth, uint64_t index);
typedef struct {
    uint32_t reason;
    uint32_t security;
    uint32_t depth;
    uint64_t index;
    size_t message_trytes;
} ik_mam_parsed;
ik_status ik_mam_parse(const char *payload, size_t n, const char root[81], const int8_t key[243], int8_t *work,
                       char *message, char next_root[81], ik_mam_parsed *out);
typedef struct {
    const char *payload;
    size_t n;
    const char *root;
    const int8_t *key;
    int8_t *work;
    char *message;
    char *next_root;
    ik_mam_parsed parsed;
    int32_t status;
} ik_mam_item;
ik_status ik_mam_parse_many(ik_mam_item *items, size_t m, void *scratch, size_t scratch_bytes);
size_t ik_mam_parse_many_scratch(size_t m, unsigned security);
ik_status ik_curl_chains_many(int8_t *chunks, size_t n, const uint8_t *times, unsigned rounds, void *work,
                              size_t work_bytes);
size_t ik_curl_chains_work_bytes(void);
int ik_pow_simd_supported(ik_simd simd);
ik_simd ik_pow_simd_best(void);
unsigned ik_pow_simd_lanes(ik_simd simd);
ik_status ik_pow_search_trytes(const char tx[2673], unsigned mwm, ik_simd simd, unsigned threads,
                               ik_pow_control *ctl, char nonce[27]);
ik_status ik_pow_search_trytes_hash(const char tx[2673], unsigned mwm, ik_simd simd, unsigned threads,
                                    ik_pow_control *ctl, char nonce[27], char hash[81]);
"""


def _builder(absolute):
    prefix = HERE if absolute else "csrc"
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "iota_edge._kernel",
        '#include "iota_kernel.h"',
        sources=[os.path.join(prefix, name) for name in SOURCES],
        include_dirs=[prefix],
        extra_compile_args=["-O3", "-std=gnu99", "-Wall", "-Wextra", "-fno-strict-aliasing"],
        libraries=["pthread"] if sys.platform != "win32" else [],
    )
    return ffi


ffibuilder = _builder(absolute=False)

if __name__ == "__main__":
    import glob
    import shutil

    tmp = os.path.join(ROOT, "build", "cffi")
    built = _builder(absolute=True).compile(tmpdir=tmp, verbose=False)
    for old in glob.glob(os.path.join(ROOT, "iota_edge", "_kernel*.so")):
        os.remove(old)
    shutil.copy(built, os.path.join(ROOT, "iota_edge", os.path.basename(built)))
    print("built", os.path.join("iota_edge", os.path.basename(built)))
