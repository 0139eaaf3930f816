"""MAM v0 streams on CPython and MicroPython: vectors, official payloads, round trips, tampering, state, power cuts,
the channel reader, CBOR readings. ``micropython -X heapsize=16m tests/portable/run.py test_streams``."""
from _support import IS_MICROPYTHON, raises, vectors

from iota_edge import cbor
from iota_edge.curl import curl_hash
from iota_edge.errors import InvalidMessage, InvalidValue
from iota_edge.streams import Channel, FileStore, MemoryStore, channel_address, mam, parse_message, parse_payload
from iota_edge.streams import parse_payloads
from iota_edge.streams import read_channel
from iota_edge.streams.reading import decode_reading, encode_batch, encode_reading, reading_from_trytes, reading_to_trytes
from iota_edge.trinary import bytes_to_trytes

SEED_A = "A" * 81
SEED = "IOTAEDGE9PORTABLE9TESTS" + "9" * 58
# spec 10.2 (mam.js test/signing/iss-p27.spec.ts, test/mam/channel.spec.ts)
ROOT_A = "POKRBFTSZPVUNXQAUMLXTVQOTIUBDWFTCIJOROUOGCQKVLHGQQABFPBXTL9RKUSHOLONFXTDWAHMDDJRG"
NEXT_ROOT_A = "ZRBYGMGPEUBFOUMKULUBNCSQQNRH9JOMV9QJEZTAA99HCXLDHFTFOR9UYRKXSEYDRWPSDZQHJIFODHXRS"

_made = {}


def _channel_messages(mode, side_key=None):
    """Two messages of a security-1, two-leaf channel. The leaf hashes do not depend on the mode, so the channels
    share them through the state's leaf cache; results are cached too (keys cost Curl time, most on MicroPython)."""
    key = (mode, side_key)
    if key not in _made:
        if "leaves" not in _made:
            base = Channel(SEED, security=1, count=2, next_count=2)
            base.root, base.next_root  # fill both leaf caches
            _made["leaves"] = base.to_state()
        state = dict(_made["leaves"])
        state["mode"], state["side_key"] = mode, side_key
        ch = Channel.from_state(state)
        _made[key] = (ch, [ch.create_message("HELLO9WORLD"), ch.create_message("")])
    return _made[key]


# --- vectors -------------------------------------------------------------------------------------------------------


def test_root_and_next_root_vectors():
    ch = Channel(SEED_A)
    assert ch.root == ROOT_A
    assert ch.next_root == NEXT_ROOT_A
    assert ch.address == ROOT_A
    assert Channel(SEED_A, mode="private").address == curl_hash(ROOT_A, 81)


def test_pascal_vectors_and_round_trip():
    assert mam.pascal_encode(0) == [1, 0, 0, -1]
    assert mam.pascal_encode(1234) == [1, 0, -1, 1, 0, -1, -1, 1, 0, 0, 0, 0]
    values = list(range(0, 800)) + [3**k + d for k in range(6, 30, 3) for d in (-1, 0, 1)] + [2**40]
    for v in values:
        ot = mam.pascal_otrits(v)
        tail = ot + mam.zeros(5)
        assert mam.pascal_decode(tail, 0, len(tail)) == (v, len(ot)), v


def test_pascal_accepts_the_rust_zero_tryte_bit_and_rejects_the_rest():
    # 324 = trytes [0, 12]: mam.js sets the sign bit of the zero tryte, mam.client.js does not.
    ot = mam.pascal_otrits(324)
    assert mam.otrits_to_trits(ot) == [0, 0, 0, 0, 1, 1, 1, 0]
    rust = mam.trits_to_otrits([0, 0, 0, 0, 1, 1, 0, 0])
    assert mam.pascal_decode(rust, 0, 8) == (324, 8)
    e = raises(InvalidMessage, mam.pascal_decode, mam.trits_to_otrits([0, 0, 0, 0, 1, 1, 0, 1]), 0, 8)
    assert e.reason == "decode"
    e = raises(InvalidMessage, mam.pascal_decode, mam.trits_to_otrits([0, 0, 0, -1, -1, -1]), 0, 6)
    assert e.reason == "decode"  # no terminating tryte


