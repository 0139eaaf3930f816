"""iota_edge: legacy IOTA (IRI-era) transactions for devices, gateways and private Tangles.

    >>> import iota_edge
    >>> iota_edge.generate_address(seed, 0, security=2, checksum=True)
    >>> trytes = iota_edge.prepare_transfer(None, [{"address": addr, "tag": "METER", "message": b"21.5"}])
    >>> iota_edge.validate_bundle(trytes)
    >>> iota_edge.BACKEND        # "pure", or the C kernel and the SIMD width it chose

Everything here is byte-compatible with the official libraries (PyOTA, iota.js, IRI). The portable core runs on
CPython and MicroPython; the C kernel (cffi) takes over the hot paths on hosts where it is built.
"""

import sys

__version__ = "0.1.0"

if sys.implementation.name == "micropython":
    # On a device import the submodule you need (iota_edge.signing, iota_edge.bundle, ...): importing all of
    # them here would cost RAM that a board does not have.
    from iota_edge import _native

    BACKEND = _native.BACKEND
else:
    from iota_edge import _native
    from iota_edge.bundle import bundle_hash, bundle_message, decode_bundle, finalize, prepare_transfer, validate_bundle
    from iota_edge.client import NodeClient
    from iota_edge.curl import Curl, curl_hash, trailing_zeros
    from iota_edge.errors import (
        InvalidBundle,
        InvalidChecksum,
        InvalidSignature,
        InvalidTransaction,
        InvalidTrits,
        InvalidTrytes,
        InvalidValue,
        InvalidMessage,
        IotaEdgeError,
        NodeError,
        NodeUnreachable,
        PowCancelled,
        PowError,
    )
    from iota_edge.kerl import Kerl, kerl_hash
    from iota_edge.pow import attach_to_tangle, search_nonce
    from iota_edge.signing import (
        add_checksum,
        checksum,
        generate_address,
        is_secure_bundle_hash,
        is_valid_checksum,
        normalize,
        sign,
        strip_checksum,
        verify_signature,
    )
    from iota_edge.transaction import Transaction
    from iota_edge.trinary import bytes_to_trytes, int_to_trytes, trits_to_trytes, trytes_to_bytes, trytes_to_int
    from iota_edge.trinary import trytes_to_trits


    BACKEND = _native.BACKEND
