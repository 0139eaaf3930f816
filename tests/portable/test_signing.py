"""Addresses, checksums, normalization and WOTS signatures against PyOTA, entangled and the spec."""
from _support import raises, sample, vectors

from iota_edge import signing
from iota_edge.errors import InvalidChecksum, InvalidSignature, InvalidTrytes, InvalidValue
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

TESTSEED = "TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL"
ABC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ9" * 3


def test_spec_addresses():
    assert generate_address(TESTSEED, 0, 2) == "DLEIS9XU9V9T9OURAKDUSQWBQEYFGJLRPRVEWKN9SSUGIHBEIPBPEWISSAURGTQKWKWNHXGCBQTWNOGIY"
    assert generate_address(TESTSEED, 0, 1) == "KNDWDEEWWFVZLISLYRABGVWZCHZNZLNSEJXFKVGAUFLL9UMZYEZMEJB9BDLAASWTHEKFREUDIUPY9ICKW"
    assert generate_address(ABC, 0, 1) == "CFOYUCXLHLSUBAEYOTAWUNRPJFA9TSJNLBFLMZQASPTVCMTFBOQQRGGQ9MRZCJWYGBORJZQWVSBLVKBVW"
    seed2 = "TESTVALUE9DONTUSEINPRODUCTION99999DCZGVEJIZEKEGEEHYE9DOHCHLHMGAFDGEEQFUDVGGDGHRDR"
    assert generate_address(seed2, 0, 2, checksum=True) == (
        "FNKCVJPUANHNWNBAHFBTCONMCUBC9KCZ9EKREBCJAFMABCTEPLGGXDJXVGPXDCFOUCRBWFJFLEAVOEUPYADHVCBXFD"
    )


def test_address_vectors():
    for case in sample(vectors("addresses"), 25):
        got = generate_address(case["seed"], case["index"], case["security"], checksum=True)
        assert got == case["address_with_checksum"], (case["index"], case["security"])
        assert got[:81] == case["address"]


def test_checksums():
    assert checksum("UYEEERFQYTPFAHIPXDQAQYWYMSMCLMGBTYAXLWFRFFWPYFOICOVLK9A9VYNCKK9TQUNBTARCEQXJHD9VY") == "XOEDEOMRC"
    for case in vectors("addresses")[:20]:
        assert add_checksum(case["address"]) == case["address_with_checksum"]
        assert is_valid_checksum(case["address_with_checksum"])
        assert strip_checksum(case["address_with_checksum"]) == case["address"]
    bad = vectors("addresses")[0]["address_with_checksum"]
    bad = bad[:-1] + ("A" if bad[-1] != "A" else "B")
    assert not is_valid_checksum(bad)
    e = raises(InvalidChecksum, strip_checksum, bad)
    assert e.field == "address"


def test_normalize_vectors():
    for case in vectors("normalize"):
        n = normalize(case["bundle_hash"])
        assert n == case["normalized"], case["bundle_hash"]
        assert sum(n[:27]) == sum(n[27:54]) == sum(n[54:]) == 0


def test_signature_vectors():
    for case in sample(vectors("signatures"), 12):
        norm = normalize(case["bundle_hash"])
        assert signing._sign_fragments(case["seed"], case["index"], case["security"], norm) == case["fragments"]
        assert verify_signature(case["address"], case["fragments"], case["bundle_hash"])
        if is_secure_bundle_hash(case["bundle_hash"]):
            assert sign(case["seed"], case["index"], case["security"], case["bundle_hash"]) == case["fragments"]


def test_sign_then_verify_and_tamper():
    bundle_hash = "9" * 81
    fragments = sign(TESTSEED, 3, 1, bundle_hash)
    address = generate_address(TESTSEED, 3, 1)
    assert verify_signature(address, fragments, bundle_hash)
    assert verify_signature(add_checksum(address), fragments, bundle_hash)
    other = "A" + "Z" + "9" * 79  # another secure hash
    assert not verify_signature(address, fragments, other)
    changed = fragments[0][:5] + ("A" if fragments[0][5] != "A" else "B") + fragments[0][6:]
    assert not verify_signature(address, [changed], bundle_hash)


def test_insecure_bundle_hash_is_refused():
    insecure = "MN" + "9" * 79  # chunk sum 0, so normalization keeps the 13
    assert not is_secure_bundle_hash(insecure) and is_secure_bundle_hash("M" + "9" * 80)
    e = raises(InvalidValue, sign, TESTSEED, 0, 1, insecure)
    assert e.field == "bundle_hash"


def test_bad_input_and_no_secret_in_messages():
    secret = "SECRETSEED9" + "A" * 60
    for bad_seed in (secret + "a", secret * 2, ""):
        e = raises(InvalidTrytes, generate_address, bad_seed, 0)
        assert "SECRETSEED" not in str(e) and e.field == "seed"
    e = raises(InvalidValue, generate_address, secret, -1)
    assert e.field == "index" and "SECRETSEED" not in str(e)
    e = raises(InvalidValue, generate_address, secret, 0, 4)
    assert e.field == "security" and "SECRETSEED" not in str(e)
    raises(InvalidValue, generate_address, secret, 0, 0)
    e = raises(InvalidTrytes, sign, secret, 0, 2, "Z" * 80)
    assert e.field == "bundle_hash" and "81" in str(e)
    e = raises(InvalidSignature, verify_signature, "A" * 81, [], "9" * 81)
    assert e.field == "fragments"
    raises(InvalidTrytes, verify_signature, "A" * 81, ["A" * 10], "9" * 81)
    raises(InvalidTrytes, verify_signature, "A" * 82, ["A" * 2187], "9" * 81)
