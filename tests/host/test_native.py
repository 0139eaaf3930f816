"""The C kernel (iota_edge._native) against the pure-Python backend: every vector in tests/vectors and random
inputs (hypothesis) give identical answers; bad input is refused, never read out of bounds."""
import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iota_edge import _native, bundle, curl, kerl, signing
from iota_edge.curl import Curl
from iota_edge.errors import InvalidTrytes
from iota_edge.errors import InvalidMessage
from iota_edge.streams import Channel, mam, parse_payload, parse_payloads
from iota_edge.streams import parser as mam_parser

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


_MAM_HOOKS = {"_K_OTRITS": "otrits", "_K_TRYTES": "otrits_to_trytes", "_K_MASK": "mam_mask",
              "_K_UNMASK": "mam_unmask", "_K_CHAIN": "curl_chain", "_K_LEAF": "mam_leaf", "_K_FOLD": "mam_fold"}
_PARSER_HOOKS = {"_K_PARSE": "mam_parse", "_K_PARSE_MANY": "mam_parse_many"}  # bound in streams.parser


class _Pure:
    """Run the lead's modules on their pure-Python code paths inside a ``with pure:`` block (MAM's loops are bound
    when streams.mam is imported: mam._K_*; the whole verification when streams.parser is: parser._K_PARSE)."""

    def __enter__(self):
        _native.AVAILABLE = False
        for module, hooks in ((mam, _MAM_HOOKS), (mam_parser, _PARSER_HOOKS)):
            for name in hooks:
                setattr(module, name, None)

    def __exit__(self, *exc):
        _native.AVAILABLE = True
        for module, hooks in ((mam, _MAM_HOOKS), (mam_parser, _PARSER_HOOKS)):
            for name, function in hooks.items():
                setattr(module, name, getattr(_native, function))


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


# ---- MAM loops and bundle finalization: native == pure -------------------------------------------------------------

def otrit_lists(min_size, max_size):
    """Offset trits (0..2, the layout of Curl.state and of mam's buffers)."""
    return st.binary(min_size=min_size, max_size=max_size).map(lambda b: bytearray(x % 3 for x in b))


def test_mam_uses_the_kernel():
    for name, function in _MAM_HOOKS.items():
        assert getattr(mam, name) is getattr(_native, function), name
    for name, function in _PARSER_HOOKS.items():
        assert getattr(mam_parser, name) is getattr(_native, function), name
    with pure:
        assert all(getattr(mam, name) is None for name in _MAM_HOOKS)
        assert all(getattr(mam_parser, name) is None for name in _PARSER_HOOKS)


@settings(max_examples=40, deadline=None)
@given(otrit_lists(729, 729), otrit_lists(1, 900), st.integers(0, 100), st.booleans())
def test_mam_mask_unmask_random(state, buf, start, encrypt):
    start = min(start, len(buf) - 1)
    results = []
    for backend in ("native", "pure"):
        c = Curl(27)
        c.state[:] = state
        b = bytearray(buf)
        if backend == "pure":
            with pure:
                (mam.mask if encrypt else mam.unmask)(c, b, start, len(b))
        else:
            (mam.mask if encrypt else mam.unmask)(c, b, start, len(b))
        results.append((bytes(c.state), bytes(b)))
    assert results[0] == results[1]


