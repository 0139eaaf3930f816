"""Curl-P-27/81 and Kerl against PyOTA vectors and the spec's known answers."""
from _support import raises, sample, vectors

from iota_edge import curl as curl_module
from iota_edge.curl import Curl, curl_hash, trailing_zeros
from iota_edge.errors import InvalidTrytes, InvalidValue
from iota_edge.kerl import Kerl, kerl_hash
from iota_edge.trinary import trits_to_trytes, trytes_to_trits

PYOTA_IN = "EMIDYNHBWMBCXVDEFOFWINXTERALUKYYPPHKP9JJFGJEIUY9MUDVNFZHMMWZUYUSWAIOWEVTHNWMHANBH"


def test_curl_known_answer():
    assert curl_hash(PYOTA_IN) == "AQBOPUMJMGVHFOXSMUAGZNACKUTISDPBSILMRAGIGRXXS9JJTLIKZUW9BCJWKSTFBDSBLNVEEGVGAMSSM"


def test_curl_vectors():
    for case in vectors("curl"):
        assert curl_hash(case["trytes"], case["rounds"]) == case["hash"], case["trytes"][:20]


def test_every_transform_agrees():
    """The sliced (CPython), viper (MicroPython) and plain-loop rounds must give the same state."""
    impls = curl_module.transforms()
    assert impls
    for case in vectors("curl")[:5]:
        outs = []
        for _, fn in impls:
            c = Curl(case["rounds"])
            c.absorb_trytes(case["trytes"])
            fn(c.state, 3)
            outs.append(bytes(c.state))
        assert all(o == outs[0] for o in outs), [name for name, _ in impls]


def test_curl_sponge_trits_and_partial_chunk():
    c = Curl(81)
    c.absorb(trytes_to_trits(PYOTA_IN))
    assert trits_to_trytes(c.squeeze(243)) == curl_hash(PYOTA_IN)
    # A partial last chunk overwrites only its prefix (JS/C rule): trits 0..8 change, the rest of the rate stays.
    a = Curl(27)
    a.absorb_trytes("ABC")
    b = Curl(27)
    b.absorb(trytes_to_trits("ABC"))
    assert a.squeeze_trytes(81) == b.squeeze_trytes(81)


def test_trailing_zeros():
    assert trailing_zeros("A" + "9" * 80) == 242
    assert trailing_zeros("9" * 76 + "A9999") == 12 + 2  # 'A' = (1, 0, 0)
    assert trailing_zeros("9" * 81) == 243
    assert trailing_zeros("BHQBTEWALYPSZGQNQYCGQSPYMOPHUKELCBTAKNTJNVHFESWS9WIZAZGCDCHGO9NTUXLTZPPLTJWGA9999") == 14


def test_kerl_known_answers():
    assert kerl_hash(PYOTA_IN) == "EJEAOOZYSAWFPZQESYDHZCGYNSTWXUMVJOVDWUNZJXDGWCLUFGIMZRMGCAZGKNPLBRLGUNYWKLJTYEAQX"
    assert kerl_hash("9" + PYOTA_IN[1:], 162) == (
        "G9JYBOMPUXHYHKSNRNMMSSZCSHOFYOYNZRSZMAAYWDYEIMVVOGKPJBVBM9TDPULSFUNMTVXRKFIDOHUXXVYDLFSZYZTWQYTE9SPYYWYTXJYQ9"
        "IFGYOLZXWZBKWZN9QOOTBQMWMUBLEWUEEASRHRTNIQWJQNDWRYLCA"
    )


def test_kerl_vectors():
    for case in sample(vectors("kerl"), 3):
        assert kerl_hash(case["trytes"], case["length"]) == case["hash"], case["trytes"][:20]


def test_kerl_trit_interface_matches_trytes():
    k = Kerl()
    k.absorb(trytes_to_trits(PYOTA_IN))
    first = trits_to_trytes(k.squeeze(243))
    second = trits_to_trytes(k.squeeze(243))
    assert first + second == kerl_hash(PYOTA_IN, 162)


def test_kerl_ignores_trit_242():
    flipped = PYOTA_IN[:80] + "Z"  # 'H' (-1,0,1) -> 'Z' (-1,0,0): only the top trit differs
    assert PYOTA_IN[80] == "H"
    assert kerl_hash(flipped) == kerl_hash(PYOTA_IN)


def test_bad_input():
    raises(InvalidTrytes, curl_hash, "A" * 80)
    raises(InvalidTrytes, kerl_hash, "a" * 81)
    raises(InvalidValue, curl_hash, "A" * 81, 9)
    raises(InvalidValue, kerl_hash, "A" * 81, 80)
    raises(InvalidValue, Curl, 3)


def test_wide_keccak_equals_single():
    from iota_edge.keccak import Keccak384, keccak384_48, keccak384_48_many

    assert Keccak384(b"Message").digest()[:8] == bytes.fromhex("0c8d6ff6e6a1cf18")
    messages = [bytes([(i * 31 + j * 7) % 256 for j in range(48)]) for i in range(30)]
    assert keccak384_48_many(messages) == [keccak384_48(m) for m in messages]
    assert keccak384_48_many(messages[:2]) == [keccak384_48(m) for m in messages[:2]]
    assert keccak384_48_many([]) == []


def test_absorb_a_part_without_copying_equals_absorbing_the_slice():
    from iota_edge.curl import Curl

    trytes = "".join("9ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(i * 7 + 3) % 27] for i in range(2673))
    for start, end in ((0, 2592), (81, 2673), (0, 2646), (162, 200)):
        a, b = Curl(81), Curl(81)
        a.absorb_trytes(trytes, start, end)
        b.absorb_trytes(trytes[start:end])
        assert a.rate_trytes(81) == b.rate_trytes(81), (start, end)
