"""Trinary codecs against PyOTA vectors and the spec's known answers (section 10.2)."""
from _support import raises, vectors

from iota_edge.errors import InvalidTrits, InvalidTrytes, InvalidValue, IotaEdgeError
from iota_edge.trinary import (
    add_trits,
    bytes_to_trytes,
    check_trytes,
    decode_message,
    int_to_trits,
    int_to_trytes,
    trits_to_int,
    trits_to_trytes,
    trytes_to_bytes,
    trytes_to_int,
    trytes_to_trits,
)

HELLO_TRITS = [
    0, 0, -1, -1, 1, 0, -1, 1, -1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, -1, 0, -1, 1, 0, 0,
    -1, -1, 1, 1, 0, 0, 1, 0, -1, -1, 1, 0, 1, -1, 0, -1, 1, 0, 0, 1, 0, 0, 1, 0, -1, 1, 1, -1, 1, 0, 0, -1, 1, 1, 0, 0,
]


def test_spec_known_answers():
    assert bytes_to_trytes(b"Hello, IOTA!") == "RBTC9D9DCDQAEASBYBCCKBFA"
    assert trytes_to_bytes("RBTC9D9DCDQAEASBYBCCKBFA") == b"Hello, IOTA!"
    assert trytes_to_trits("RBTC9D9DCDQAEASBYBCCKBFA") == HELLO_TRITS
    assert trits_to_trytes(HELLO_TRITS) == "RBTC9D9DCDQAEASBYBCCKBFA"
    assert bytes_to_trytes("你好，世界！".encode()) == "LH9GYEMHCF9GWHZFEELHVFOEOHNEEEWHZFUD"
    assert int_to_trytes(1995, 27) == "XTC" + "9" * 24
    assert int_to_trytes(1522184057, 9) == "HZZGBYD99"
    assert int_to_trytes(1522184104751, 9) == "WLKYQANKE"
    assert int_to_trytes(-6473274, 27) == "CICVO" + "9" * 22
    assert int_to_trytes(3812798742493, 9) == "MMMMMMMMM"
    assert int_to_trytes(14, 27)[:2] == "NA" and int_to_trytes(-1, 27) == "Z" + "9" * 26


def test_bytes_vectors():
    for case in vectors("trytes_codec"):
        if case["kind"] != "bytes":
            continue
        data = bytes.fromhex(case["bytes_hex"])
        assert bytes_to_trytes(data) == case["trytes"], case
        assert trytes_to_bytes(case["trytes"]) == data


def test_int_vectors():
    for case in vectors("trytes_codec"):
        if case["kind"] != "int":
            continue
        n = case["int"]
        assert trits_to_int(case["trits"]) == n
        trits = int_to_trits(n, len(case["trits"]))
        assert trits == case["trits"], case
        width = (len(case["trits"]) + 2) // 3 + 1
        assert trytes_to_int(int_to_trytes(n, width)) == n


def test_round_trips_every_tryte_and_byte():
    all_trytes = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert trits_to_trytes(trytes_to_trits(all_trytes)) == all_trytes
    data = bytes(range(256))
    assert trytes_to_bytes(bytes_to_trytes(data)) == data
    for n in (0, 1, -1, 13, -13, 14, 3**26, -(3**26), 2779530283277761, -2779530283277761):
        assert trits_to_int(int_to_trits(n, 33)) == n
        assert trytes_to_int(int_to_trytes(n, 11)) == n


def test_add_trits_wraps_like_balanced_addition():
    assert add_trits([1], [1]) == [-1]  # 1 + 1 = 3 - 1, carry dropped at the width of the longer operand
    assert add_trits([1, 0], [1]) == [-1, 1]
    assert trits_to_int(add_trits(int_to_trits(40, 5), int_to_trits(-41, 5))) == -1
    assert add_trits([1, 1, 1], [1]) == [-1, -1, -1]  # 13 + 1 wraps to -13 in three trits


def test_decode_message_drops_trailing_nines():
    assert decode_message(bytes_to_trytes(b"hi") + "9" * 100) == b"hi"
    assert decode_message("A") == b"\x01"


def test_bad_input_names_the_field():
    e = raises(InvalidTrytes, check_trytes, "ABC1", "address")
    assert e.field == "address" and "'1'" in str(e) and "position 3" in str(e)
    e = raises(InvalidTrytes, check_trytes, "AB", "tag", 27)
    assert "27" in str(e)
    e = raises(InvalidTrytes, check_trytes, "A" * 80, "trytes", None, 81)
    assert "multiple of 81" in str(e)
    raises(InvalidTrytes, check_trytes, 12, "trytes")
    raises(InvalidTrytes, trytes_to_trits, "abc")
    e = raises(InvalidTrytes, trytes_to_bytes, "ABC")
    assert "even" in str(e)
    e = raises(InvalidTrytes, trytes_to_bytes, "ZZ")
    assert "0..255" in str(e)
    e = raises(InvalidValue, int_to_trytes, 3**27, 9, "timestamp")
    assert e.field == "timestamp" and "does not fit" in str(e)
    raises(InvalidValue, int_to_trits, 5, 1)
    raises(InvalidTrits, trits_to_trytes, [0, 2, 1])
    assert issubclass(InvalidTrytes, IotaEdgeError)