@settings(max_examples=30, deadline=None)
@given(otrit_lists(729, 729), st.integers(0, 30))
def test_mam_chain_random(state, times):
    c = Curl(27)
    c.state[:] = state
    mam._chain(c, times)
    with pure:
        d = Curl(27)
        d.state[:] = state
        mam._chain(d, times)
    assert c.state == d.state


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 3), st.integers(0, 70), st.integers(0, 2**70))
def test_mam_leaf_and_fold_random(seed, security, depth, index):
    rnd = random.Random(seed)
    hmac = bytearray(rnd.randrange(3) for _ in range(243))
    buf = bytearray(rnd.randrange(3) for _ in range(7 + mam.FRAGMENT * security + mam.HASH * depth))
    pos = 7 + mam.FRAGMENT * security
    index %= 1 << depth
    leaf = mam.leaf_of_signature(hmac, buf, 7, security)
    root = mam.fold_siblings(leaf, buf, pos, depth, index)
    with pure:
        assert mam.leaf_of_signature(hmac, buf, 7, security) == leaf
        assert mam.fold_siblings(leaf, buf, pos, depth, index) == root


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=400))
def test_mam_otrits_random(trytes):
    native = mam.trytes_to_otrits(trytes)
    with pure:
        assert mam.trytes_to_otrits(trytes) == native
    for start, end in ((0, len(native)), (1, len(native)), (2, len(native) - 1)) if native else ():  # zero-padded
        back = mam.otrits_to_trytes(native, start, end)
        with pure:
            assert mam.otrits_to_trytes(native, start, end) == back
    assert mam.otrits_to_trytes(native) == trytes


@pytest.mark.parametrize("mode,security", [("public", 1), ("private", 2), ("restricted", 3)])
def test_mam_messages_parse_alike(mode, security):
    side_key = "NATIVE9KEY" if mode == "restricted" else None
    ch = Channel("N" * 81, mode=mode, side_key=side_key, security=security, count=2, next_count=2)
    for text in ("A" * 7, "HELLO9WORLD" * 40):
        m = ch.create_message(text)
        native = parse_payload(m.payload, m.root, side_key)
        with pure:
            parsed = parse_payload(m.payload, m.root, side_key)
        assert (native.message, native.next_root, native.index, native.security, native.depth) == (
            parsed.message, parsed.next_root, parsed.index, parsed.security, parsed.depth) == (
            text, m.next_root, native.index, security, 1)


def _parse_outcome(payload, root, side_key):
    """What parse_payload gives: the fields of the ParsedMessage, or the reason and text of its InvalidMessage."""
    try:
        m = parse_payload(payload, root, side_key)
    except InvalidMessage as e:
        return ("error", e.reason, str(e))
    return ("ok", m.message, m.next_root, m.index, m.security, m.depth)


def _kernel_reason(payload, root, side_key):
    """The reason of the one-call kernel verification alone (None: verified), or "input" where Python refuses the
    arguments before it (bad characters, a root that is not 81 trytes)."""
    if len(root) != 81 or any(ch not in ALPHABET for ch in payload + root):
        return "input"
    return _native._c.MAM_REASONS[_native.mam_parse(payload, root, mam.check_key(side_key))[0]]


def _compare_parse(payload, root, side_key):
    """C and pure Python parse ``payload`` alike; the kernel call alone refuses it for the same reason."""
    native = _parse_outcome(payload, root, side_key)
    with pure:
        assert mam_parser._K_PARSE is None
        python = _parse_outcome(payload, root, side_key)
    assert native == python
    reason = _kernel_reason(payload, root, side_key)
    if reason != "input":
        assert reason == (None if native[0] == "ok" else native[1]), (reason, native)
    return native


_PARSE_CHANNELS = [  # (mode, security, leaves): every mode and level, several tree sizes
    ("public", 1, 1), ("public", 1, 16), ("public", 2, 4), ("public", 3, 2),
    ("private", 1, 8), ("private", 2, 1), ("private", 3, 4),
    ("restricted", 1, 2), ("restricted", 2, 8), ("restricted", 3, 1),
]


def _parse_channel_messages(mode, security, leaves, rng):
    side_key = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 81))) if mode == "restricted" else None
    seed = "".join(rng.choice(ALPHABET) for _ in range(81))
    ch = Channel(seed, mode=mode, side_key=side_key, security=security, count=leaves, next_count=leaves)
    out = []
    for length in (1, 7, 81, 250, 1000)[: max(2, min(5, leaves + 1))]:
        text = "".join(rng.choice(ALPHABET) for _ in range(length))
        out.append((ch.create_message(text), text))
    return side_key, out