def test_official_payloads_parse():
    """Messages made by mam.client.js 0.7.3 and mam.js (tests/vectors/mam.json) verify and decrypt here."""
    for c in vectors("mam"):
        m = parse_payload(c["payload"], c["root"], c["side_key"])
        assert (m.message, m.next_root, m.index) == (c["message"], c["next_root"], c["index"]), c["lib"]
        assert channel_address(c["root"], c["mode"]) == c["address"]


def test_our_roots_equal_the_official_ones():
    seen = set()
    for c in vectors("mam"):
        if c["security"] != 1 or (c["seed"], c["start"], c["count"], c["security"]) in seen:
            continue  # security 1 keeps it quick; test_root_and_next_root_vectors covers security 2
        seen.add((c["seed"], c["start"], c["count"], c["security"]))
        ch = Channel(c["seed"], c["mode"], c["side_key"], c["security"], c["start"], c["count"], c["next_count"],
                     c["index"])
        assert (ch.root, ch.next_root, ch.address) == (c["root"], c["next_root"], c["address"])


# --- create / parse ------------------------------------------------------------------------------------------------


def test_round_trip_in_every_mode():
    for mode, key in (("public", None), ("private", None), ("restricted", "SIDE9KEY")):
        ch, (m0, m1) = _channel_messages(mode, key)
        assert m0.root == m1.root and m0.next_root == m1.next_root == ch.root  # the tree is used up: moved on
        assert (m0.index, m1.index) == (0, 1)
        assert m0.address == (m0.root if mode == "public" else curl_hash(m0.root, 81))
        assert parse_message(m0.payload, m0.root, key) == ("HELLO9WORLD", m0.next_root)
        assert parse_message(m1.payload, m1.root, key) == ("", m1.next_root)


def test_wrong_key_or_root_is_detected():
    _, (m0, _) = _channel_messages("restricted", "SIDE9KEY")
    # Under a wrong key or root everything after the header decrypts to noise: the nonce check fails (about 17 in
    # 18 cases at security 1), or a garbled length, or the signature.
    for key in (None, "SIDE9KEZ"):
        e = raises(InvalidMessage, parse_message, m0.payload, m0.root, key)
        assert e.reason in ("nonce", "decode", "signature"), e.reason
    e = raises(InvalidMessage, parse_message, m0.payload, m0.next_root, "SIDE9KEY")
    assert e.reason in ("nonce", "decode", "signature")
    _, (p0, _) = _channel_messages("public")
    assert parse_message(p0.payload, m0.root) == parse_message(p0.payload, p0.root)  # same seed, same tree
    e = raises(InvalidMessage, parse_message, p0.payload, p0.next_root)
    assert e.reason in ("nonce", "decode", "signature")


def _flip(payload, trit):
    buf = mam.trytes_to_otrits(payload)
    buf[trit] = (buf[trit] + 1) % 3
    return mam.otrits_to_trytes(buf)


def test_tampering_anywhere_is_detected():
    _, (m0, _) = _channel_messages("private")
    n = 3 * len(m0.payload)
    # header, next root, message, nonce, signature, sibling count, sibling, last trit
    for trit in (0, 5, 20, 300, 290, 340, 400, 3000, n - 250, n - 246, n - 100, n - 1):
        e = raises(InvalidMessage, parse_message, _flip(m0.payload, trit), m0.root)
        assert e.reason in ("decode", "nonce", "index", "signature"), e.reason
    e = raises(InvalidMessage, parse_message, m0.payload + "A", m0.root)
    assert e.reason == "decode"
    assert parse_message(m0.payload + "9" * 50, m0.root)[0] == "HELLO9WORLD"  # bundle padding is fine
    e = raises(InvalidMessage, parse_message, m0.payload[:-300], m0.root)
    assert e.reason == "decode"
    e = raises(InvalidMessage, parse_message, "ABC", m0.root)
    assert e.reason == "decode"
    e = raises(InvalidMessage, parse_message, "abc", m0.root)
    assert e.reason == "decode"


