"""Property tests of the MAM v0 streams (hypothesis): tampering with any trit, the chain of roots, pascal codes,
power cuts at random points, and the CBOR encoder against cbor2's canonical output."""
import math
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iota_edge import cbor
from iota_edge.errors import InvalidMessage, InvalidValue
from iota_edge.streams import Channel, FileStore, mam, parse_message
from iota_edge.streams.reading import decode_reading, encode_reading

try:
    import cbor2  # a test extra: the reference our CBOR must equal
except ImportError:
    cbor2 = None


@pytest.fixture(scope="module")
def need_cbor2():
    if cbor2 is None:
        if os.environ.get("CI") == "true":
            pytest.fail("cbor2 is required in CI: pip install .[test]")
        pytest.skip("cbor2 not installed (pip install cbor2)")

SEED = "IOTAEDGE9PROPERTY9TESTS" + "9" * 58
_chain = []


def chain():
    """Four messages over two 2-leaf trees of a restricted channel, security 1 (made once)."""
    if not _chain:
        ch = Channel(SEED, mode="restricted", side_key="PROPKEY", security=1, count=2, next_count=2)
        for text in ("FIRST", "SECOND9MESSAGE", "", "FOURTH" * 20):
            _chain.append((text, ch.create_message(text)))
    return _chain


def flip(payload, trit, delta):
    buf = mam.trytes_to_otrits(payload)
    buf[trit] = (buf[trit] + delta) % 3
    return mam.otrits_to_trytes(buf)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 3), st.data(), st.sampled_from([1, 2]))
def test_changing_any_trit_is_detected(which, data, delta):
    text, m = chain()[which]
    trit = data.draw(st.integers(0, 3 * len(m.payload) - 1))
    with pytest.raises(InvalidMessage) as e:
        parse_message(flip(m.payload, trit, delta), m.root, "PROPKEY")
    assert e.value.reason in ("decode", "nonce", "index", "signature")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.integers(1, 200), st.booleans())
def test_cutting_or_extending_is_detected(which, n, cut):
    _, m = chain()[which]
    payload = m.payload[:-n] if cut else m.payload + "9" * (n - 1) + "A"
    with pytest.raises(InvalidMessage):
        parse_message(payload, m.root, "PROPKEY")


def test_the_chain_links_and_a_wrong_root_fails():
    msgs = chain()
    for i, (text, m) in enumerate(msgs):
        assert parse_message(m.payload, m.root, "PROPKEY") == (text, m.next_root)
        if i + 2 < len(msgs):  # trees of two: message i + 2 is in the tree message i announced
            assert msgs[i + 2][1].root == m.next_root
        for j, (_, other) in enumerate(msgs):
            if other.root != m.root:
                with pytest.raises(InvalidMessage):
                    parse_message(m.payload, other.root, "PROPKEY")
        with pytest.raises(InvalidMessage):
            parse_message(m.payload, m.next_root, "PROPKEY")


def test_messages_cannot_move_between_leaves():
    """Swapping the index header of a message for that of its sibling leaf (which a reader sorts by) fails."""
    _, a = chain()[0]
    ia = mam.trytes_to_otrits(a.payload)
    assert mam.pascal_decode(ia, 0, len(ia))[0] == 0
    moved = bytearray(ia)
    moved[0:4] = mam.pascal_otrits(1)[0:4]
    with pytest.raises(InvalidMessage):
        parse_message(mam.otrits_to_trytes(moved), a.root, "PROPKEY")


@given(st.integers(0, 2**62))
def test_pascal_round_trip(v):
    ot = mam.pascal_otrits(v)
    buf = ot + mam.zeros(7)
    assert mam.pascal_decode(buf, 0, len(buf)) == (v, len(ot))