@pytest.mark.parametrize("mode,security,leaves", _PARSE_CHANNELS)
def test_mam_parse_equals_pure(mode, security, leaves):
    """The one-call kernel verification against the pure-Python parser: every field of good payloads, and the reason
    and text of the InvalidMessage of tampered ones (a tryte changed anywhere, in the header above all; wrong root;
    wrong side key; truncated; trailing garbage or 9s)."""
    rng = random.Random("%s-%d-%d" % (mode, security, leaves))
    side_key, messages = _parse_channel_messages(mode, security, leaves, rng)
    reasons = set()
    for m, text in messages:
        good = _compare_parse(m.payload, m.root, side_key)
        assert good[0] == "ok" and good[1:3] == (text, m.next_root) and good[4] == security
        assert 2 ** good[5] == leaves
        assert _compare_parse(m.payload + "9" * rng.randint(1, 30), m.root, side_key) == good
        n = len(m.payload)
        for _ in range(12):
            pos = rng.randrange(n) if rng.random() < 0.7 else rng.randrange(min(12, n))
            bad = m.payload[:pos] + rng.choice(ALPHABET.replace(m.payload[pos], "")) + m.payload[pos + 1:]
            reasons.add(_compare_parse(bad, m.root, side_key)[1])
        for cut in (1, 2, 3, rng.randrange(1, n), rng.randrange(n - 300, n), 0):
            reasons.add(_compare_parse(m.payload[: n - cut] if cut else "", m.root, side_key)[1])
        for junk in ("A", "9" * 5 + "Z", "".join(rng.choice(ALPHABET) for _ in range(40))):
            reasons.add(_compare_parse(m.payload + junk, m.root, side_key)[1])
        reasons.add(_compare_parse(m.payload, m.next_root, side_key)[1])
        reasons.add(_compare_parse(m.payload, "".join(rng.choice(ALPHABET) for _ in range(81)), side_key)[1])
        reasons.add(_compare_parse(m.payload, m.root, "OTHER9KEY" if side_key else "SOME9KEY")[1])
        if side_key:
            reasons.add(_compare_parse(m.payload, m.root, None)[1])
            reasons.add(_compare_parse(m.payload, m.root, side_key[:-1] + ("A" if side_key[-1] != "A" else "B"))[1])
        reasons.add(_compare_parse(m.payload, m.root[:80], side_key)[1])
        reasons.add(_compare_parse(m.payload[:5] + "a" + m.payload[6:], m.root, side_key)[1])
    # a changed signature garbles the sibling count unmasked after it (decode): "signature" needs siblings to change
    assert {"decode", "nonce", "signature" if leaves > 1 else "decode"} <= reasons


def _mutated_pascal(rng, value):
    """Offset trits of pascal(value), sometimes with a trit changed, a zero tryte's sign bit flipped or cut short."""
    ot = mam.pascal_otrits(value)
    roll = rng.random()
    if roll < 0.3:
        ot[rng.randrange(len(ot))] = rng.randrange(3)
    elif roll < 0.5:
        m = len(ot) // 4
        zeros = [i for i in range(m) if ot[3 * i : 3 * i + 3] == b"\x01\x01\x01"]
        if zeros:  # flip the encoder bit of a zero tryte (mam.js sets it, mam.client.js does not)
            i = rng.choice(zeros)
            enc = mam._otrits_value(ot, 3 * m, 4 * m) ^ (1 << i)
            mam._int_to_otrits(enc, ot, 3 * m, m)
    elif roll < 0.55:
        ot = ot[: rng.randrange(len(ot))]
    return ot