def test_parse_payloads_is_parse_payload_item_by_item():
    """A batch (the C kernel's one call on CPython, parse_payload one by one on MicroPython): each element is the
    ParsedMessage, or the InvalidMessage parse_payload raises, of its item."""
    _, (m0, m1) = _channel_messages("restricted", "SIDE9KEY")
    items = [(m0.payload, m0.root, "SIDE9KEY"), (_flip(m0.payload, 3000), m0.root, "SIDE9KEY"),
             (m1.payload, m1.root, "SIDE9KEY"), (m0.payload, m0.root, None), ("abc", m0.root, None)]
    results = parse_payloads(items)
    assert len(results) == len(items)
    for (payload, root, key), got in zip(items, results):
        try:
            want = parse_payload(payload, root, key)
        except InvalidMessage as e:
            assert isinstance(got, InvalidMessage) and (got.reason, str(got)) == (e.reason, str(e))
        else:
            assert (got.message, got.next_root, got.index) == (want.message, want.next_root, want.index)
    assert results[0].message == "HELLO9WORLD" and results[2].message == ""
    assert isinstance(results[1], InvalidMessage) and results[4].reason == "decode"
    assert parse_payloads([]) == []


def test_message_bundle_carries_the_payload():
    from iota_edge.bundle import decode_bundle

    _, (m0, _) = _channel_messages("public")
    trytes = m0.bundle(tag="MAM", timestamp=1700000000)
    txs = decode_bundle(trytes)
    assert len(txs) == 2 and all(tx.address == m0.address for tx in txs)
    payload = "".join([tx.signature_message_fragment for tx in txs])
    assert parse_message(payload, m0.root)[0] == "HELLO9WORLD"


def test_channel_arguments_are_checked():
    raises(InvalidValue, Channel, SEED, mode="secret")
    raises(InvalidValue, Channel, SEED, mode="restricted")
    raises(InvalidValue, Channel, SEED, mode="public", side_key="KEY")
    raises(InvalidValue, Channel, SEED, count=3)
    raises(InvalidValue, Channel, SEED, next_count=0)
    raises(InvalidValue, Channel, SEED, count=2, index=2)
    raises(InvalidValue, Channel, SEED, security=4)


# --- state ---------------------------------------------------------------------------------------------------------


def test_state_round_trip_and_rollover():
    ch = Channel(SEED, mode="restricted", side_key="K", security=1, count=2, next_count=2, start=4)
    root, next_root = ch.root, ch.next_root
    s = ch.to_state()
    assert s["side_key"] == "K" + "9" * 80 and s["start"] == 4 and len(s["leaves"]) == 2
    again = Channel.from_state(s)
    assert again.to_state() == s and again.root == root
    m = again.create_message("A")
    assert m.key_index == 4 and again.index == 1
    m = again.create_message("B")
    assert m.key_index == 5
    assert (again.start, again.index, again.count) == (6, 0, 2) and again.root == next_root
    # A mam.client.js state dict works as well.
    js = {"seed": SEED, "subscribed": [], "channel": {"side_key": None, "mode": "public", "next_root": None,
                                                      "security": 1, "start": 6, "count": 2, "next_count": 2,
                                                      "index": 1}}
    ch = Channel.from_state(js)
    assert (ch.start, ch.index, ch.mode) == (6, 1, "public") and ch.root == next_root
    raises(InvalidValue, Channel.from_state, {"version": 99})
    raises(InvalidValue, Channel.from_state, {"version": 1, "seed": SEED})


