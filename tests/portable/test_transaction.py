"""Transactions: decode/encode of 2673 trytes, the Curl-P-81 hash and weight, against PyOTA vectors."""
from _support import raises, sample, vectors

from iota_edge.errors import InvalidTransaction, InvalidTrytes, InvalidValue
from iota_edge.transaction import FIELDS, Transaction


def test_transaction_vectors():
    for case in sample(vectors("transactions"), 4):
        tx = Transaction.from_trytes(case["trytes"])
        for name in FIELDS:
            assert getattr(tx, name) == case["fields"][name], (name, case["hash"])
        assert tx.to_trytes() == case["trytes"]
        assert tx.hash == case["hash"]
        assert Transaction(**case["fields"]).to_trytes() == case["trytes"]


def test_mainnet_sample_weight_and_essence():
    case = vectors("transactions")[0]
    tx = Transaction.from_trytes(case["trytes"])
    assert tx.hash == "BHQBTEWALYPSZGQNQYCGQSPYMOPHUKELCBTAKNTJNVHFESWS9WIZAZGCDCHGO9NTUXLTZPPLTJWGA9999"
    assert tx.weight == 14 and tx.is_tail
    assert tx.essence == case["trytes"][2187:2349] and len(tx.essence) == 162
    assert tx.as_dict()["hash"] == tx.hash
    assert tx.copy(tag="OTHER").tag == "OTHER" + "9" * 22


def test_defaults_and_padding():
    tx = Transaction(address="ABC", tag="T")
    trytes = tx.to_trytes()
    assert len(trytes) == 2673
    assert trytes[2187:2268] == "ABC" + "9" * 78 and trytes[2592:2619] == "T" + "9" * 26
    assert Transaction.from_trytes(trytes) == tx


def test_bad_input_names_the_field():
    e = raises(InvalidTrytes, Transaction.from_trytes, "9" * 2672)
    assert e.field == "trytes" and "2673" in str(e)
    raises(InvalidTrytes, Transaction.from_trytes, "9" * 2672 + "a")
    high_value = "9" * 2268 + "9" * 11 + "A" + "9" * (2673 - 2268 - 12)
    e = raises(InvalidTransaction, Transaction.from_trytes, high_value)
    assert e.field == "value"
    e = raises(InvalidValue, Transaction, value=3**33)
    assert e.field == "value"
    e = raises(InvalidTrytes, Transaction, tag="A" * 28)
    assert e.field == "tag"
    e = raises(InvalidValue, Transaction, current_index=3**27)
    assert e.field == "current_index"
    raises(InvalidValue, Transaction, timestamp=3**27)
    raises(InvalidValue, Transaction, value="1")
    tx = Transaction()
    tx.nonce = "nonce"
    e = raises(InvalidTrytes, tx.to_trytes)
    assert e.field == "nonce"