def test_mam_parse_random_headers_equal_pure():
    """Index and length headers (pascal integers: valid, with a changed trit, a zero tryte's bit flipped, cut short,
    values up to 27^14) in front of a real payload's body: the kernel's decoder refuses what Python's refuses, and for
    the same reason (but for values of 14 value trytes, beyond its 2^61, which it leaves to Python)."""
    rng = random.Random(99)
    ch = Channel("H" * 81, mode="public", security=1, count=4, next_count=4)
    m = ch.create_message("HEADER9TEST")
    body = mam.trytes_to_otrits(m.payload)[12:]  # index 0 and length 33 take 4 + 8 trits
    reasons = {}
    for i in range(600):
        big = i % 10 == 0
        index = rng.choice([0, 1, 13, 14, 27 * 27, rng.randrange(27 ** (14 if big else 12))])
        length = 33 if i % 3 else rng.choice([0, 3, 30, 36, 3 * rng.randrange(10**6), rng.randrange(100)])
        trits = _mutated_pascal(rng, index) + _mutated_pascal(rng, length) + body
        trits += b"\x01" * (-len(trits) % 3)
        payload = mam.otrits_to_trytes(trits)
        if big:
            native = _parse_outcome(payload, m.root, None)
            with pure:
                assert _parse_outcome(payload, m.root, None) == native
        else:
            native = _compare_parse(payload, m.root, None)
        key = native[1] if native[0] == "error" else "ok"
        reasons[key] = reasons.get(key, 0) + 1
    assert reasons.get("ok") and reasons.get("decode") and reasons.get("nonce"), reasons


def test_mam_parse_index_and_deep_trees_equal_pure():
    """Payloads built around a leaf index outside the tree (reason index) and around 70 random siblings (the fold
    past 64 index bits; reason signature, or verified where the root is the one they fold to)."""
    from iota_edge.streams.channel import build_payload

    rng = random.Random(7)
    seed_ot = mam.trytes_to_otrits("S" * 81)
    for index, depth in ((1, 0), (2, 1), (9, 3), (2**40, 12), (2**50 + 3, 70), (5, 70)):
        siblings = [mam.trytes_to_otrits("".join(rng.choice(ALPHABET) for _ in range(81))) for _ in range(depth)]
        root = "".join(rng.choice(ALPHABET) for _ in range(81))
        payload = build_payload(seed_ot, 3, index, 1, "DEEP", mam.check_key(None), mam.trytes_to_otrits(root),
                                siblings, mam.trytes_to_otrits("N" * 81))
        outcome = _compare_parse(payload, root, None)
        assert outcome[:2] == ("error", "index" if index >> depth else "signature"), outcome
        if not index >> depth:  # the root those siblings do lead to
            hmac_leaf = mam.leaf_address(seed_ot, 3, 1)
            real = mam.otrits_to_trytes(mam.fold_siblings(hmac_leaf, b"".join(siblings), 0, depth, index))
            payload = build_payload(seed_ot, 3, index, 1, "DEEP", mam.check_key(None), mam.trytes_to_otrits(real),
                                    siblings, mam.trytes_to_otrits("N" * 81))
            assert _compare_parse(payload, real, None) == ("ok", "DEEP", "N" * 81, index, 1, depth)


# ---- parse_payloads: a batch in one kernel call ------------------------------------------------------------------

def _outcome(result):
    """A parse_payloads element (ParsedMessage or InvalidMessage) as comparable values."""
    if isinstance(result, InvalidMessage):
        return ("error", result.reason, str(result), result.field)
    return ("ok", result.message, result.next_root, result.index, result.security, result.depth)


def _one_by_one(items):
    out = []
    for payload, root, side_key in items:
        try:
            out.append(_outcome(parse_payload(payload, root, side_key)))
        except InvalidMessage as e:
            out.append(_outcome(e))
    return out


def _flip(payload, pos, rng):
    return payload[:pos] + rng.choice(ALPHABET.replace(payload[pos], "")) + payload[pos + 1:]