def test_leaf_is_saved_before_signing():
    class Failing:
        def save(self, state):
            raise OSError("disk full")

    ch = Channel(SEED, security=1, count=2, next_count=2, store=Failing())
    raises(OSError, ch.create_message, "A")
    assert (ch.start, ch.index, ch.count) == (0, 0, 2)  # nothing reserved, nothing signed
    store = MemoryStore()
    ch.store = store
    m = ch.create_message("A")
    saved = store.load()
    assert m.key_index == 0 and saved["index"] == 1 and saved == ch.to_state()


class PowerCut(Exception):
    pass


class CuttingStore(FileStore):
    """A FileStore whose k-th file operation (write, rename) loses power: before it completes when ``after`` is
    False (a write leaves half its data in the temp file), just after it otherwise (the operation reached the disk
    but the device died before the caller saw it)."""

    def __init__(self, path, cut_at, after):
        super().__init__(path)
        self.ops = 0
        self.cut_at = cut_at
        self.after = after

    def _write(self, path, state):
        self.ops += 1
        if self.ops == self.cut_at and not self.after:
            import json

            text = json.dumps(state)
            with open(path, "w") as f:  # a torn write: half the JSON reached the temp file
                f.write(text[: len(text) // 2])
            raise PowerCut()
        FileStore._write(self, path, state)
        if self.ops == self.cut_at:
            raise PowerCut()

    def _rename(self, src, dst):
        self.ops += 1
        if self.ops == self.cut_at and not self.after:
            raise PowerCut()
        FileStore._rename(self, src, dst)
        if self.ops == self.cut_at:
            raise PowerCut()


def _remove(path):
    import os

    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def test_power_cut_at_every_state_write_never_reuses_a_leaf():
    """Cut the power at every write and rename of the state file (before and after each) during a run of messages,
    reboot from the file each time, and check that no key is ever signed with twice. To keep ~100 messages quick,
    leaf hashes are memoized across runs (they are deterministic) and mam.sign_segments only records the key index it
    was asked for (signatures themselves are checked by the other tests)."""
    path = "/tmp/iota_edge_streams_cut.json" if IS_MICROPYTHON else _tmp_path()
    wanted = 5
    memo = {}
    real_leaves, real_sign = mam.tree_leaves, mam.sign_segments
    signed = []

    def leaves(seed_ot, start, count, security):
        key = (bytes(seed_ot), start, count, security)
        if key not in memo:
            memo[key] = real_leaves(seed_ot, start, count, security)
        return list(memo[key])

    def sign_segments(seed_ot, index, security, hmac, emit):
        signed.append(index)
        for _ in range(27 * security):
            emit(mam.zeros(243))

    mam.tree_leaves, mam.sign_segments = leaves, sign_segments
    try:
        for cut_at in range(1, 2 * wanted + 1):  # each save is one write and one rename
            for after in (False, True):
                _remove(path)
                del signed[:]
                store = CuttingStore(path, cut_at, after)
                ch = Channel(SEED, security=1, count=2, next_count=2, store=store)
                made = 0
                cuts = 0
                while made < wanted:
                    try:
                        m = ch.create_message("M" + "ABCDEFGHI"[made])
                    except PowerCut:
                        cuts += 1
                        state = FileStore(path).load()  # reboot: only what reached the disk survives
                        store = CuttingStore(path, 0, False)
                        if state:
                            ch = Channel.from_state(state, store=store)
                        else:
                            ch = Channel(SEED, security=1, count=2, next_count=2, store=store)
                        continue
                    assert m.key_index == signed[-1]
                    made += 1
                assert cuts == 1, (cut_at, after)
                assert len(set(signed)) == len(signed) == wanted, (cut_at, after, signed)
                assert signed == sorted(signed)
    finally:
        mam.tree_leaves, mam.sign_segments = real_leaves, real_sign
        _remove(path)


def _tmp_path():
    import os
    import tempfile

    return os.path.join(tempfile.mkdtemp(), "state.json")


def test_file_store_refuses_a_corrupt_state():
    path = "/tmp/iota_edge_streams_corrupt.json" if IS_MICROPYTHON else _tmp_path()
    _remove(path)
    assert FileStore(path).load() is None
    FileStore(path).save({"a": 1})
    assert FileStore(path).load() == {"a": 1}
    with open(path, "w") as f:
        f.write('{"a": ')
    raises(InvalidValue, FileStore(path).load)
    _remove(path)
    with open(path + ".tmp", "w") as f:  # FAT rename cut between remove and rename: the temp file is complete
        f.write('{"b": 2}')
    assert FileStore(path).load() == {"b": 2}
    _remove(path)


# --- reader --------------------------------------------------------------------------------------------------------


class FakeNode:
    """find_transactions / get_trytes over bundles "attached" by linking trunks (no PoW)."""

    def __init__(self):
        self.txs = {}  # hash -> trytes
        self.by_address = {}
        self.tip = "9" * 81

    def attach(self, bundle_trytes, branch="TIP"):
        from iota_edge.transaction import Transaction

        txs = [Transaction.from_trytes(t) for t in bundle_trytes]
        trunk = self.tip
        for tx in reversed(txs):  # head first, as attachToTangle does
            tx.trunk = trunk
            tx.branch = (branch + "9" * 81)[:81]
            trunk = tx.hash
            self.txs[trunk] = tx.to_trytes()
            self.by_address.setdefault(tx.address, []).append(trunk)
        return [tx.to_trytes() for tx in txs]

    def find_transactions(self, addresses):
        out = []
        for a in addresses:
            out.extend(self.by_address.get(a, []))
        return out

    def get_trytes(self, hashes):
        return [self.txs[h] for h in hashes]


def test_read_channel_walks_verifies_and_reports():
    node = FakeNode()
    ch = Channel(SEED, mode="restricted", side_key="RKEY", security=1, count=2, next_count=2)
    first = ch.root
    made = [ch.create_message(bytes_to_trytes(("reading %d" % i).encode())) for i in range(3)]
    for m in made:
        node.attach(m.bundle(timestamp=1700000000))
    node.attach(made[0].bundle(timestamp=1700000000), branch="OTHER")  # a reattachment: read once
    forged = made[1].bundle(timestamp=1700000000)
    forged[0] = forged[0][:100] + ("A" if forged[0][100] != "A" else "B") + forged[0][101:]
    node.attach(forged)  # same bundle hash, one fragment trit changed
    results = read_channel(node, first, mode="restricted", side_key="RKEY")
    ok = [r for r in results if r.ok]
    assert [r.data() for r in ok] == [("reading %d" % i).encode() for i in range(3)]
    assert [r.index for r in ok] == [0, 1, 0]
    bad = [r for r in results if not r.ok]
    assert len(bad) == 1 and bad[0].error.reason in ("signature", "nonce", "decode"), bad
    assert ok[-1].next_root == ch.next_root  # the channel sits at index 1 of the tree the last message opened
    assert [r.data() for r in read_channel(node, first, "restricted", "RKEY", limit=2) if r.ok] == [
        b"reading 0", b"reading 1"]
    assert read_channel(node, first, mode="restricted", side_key="WRONG")[0].error.reason in ("nonce", "signature")
    assert read_channel(node, first, mode="public") == []  # nothing at the root itself


# --- readings ------------------------------------------------------------------------------------------------------


def test_cbor_known_encodings():
    # Bytes from cbor2.dumps(..., canonical=True) (cbor2 6.2.1); the host tests compare many more.
    cases = (
        (0, "00"), (23, "17"), (24, "1818"), (-1, "20"), (-25, "3818"), (65536, "1a00010000"),
        (2**64 - 1, "1bffffffffffffffff"), (1.5, "f93e00"), (21.0, "f94d40"), (0.1, "fb3fb999999999999a"),
        (-0.0, "f98000"), (65504.0, "f97bff"), (5.960464477539063e-08, "f90001"), (1e-40, "fb37a16c262777579c"),
        (3.4028234663852886e38, "fa7f7fffff"), (float("inf"), "f97c00"), (None, "f6"), (True, "f5"),
        ("Cel", "6343656c"), (b"\x01", "4101"), ([1, [2]], "82018102"),
        ({"b": 1, "aa": 2, "a": 3, 100: 1, -1: 2}, "a5200218640161610361620162616102"),
    )
    for value, hexed in cases:
        data = cbor.dumps(value)
        assert data == bytes.fromhex(hexed), (value, data)
        assert cbor.loads(data) == value or value != value
    assert cbor.dumps(float("nan")) == bytes.fromhex("f97e00")
    for bad in ("5f", "c0", "0001", "18", "62ff", "a1800000"):
        raises(InvalidValue, cbor.loads, bytes.fromhex(bad))


def test_reading_round_trip_through_a_message():
    values = [("t", 21.5, "Cel"), ("rh", 48, "%"), ("ok", True, ""), ("p", 101325.25, "Pa")]
    data = encode_reading("meter-7", 42, 1700000000, values)
    assert data[:4] == bytes.fromhex("a5000101")  # map of 5, version 1
    r = decode_reading(data)
    assert (r.device, r.seq, r.timestamp, r.values, r.version) == ("meter-7", 42, 1700000000, values, 1)
    assert r.value("rh") == 48 and r.value("none") is None
    _, (m0, _) = _channel_messages("public")
    trytes = reading_to_trytes("meter-7", 42, 1700000000, values)
    assert reading_from_trytes(trytes) == r
    e = raises(InvalidMessage, decode_reading, cbor.dumps({0: 2, 1: "x", 2: 0, 3: 0, 4: []}))
    assert e.reason == "reading"
    raises(InvalidMessage, decode_reading, cbor.dumps({0: 1, 1: "x", 2: 0, 3: 0, 4: [], 9: 1}))
    raises(InvalidMessage, decode_reading, b"\xff")
    raises(InvalidMessage, encode_reading, "x", -1, 0, [])
    raises(InvalidMessage, encode_reading, "x", 1, 0, [("t", "warm", "")])
    assert decode_reading(encode_reading("d", 1, 2, {"b": (1, "V"), "a": 2})).values == [("a", 2, ""), ("b", 1, "V")]


def test_batch_of_samples_in_one_message():
    samples = [(1700000000 + 60 * i, [("p", 1000 + i, "W"), ("e", i * 0.5, "kWh")]) for i in range(5)]
    data = encode_batch("meter-7", 9, samples)
    r = decode_reading(data)
    assert (r.device, r.seq, r.timestamp, r.values) == ("meter-7", 9, samples[0][0], samples[0][1])
    assert r.samples == samples
    assert reading_from_trytes(bytes_to_trytes(data)) == r
    # A batch of one is the single reading, byte for byte.
    assert encode_batch("meter-7", 9, samples[:1]) == encode_reading("meter-7", 9, samples[0][0], samples[0][1])
    assert decode_reading(encode_reading("d", 1, 2, [])).samples == [(2, [])]
    raises(InvalidMessage, encode_batch, "x", 1, [])
    raises(InvalidMessage, encode_batch, "x", 1, [(1.5, [])])
    raises(InvalidMessage, encode_batch, "x", 1, [(1, [("t", "warm", "")])])
    raises(InvalidMessage, decode_reading, cbor.dumps({0: 1, 1: "x", 2: 0, 3: 0, 4: [], 5: []}))
    raises(InvalidMessage, decode_reading, cbor.dumps({0: 1, 1: "x", 2: 0, 3: 0, 4: [], 5: [[1]]}))
