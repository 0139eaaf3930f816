"""The device <-> gateway messages: round trips, and every malformed field named (CPython and MicroPython)."""
from _support import raises

from iota_edge import wire
from iota_edge.errors import InvalidValue

ROOT = "R" * 81
PAYLOAD = "ABC9" * 50


def test_up_round_trip():
    up = wire.decode(wire.encode_up("meter-7", 42, ROOT, PAYLOAD, "restricted"))
    assert (up.device, up.seq, up.root, up.payload, up.mode, up.bundle) == ("meter-7", 42, ROOT, PAYLOAD,
                                                                           "restricted", None)
    attached = ["9" * 2673, "A" * 2673]
    assert wire.decode(wire.encode_up("d", 0, ROOT, PAYLOAD, bundle=attached)).bundle == attached
    attachment = ("T" * 81, "B" * 81, 1700000000123, ["N" * 27])  # a 200-tryte payload: one transaction
    up = wire.decode(wire.encode_up("d", 0, ROOT, PAYLOAD, attachment=attachment))
    assert up.attachment == attachment and up.bundle is None
    long_payload = "A" * 2188  # two fragments: two nonces
    up = wire.decode(wire.encode_up("d", 0, ROOT, long_payload, attachment=("9" * 81, "9" * 81, 0, ["9" * 27] * 2)))
    assert up.attachment[3] == ["9" * 27] * 2


def test_up_into_a_buffer_is_the_same_bytes():
    """encode_up(into=buf) (cbor.dumps_into: a device's record buffer allocated at boot) writes what encode_up
    returns, and refuses a buffer that is too short."""
    from iota_edge import cbor

    attached = ["9" * 2673, "A" * 2673]
    want = wire.encode_up("meter-7", 2**40, ROOT, PAYLOAD, "public", attached)
    buf = bytearray(len(want) + 7)
    n = wire.encode_up("meter-7", 2**40, ROOT, PAYLOAD, "public", attached, into=buf)
    assert n == len(want) and bytes(buf[:n]) == want
    obj = {0: [1.5, -3, None, True, b"\x00\x01", "text"], "k": {2: 2**63 - 1}}
    buf = bytearray(64)
    assert bytes(buf[:cbor.dumps_into(obj, buf)]) == cbor.dumps(obj)
    raises(InvalidValue, wire.encode_up, "d", 0, ROOT, PAYLOAD, into=bytearray(len(PAYLOAD)))


def test_ack_round_trip():
    for status in wire.ACK_STATUSES:
        ack = wire.decode(wire.encode_ack("meter-7", 7, status, "because" if status == "rejected" else None))
        assert (ack.device, ack.seq, ack.status) == ("meter-7", 7, status)
    assert wire.decode(wire.encode_ack("d", 1, "rejected", "signature")).reason == "signature"


def test_bad_messages_name_the_field():
    from iota_edge import cbor

    cases = (
        (lambda: wire.encode_up("", 1, ROOT, PAYLOAD), "device"),
        (lambda: wire.encode_up("d", -1, ROOT, PAYLOAD), "seq"),
        (lambda: wire.encode_up("d", 1, ROOT[:80], PAYLOAD), "root"),
        (lambda: wire.encode_up("d", 1, ROOT, "abc"), "payload"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, "secret"), "mode"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, bundle=["9" * 10]), "bundle"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, attachment=(ROOT, ROOT, 0, ["9" * 27] * 2)), "attachment"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, attachment=(ROOT, ROOT, 0, ["9" * 26])), "attachment"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, attachment=(ROOT, ROOT[:80], 0, ["9" * 27])), "attachment"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, attachment=(ROOT, ROOT, -1, ["9" * 27])), "attachment"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, attachment=(ROOT, ROOT, 0)), "attachment"),
        (lambda: wire.encode_up("d", 1, ROOT, PAYLOAD, bundle=["9" * 2673], attachment=(ROOT, ROOT, 0, ["9" * 27])),
         "attachment"),
        (lambda: wire.decode(cbor.dumps({0: 1, 1: 1, 2: "d", 3: 1, 4: ROOT, 5: PAYLOAD, 6: 0, 8: [ROOT, ROOT, 0, []]})),
         "attachment"),
        (lambda: wire.encode_ack("d", 1, "maybe"), "status"),
        (lambda: wire.decode(cbor.dumps([1, 2])), "message"),
        (lambda: wire.decode(cbor.dumps({0: 2, 1: 1})), "version"),
        (lambda: wire.decode(cbor.dumps({0: 1, 1: 9, 2: "d", 3: 1})), "kind"),
        (lambda: wire.decode(cbor.dumps({0: 1, 1: 1, 2: "d", 3: 1, 4: ROOT, 5: PAYLOAD, 6: 7})), "mode"),
    )
    for fn, field in cases:
        e = raises(InvalidValue, fn)
        assert e.field == field, (field, e.field, str(e))
    raises(InvalidValue, wire.decode, b"\xff\x00")


def test_heartbeat_round_trip_and_topics():
    stats = {"pending": 12, "bytes": 4096, "dropped": 0, "refused": 1, "heap_free": 40000}
    hb = wire.decode(wire.encode_heartbeat("meter-7", 99, stats))
    assert isinstance(hb, wire.Heartbeat)
    assert (hb.device, hb.seq, hb.stats) == ("meter-7", 99, stats)
    assert wire.topics("meter-7") == ("iota-edge/meter-7/up", "iota-edge/meter-7/hb", "iota-edge/meter-7/ack")
    e = raises(InvalidValue, wire.encode_heartbeat, "meter-7", 1, {"pending": "many"})
    assert e.field == "stats"
    raises(InvalidValue, wire.encode_heartbeat, "meter-7", 1, [1])
    raises(InvalidValue, wire.topics, "")
