"""The C kernel (iota_edge._native) against the pure-Python backend: every vector in tests/vectors and random
inputs (hypothesis) give identical answers; bad input is refused, never read out of bounds."""
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iota_edge import _native, curl, kerl, signing
from iota_edge.errors import InvalidTrytes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALPHABET = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"

if not _native.AVAILABLE:
    if os.environ.get("CI") == "true" and not os.environ.get("IOTA_EDGE_PURE"):
        pytest.fail("the C kernel is not built (pip install -e . compiles it)", pytrace=False)
    pytest.skip("the C kernel is not built or IOTA_EDGE_PURE is set", allow_module_level=True)


def vectors(name):
    with open(os.path.join(ROOT, "tests", "vectors", name)) as f:
        data = json.load(f)
    assert data["source"]
    return data["cases"]


class _Pure:
    """Run the lead's modules on their pure-Python code paths inside a ``with pure:`` block."""

    def __enter__(self):
        _native.AVAILABLE = False

    def __exit__(self, *exc):
        _native.AVAILABLE = True


pure = _Pure()


def tryte_blocks(min_blocks=1, max_blocks=5):
    return st.integers(min_blocks, max_blocks).flatmap(
        lambda n: st.text(alphabet=ALPHABET, min_size=81 * n, max_size=81 * n))


# ---- backend identity -------------------------------------------------------------------------------------------

def test_backend_names_the_simd_width():
    assert _native.BACKEND.startswith("c (") and _native.SIMD in _native.BACKEND
    assert _native.SIMD == _native.SIMD_WIDTHS[0]
    assert "portable" in _native.SIMD_WIDTHS


def test_pure_env_forces_the_pure_backend():
    code = "from iota_edge import _native; print(_native.AVAILABLE, _native.BACKEND)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, IOTA_EDGE_PURE="1"))
    assert out.stdout.split() == ["False", "pure"], out.stderr


# ---- vectors ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", vectors("curl.json"), ids=lambda c: "%d-%d" % (len(c["trytes"]), c["rounds"]))
def test_curl_vectors(case):
    assert _native.curl_hash(case["trytes"], case["rounds"]) == case["hash"]


@pytest.mark.parametrize("case", vectors("kerl.json"), ids=lambda c: "%d-%d" % (len(c["trytes"]), c["length"]))
def test_kerl_vectors(case):
    assert _native.kerl_hash(case["trytes"], case["length"]) == case["hash"]


def test_transaction_hash_vectors():
    for case in vectors("transactions.json"):
        assert _native.curl_hash(case["trytes"], 81) == case["hash"]


def test_address_vectors():
    for case in vectors("addresses.json"):
        assert _native.generate_address(case["seed"], case["index"], case["security"]) == case["address"]


def test_signature_vectors():
    for case in vectors("signatures.json"):
        args = (case["seed"], case["index"], case["security"], case["bundle_hash"])
        assert _native.sign(*args) == case["fragments"]
        assert _native.verify_signature(case["address"], case["fragments"], case["bundle_hash"]) is True
        assert _native.generate_address(case["seed"], case["index"], case["security"]) == case["address"]


def test_spec_known_answers():
    seed = "TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL"
    assert _native.generate_address(seed, 10, 2) == (
        "XLXFTFBXUOOHRJDVBDBFEBDQDUKSLSOCLUYWGLAPR9FUROUHPFINIUFKYSRTFMNWKNEPDZATWXIVWJMDD")
    abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ9" * 3
    assert _native.generate_address(abc, 2, 3) == (
        "MLAUELWJHZ9QBPCIYLOXAWCVSZTK9XUEIWQSRLFDWEORDOLVOMOF9RUMFXSAMYWCGXDAVXZMRWQOJH9RY")
    sig = "".join(_native.sign(abc, 2, 2, abc))
    assert sig.startswith("IRRWWESEWUSGFCQZQUETVGNLONDOHXJRQPECGNOI9FSDSVDHH9")
    assert sig.endswith("Q9LOWROQSZANOVISNYYZQK9KBKA")


# ---- random inputs: native == pure --------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(tryte_blocks(1, 5), st.sampled_from([27, 81]))
def test_curl_random(trytes, rounds):
    native = _native.curl_hash(trytes, rounds)
    with pure:
        assert curl.curl_hash(trytes, rounds) == native


@settings(max_examples=60, deadline=None)
@given(tryte_blocks(1, 4), st.integers(1, 4))
def test_kerl_random(trytes, blocks):
    native = _native.kerl_hash(trytes, 81 * blocks)
    with pure:
        assert kerl.kerl_hash(trytes, 81 * blocks) == native


@settings(max_examples=6, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=81, max_size=81),
       st.one_of(st.integers(0, 1000), st.integers(2**63, 2**70)), st.integers(1, 3))
def test_address_random(seed, index, security):
    native = _native.generate_address(seed, index, security)
    with pure:
        assert signing.generate_address(seed, index, security) == native


@settings(max_examples=4, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=81, max_size=81), st.integers(0, 50), st.integers(1, 3),
       st.text(alphabet=ALPHABET.replace("M", ""), min_size=81, max_size=81))
def test_sign_verify_random(seed, index, security, bundle_hash):
    fragments = _native.sign(seed, index, security, bundle_hash)
    address = _native.generate_address(seed, index, security)
    assert _native.verify_signature(address, fragments, bundle_hash)
    with pure:
        if signing.is_secure_bundle_hash(bundle_hash):
            assert signing.sign(seed, index, security, bundle_hash) == fragments
        assert signing.verify_signature(address, fragments, bundle_hash)
    tampered = [("A" if fragments[0][0] != "A" else "B") + fragments[0][1:]] + fragments[1:]
    assert _native.verify_signature(address, tampered, bundle_hash) is False
    other = ("A" if bundle_hash[0] != "A" else "B") + bundle_hash[1:]  # may normalize to the same chunk
    with pure:
        expected = signing.verify_signature(address, fragments, other)
    assert _native.verify_signature(address, fragments, other) is expected


# ---- refusals: lengths and alphabet checked in C ------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: _native.curl_hash("abc", 81),
    lambda: _native.curl_hash("A" * 80 + "!", 81),
    lambda: _native.kerl_hash("A" * 80, 81),
    lambda: _native.kerl_hash("A" * 81, 80),
    lambda: _native.kerl_hash("a" * 81, 81),
    lambda: _native.generate_address("a" * 81, 0, 2),
    lambda: _native.verify_signature("A" * 81, ["A" * 2186], "A" * 81),
    lambda: _native.search_nonce("A" * 2672, 1),
    lambda: _native.search_nonce("a" * 2673, 1),
])
def test_bad_input_is_refused(call):
    with pytest.raises(InvalidTrytes):
        call()


def test_bad_rounds_and_security_are_refused():
    from iota_edge.errors import InvalidValue
    with pytest.raises(InvalidValue):
        _native.curl_hash("A" * 81, 0)
    with pytest.raises(InvalidValue):
        _native.generate_address("A" * 81, 0, 4)