def _batch_pool(rng):
    """(payload, root, side_key) items: good messages of every mode and security level and several tree sizes, and
    tampered ones: a tryte flipped in the signature, the message, the nonce, the last sibling; the wrong root or
    side key; cut short; garbage appended; bad characters; a short root."""
    good, bad = [], []
    for mode, security, leaves in _PARSE_CHANNELS:
        side_key, messages = _parse_channel_messages(mode, security, leaves, rng)
        for m, text in messages[:3]:
            good.append((m.payload, m.root, side_key))
            n = len(m.payload)
            header = len(mam.pascal_otrits(m.index)) + len(mam.pascal_otrits(3 * len(text)))  # trits
            p_msg = (header + 243) // 3
            p_sig = p_msg + len(text) + 27
            bad += [
                (_flip(m.payload, p_sig + rng.randrange(2187 * security), rng), m.root, side_key),
                (_flip(m.payload, p_msg + rng.randrange(len(text)), rng), m.root, side_key),
                (_flip(m.payload, p_msg + len(text) + rng.randrange(27), rng), m.root, side_key),
                (_flip(m.payload, n - 1 - rng.randrange(min(81, n)), rng), m.root, side_key),
                (m.payload, m.next_root, side_key),
                (m.payload, m.root, "OTHER9KEY"),
                (m.payload[: n - rng.randint(1, 40)], m.root, side_key),
                (m.payload + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 20))), m.root, side_key),
                (m.payload + "9" * rng.randint(1, 5), m.root, side_key),
                (m.payload[:9] + "a" + m.payload[10:], m.root, side_key),
                (m.payload, m.root[:80], side_key),
                ("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 3000))), m.root, side_key),
            ]
    return good, bad


_POOL = {}


def _pool():
    if not _POOL:
        _POOL["good"], _POOL["bad"] = _batch_pool(random.Random(2024))
    return _POOL["good"], _POOL["bad"]


@pytest.mark.parametrize("size", [0, 1, 2, 100, 600])
def test_parse_payloads_equals_parse_payload(size):
    """Element i of parse_payloads is what parse_payload(*items[i]) returns or raises: the fields of good messages
    (security 1..3, public, private and restricted, 1..16 leaves), the reason, text and field of every refusal, in
    batches of any size (a good and a tampered message side by side, repeated where the batch is larger)."""
    good, bad = _pool()
    rng = random.Random(size)
    items = [rng.choice(good) if rng.random() < 0.5 else rng.choice(bad) for _ in range(size)]
    if size >= 100:
        items[: len(good) + len(bad)] = good + bad  # every one of them at least once
    got = [_outcome(r) for r in parse_payloads(items)]
    want = _one_by_one(items)
    assert got == want
    if size:
        kinds = {w[0] if w[0] == "ok" else w[1] for w in want}
        assert kinds >= ({"ok", "decode", "nonce", "signature"} if size >= 100 else {want[0][0] if want[0][0] == "ok"
                                                                                      else want[0][1]})
    if size <= 100:  # the pure backend: parse_payload one by one
        with pure:
            assert mam_parser._K_PARSE_MANY is None
            assert [_outcome(r) for r in parse_payloads(items)] == want


def test_parse_payloads_verifies_security_levels_and_trees():
    """Every good message of the pool verifies in one batch, at its security level, and its tampered copies do not."""
    good, bad = _pool()
    results = parse_payloads(good + bad)
    assert all(not isinstance(r, InvalidMessage) for r in results[: len(good)])
    assert {r.security for r in results[: len(good)]} == {1, 2, 3}
    assert {r.depth for r in results[: len(good)]} >= {0, 1, 2, 3, 4}
    assert sum(isinstance(r, InvalidMessage) for r in results[len(good):]) >= len(bad) - len(bad) // 12 - 1


def test_parse_payloads_kernel_alone_refuses_alike():
    """The batch kernel call alone: the reason of each refusal, and the fields of each good message, are those of
    the one-payload kernel call."""
    good, bad = _pool()
    items = [(p, r, mam.check_key(k)) for p, r, k in good + bad
             if len(r) == 81 and all(ch in ALPHABET for ch in p + r)]
    assert _native.mam_parse_many(items) == [_native.mam_parse(*it) for it in items]
    assert _native.mam_parse_many([]) == []


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=81, max_size=81), st.text(alphabet=ALPHABET, max_size=27),
       st.binary(max_size=3000), st.integers(0, 10**12))