@given(st.lists(st.integers(-1, 1), min_size=1, max_size=40))
def test_pascal_decode_of_noise_is_canonical_or_refused(trits):
    buf = mam.trits_to_otrits(trits)
    try:
        v, end = mam.pascal_decode(buf, 0, len(buf))
    except InvalidMessage as e:
        assert e.reason == "decode"
        return
    ours = mam.pascal_otrits(v)
    assert len(ours) == end and ours[: 3 * (end // 4)] == buf[: 3 * (end // 4)]


class Cut(Exception):
    pass


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 14), min_size=1, max_size=5), st.lists(st.booleans(), min_size=5, max_size=5))
def test_random_power_cuts_never_reuse_a_leaf(tmp_path_factory, cuts, afters):
    """Several cuts in one run, each before or after a write or a rename, with reboots from the file."""
    path = str(tmp_path_factory.mktemp("cut") / "state.json")
    signed = []
    real_sign = mam.sign_segments

    def sign_segments(seed_ot, index, security, hmac, emit):
        signed.append(index)
        for _ in range(27 * security):
            emit(mam.zeros(243))

    mam.sign_segments = sign_segments
    leaves = _memo_leaves()
    try:
        plan = {}
        op = 0
        for c, after in zip(cuts, afters):
            op += c
            plan[op] = after

        class Store(FileStore):
            ops = 0

            def _step(self, fn, *args):
                Store.ops += 1
                after = plan.get(Store.ops)
                if after is False:
                    raise Cut()
                fn(self, *args)
                if after:
                    raise Cut()

            def _write(self, p, data):
                self._step(FileStore._write, p, data)

            def _rename(self, src, dst):
                self._step(FileStore._rename, src, dst)

        ch = Channel(SEED, security=1, count=2, next_count=2, store=Store(path))
        made = 0
        while made < 6:
            try:
                m = ch.create_message("X")
                assert m.key_index == signed[-1]
                made += 1
            except Cut:
                state = FileStore(path).load()
                ch = (Channel.from_state(state, store=Store(path)) if state else
                      Channel(SEED, security=1, count=2, next_count=2, store=Store(path)))
        assert len(set(signed)) == len(signed) == 6
        assert signed == sorted(signed)
    finally:
        mam.sign_segments = real_sign
        mam.tree_leaves = leaves


_leaf_memo = {}


def _memo_leaves():
    real = mam.tree_leaves

    def leaves(seed_ot, start, count, security):
        key = (bytes(seed_ot), start, count, security)
        if key not in _leaf_memo:
            _leaf_memo[key] = real(seed_ot, start, count, security)
        return list(_leaf_memo[key])

    mam.tree_leaves = leaves
    return real


# --- CBOR against cbor2 ---------------------------------------------------------------------------------------------

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=16), st.floats(width=32),
    st.integers(-2**24, 2**24).map(float),
    st.sampled_from([0.0, -0.0, 65504.0, 65520.0, 6.103515625e-05, 5.960464477539063e-08, 1e-40, 3.4028234663852886e38,
                     float("inf"), -float("inf"), 1.5, 21.5, 0.1, 2.0**-149, 2.0**-24 * 1.5]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64 - 1), floats, st.text(max_size=20),
                    st.binary(max_size=20))
keys = st.one_of(st.integers(-2**64, 2**64 - 1), st.text(max_size=8), st.binary(max_size=4))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


def _same(a, b):
    """Equality that treats NaN as equal to itself and tells -0.0 from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (a != a and b != b) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=500)
@given(values)
def test_cbor_equals_cbor2_canonical(need_cbor2, v):
    ours = cbor.dumps(v)
    assert ours == cbor2.dumps(v, canonical=True)
    back = cbor.loads(ours)
    assert _same(back, cbor2.loads(ours))


@given(st.binary(max_size=40))
def test_cbor_decoder_refuses_or_agrees_with_cbor2(need_cbor2, data):
    try:
        ours = cbor.loads(data)
    except InvalidValue:
        return
    theirs = cbor2.loads(data)
    assert _same(ours, theirs)


@given(st.floats(width=32, allow_nan=False))
def test_cbor_floats_take_the_shortest_exact_width(f):
    data = cbor.dumps(f)
    assert {3: 0xF9, 5: 0xFA, 9: 0xFB}[len(data)] == data[0]
    if len(data) == 9:
        assert struct.unpack(">f", struct.pack(">f", f))[0] != f


@given(st.text(max_size=12), st.integers(0, 2**40), st.integers(-2**40, 2**40),
       st.lists(st.tuples(st.text(max_size=6), st.one_of(st.integers(-2**63, 2**63), st.floats(), st.booleans(),
                                                         st.none()), st.text(max_size=5)), max_size=6))
def test_reading_round_trip(need_cbor2, device, seq, ts, vals):
    data = encode_reading(device, seq, ts, vals)
    assert data == cbor2.dumps(cbor2.loads(data), canonical=True)
    r = decode_reading(data)
    assert (r.device, r.seq, r.timestamp) == (device, seq, ts)
    assert all(_same(list(a), list(b)) for a, b in zip(r.values, vals)) and len(r.values) == len(vals)
