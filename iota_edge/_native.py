"""The one gate to compiled code: the cffi C kernel on CPython (bound in ``_native_cffi``, which MicroPython never
loads), the ``iotakernel`` user C module on MicroPython.

    from iota_edge import _native
    if _native.AVAILABLE:
        _native.curl_hash("9" * 81, 81)
    print(_native.BACKEND)        # "c (avx512, 2 threads max)", "c (micropython)" or "pure"

Callers validate arguments first (tryte strings are uppercase ``9A-Z`` of the documented lengths); the kernel still
checks every length and character itself and never reads or writes outside its buffers. ``IOTA_EDGE_PURE=1`` in the
environment forces the pure-Python backend even where the kernel is built.
"""

import sys

AVAILABLE = False
BACKEND = "pure"
SIMD = "none"
SIMD_WIDTHS = ()  # SIMD widths this CPU can run, widest first (CPython kernel only)

_MICROPYTHON = sys.implementation.name == "micropython"


def _pure_forced():
    if _MICROPYTHON:
        return False
    import os

    return os.environ.get("IOTA_EDGE_PURE", "") not in ("", "0")


if _MICROPYTHON:
    try:
        import iotakernel as _k
    except ImportError:
        _k = None
    if _k is not None:
        AVAILABLE = True
        BACKEND = "c (micropython)"
        SIMD = "portable"
        curl_hash = _k.curl_hash
        kerl_hash = _k.kerl_hash
        generate_address = _k.generate_address
        sign = _k.sign
        verify_signature = _k.verify_signature

        def search_nonce(tx_trytes, mwm, threads=1, timeout=None, cancel_event=None):
            return _k.search_nonce(tx_trytes, mwm)

else:
    _c = None
    if not _pure_forced():
        try:
            from iota_edge import _native_cffi as _c
        except ImportError:
            _c = None
    if _c is not None:
        AVAILABLE = True
        BACKEND = _c.BACKEND
        SIMD = _c.SIMD
        SIMD_WIDTHS = _c.SIMD_WIDTHS
        CPU_COUNT = _c.CPU_COUNT
        lanes = _c.lanes
        curl_hash = _c.curl_hash
        curl_transform = _c.curl_transform
        curl_chain = _c.curl_chain
        otrits = _c.otrits
        otrits_to_trytes = _c.otrits_to_trytes
        mam_mask = _c.mam_mask
        mam_unmask = _c.mam_unmask
        mam_leaf = _c.mam_leaf
        mam_fold = _c.mam_fold
        mam_parse = _c.mam_parse
        mam_parse_many = _c.mam_parse_many
        bundle_finalize = _c.bundle_finalize
        bundle_message = _c.bundle_message
        kerl_hash = _c.kerl_hash
        generate_address = _c.generate_address
        sign = _c.sign
        verify_signature = _c.verify_signature
        search = _c.search
        search_nonce = _c.search_nonce
        search_hash = _c.search_hash
        CancelEvent = _c.CancelEvent  # a threading.Event whose set() reaches running searches without polling
    else:
        from threading import Event as CancelEvent  # noqa: F401  (the pure searches poll is_set() themselves)
