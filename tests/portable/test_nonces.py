"""The portable nonce search and the attachment of a message bundle from nonces (a device's PoW: MicroPython runs
the pure search over Curl's viper kernel), on CPython and MicroPython."""
from _support import raises

from iota_edge import pow
from iota_edge.bundle import _message_bundle
from iota_edge.curl import curl_hash, trailing_zeros
from iota_edge.errors import InvalidTrytes, InvalidValue
from iota_edge.trinary import int_to_trytes

ADDRESS = "IOTAEDGE9PORTABLE9NONCES" + "ABC9" * 14 + "X"
GENESIS = "9" * 81


def _message(length):
    return ("HELLO9NONCES9" * (length // 13 + 1))[:length]


def test_the_pure_search_takes_the_smallest_nonce_counting_up():
    """Nonces are tried as the integers 0, 1, 2, ... (int_to_trytes): the first with the weight is returned, with
    the hash of the finished transaction."""
    tx = _message_bundle(ADDRESS, "IOTAEDGE", _message(300), 1700000000)[0]
    nonce, h = pow._pure_search(tx, 4, None, None)
    k = 0
    while int_to_trytes(k, 27) != nonce:
        assert trailing_zeros(curl_hash(tx[:2646] + int_to_trytes(k, 27))) < 4, k
        k += 1
        assert k < 20000
    assert k > 2  # the counter carried at least once (1 + 1 = -1, carry 1)
    assert h == curl_hash(tx[:2646] + nonce) and trailing_zeros(h) >= 4


def test_message_nonces_attach_the_bundle_the_gateway_builds():
    for length, tag in ((0, "IOTAEDGE"), (100, ""), (2188, "IOTAEDGE")):
        bundle = _message_bundle(ADDRESS, tag, _message(length), 1700000000)
        nonces, hashes = pow.message_nonces(ADDRESS, tag, _message(length), 1700000000, GENESIS, GENESIS, 3, 1234)
        assert len(nonces) == len(bundle)
        trytes, rebuilt = pow.attach_with_nonces(bundle, GENESIS, GENESIS, 1234, nonces)
        assert rebuilt == hashes
        for i, t in enumerate(trytes):
            assert t[2646:] == nonces[i] and curl_hash(t) == hashes[i] and trailing_zeros(hashes[i]) >= 3
            assert t[:2430] == bundle[i][:2430]  # fragment, address .. bundle hash as built
            trunk = GENESIS if i == len(trytes) - 1 else hashes[i + 1]
            assert t[2430:2592] == trunk + GENESIS


def test_attach_with_nonces_names_the_field():
    bundle = _message_bundle(ADDRESS, "IOTAEDGE", _message(10), 1700000000)
    assert raises(InvalidValue, pow.attach_with_nonces, bundle, GENESIS, GENESIS, 5, []).field == "nonces"
    assert raises(InvalidTrytes, pow.attach_with_nonces, bundle, GENESIS, GENESIS, 5, ["9" * 26]).field == "nonces"
    assert raises(InvalidValue, pow.attach_with_nonces, bundle, GENESIS, GENESIS, -1, ["9" * 27]).field == \
        "timestamp_ms"
    assert raises(InvalidTrytes, pow.message_nonces, ADDRESS, "T" * 28, "", 0, GENESIS, GENESIS, 1).field == "tag"