def test_bundle_finalize_random(address, tag, message, timestamp):
    transfers = [{"address": address, "tag": tag, "message": message}]
    native = bundle.prepare_transfer(None, transfers, timestamp=timestamp)
    with pure:
        assert bundle.prepare_transfer(None, transfers, timestamp=timestamp) == native


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=81, max_size=81), st.sampled_from(["public", "private"]),
       st.text(alphabet=ALPHABET, max_size=7000), st.integers(0, 10**12), st.text(alphabet=ALPHABET, max_size=27))
def test_gateway_build_bundle_is_prepare_transfer(root, mode, payload, timestamp, tag):
    """The gateway's bundle of a MAM payload (service.build_bundle, which skips prepare_transfer's checks) is the one
    prepare_transfer builds, with the kernel and in pure Python: 1..4 transactions."""
    from iota_edge.gateway.service import build_bundle
    from iota_edge.streams.channel import channel_address

    transfers = [{"address": channel_address(root, mode), "value": 0, "tag": tag, "message_trytes": payload}]
    want = bundle.prepare_transfer(None, transfers, timestamp=timestamp)
    assert build_bundle(root, mode, payload, timestamp, tag) == want
    with pure:
        assert build_bundle(root, mode, payload, timestamp, tag) == want


def test_bundle_finalize_wraps_an_all_m_tag():
    """'M' * 27 + 1 wraps to 'N' * 27 (the carry out of the tag is dropped), in C as in Python."""
    for timestamp in range(1, 100):
        transfers = [{"address": "A" * 81, "tag": "M" * 27, "message": b"wrap"}]
        native = bundle.prepare_transfer(None, transfers, timestamp=timestamp)
        if native[0][2295:2322] != "M" * 27:
            break
    assert native[0][2295:2322].endswith("N" * 20)  # wrapped, then counted up from N...N
    with pure:
        assert bundle.prepare_transfer(None, transfers, timestamp=timestamp) == native


def _random_essences(rng, n_tx, tag):
    essences = ["".join(rng.choice(ALPHABET) for _ in range(162)) for _ in range(n_tx)]
    essences[0] = essences[0][:108] + tag + essences[0][135:]
    return essences


def test_bundle_finalize_equals_the_python_loop(monkeypatch):
    """The kernel's M-bug loop (several tags at once where the CPU has AVX2 or AVX-512) against the one-try-at-a-time
    loop of bundle._secure_hash (with the kernel's loop off, so each try is one kerl_hash and a Python normalize):
    2000 random bundles of 1..6 transactions, a quarter of them with a tag a few increments below 'M' * 27 (the wrap
    to 'N' * 27 falls inside the tries) and some exactly 'M' * 27. Same tag, same hash."""
    rng = random.Random(20240613)
    wrapped = 0
    for i in range(2000):
        if i % 4 == 1:
            tag = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 2))).ljust(27, "M")
        elif i % 16 == 2:
            tag = "M" * 27
        else:
            tag = "".join(rng.choice(ALPHABET) for _ in range(27))
        essences = _random_essences(rng, rng.randint(1, 6), tag)
        native = _native.bundle_finalize("".join(essences))
        with monkeypatch.context() as m:
            m.setattr(bundle, "_K_FINALIZE", None)
            assert bundle._secure_hash(essences) == native, i
        wrapped += tag.endswith("M") and native[0].endswith("N")
    assert wrapped >= 200


def test_bundle_finalize_equals_the_pure_loop():
    """A few bundles all in Python (pure Kerl too); the first two wrap to 'N' * 27 on the way."""
    rng = random.Random(7)
    for i, tag in enumerate(["M" * 27, "L" + "M" * 26, "9" * 27, "NOPQRSTUVWXYZ9ABCDEFGHIJKLM"]):
        essences = _random_essences(rng, 1 + i % 3, tag)
        native = _native.bundle_finalize("".join(essences))
        with pure:
            assert bundle._secure_hash(essences) == native
        assert native[0].endswith("N" * 20) == (i < 2)


@pytest.mark.parametrize("essences", ["", "A" * 161, "A" * 163, "a" * 162])
def test_bundle_finalize_refuses_bad_essences(essences):
    with pytest.raises(InvalidTrytes):
        _native.bundle_finalize(essences)


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
