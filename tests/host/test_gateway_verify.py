"""Gateway verification of uplink messages: what is accepted, what is a duplicate, and each reason for a reject."""
import pytest

from iota_edge import wire
from iota_edge.gateway.verify import Accepted, Duplicate, Registry, Rejected, Unplaced, Verifier
from iota_edge.streams import Channel
from iota_edge.streams.reading import reading_to_trytes

SEED = "GATEWAY9VERIFY9TEST9SEED" + "9" * 57
OTHER = "SOMEONE9ELSE" + "9" * 69


def channel(seed=SEED, mode="restricted", side_key="SIDEKEY", count=2):
    return Channel(seed, mode=mode, side_key=side_key if mode == "restricted" else None, count=count, next_count=count)


def up_for(ch, device, seq, mode="restricted", reading_device=None, reading_seq=None):
    m = ch.create_message(reading_to_trytes(reading_device or device, seq if reading_seq is None else reading_seq,
                                            1700000000 + seq, [("energy", 1.5 * seq, "kWh")]))
    return wire.decode(wire.encode_up(device, seq, m.root, m.payload, mode)), m


@pytest.fixture
def fleet():
    ch = channel()
    up0, m0 = up_for(ch, "meter-7", 0)
    registry = Registry({"meter-7": {"root": m0.root, "mode": "restricted", "side_key": "SIDEKEY"}})
    return ch, Verifier(registry), up0


def test_a_channel_run_is_accepted_across_trees(fleet):
    ch, verifier, up0 = fleet
    assert isinstance(verifier.verify(up0), Accepted)
    roots = {up0.root}
    for seq in range(1, 7):  # count 2: the device moves to a new tree every two messages
        up, _ = up_for(ch, "meter-7", seq)
        result = verifier.verify(up)
        assert isinstance(result, Accepted) and result.reading.seq == seq and result.reading.value("energy") == 1.5 * seq
        roots.add(up.root)
    assert len(roots) == 4


def test_a_retransmission_is_a_duplicate_and_a_reused_seq_is_a_replay(fleet):
    ch, verifier, up0 = fleet
    verifier.verify(up0)
    assert isinstance(verifier.verify(up0), Duplicate)
    up1, _ = up_for(ch, "meter-7", 1)
    verifier.verify(up1)
    again, _ = up_for(ch, "meter-7", 1)  # a new signed message (next tree) claiming seq 1 again
    with pytest.raises(Rejected) as e:
        verifier.verify(again)
    assert e.value.reason == "replay"


def test_rejects_name_their_reason(fleet):
    ch, verifier, up0 = fleet
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-9", 0, up0.root, up0.payload, "restricted"))
    assert e.value.reason == "unknown_device"
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-7", 0, up0.root, up0.payload, "public"))
    assert e.value.reason == "mode"
    stranger, _ = up_for(channel(OTHER), "meter-7", 0)
    with pytest.raises(Unplaced):
        verifier.verify(stranger)  # another seed's channel, and nothing accepted yet to judge it by: not kept
    flipped = up0.payload[:100] + ("A" if up0.payload[100] != "A" else "B") + up0.payload[101:]
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-7", 0, up0.root, flipped, "restricted"))
    assert e.value.reason == "signature"
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-7", 5, up0.root, up0.payload, "restricted"))  # seq on the wire != signed seq
    assert e.value.reason == "mismatch"
    assert isinstance(verifier.verify(up0), Accepted)  # nothing above changed the device's position
    with pytest.raises(Rejected) as e:
        verifier.verify(stranger)  # an unknown tree at a seq the device's channel already passed
    assert e.value.reason == "stream_position"


def test_a_message_from_trees_ahead_waits_for_the_ones_that_announce_them(fleet):
    """A broker restart loses seqs 1-3, which announce the trees that seqs 4 and 5 are signed under: those are
    deferred (not kept, not refused) until the resends of 1-3 have placed their trees, then accepted."""
    ch, verifier, up0 = fleet
    ups = [up0] + [up_for(ch, "meter-7", seq)[0] for seq in range(1, 6)]  # count 2: a new tree every two
    assert isinstance(verifier.verify(ups[0]), Accepted)
    for early in (ups[4], ups[5]):
        with pytest.raises(Unplaced):
            verifier.verify(early)
    for up in ups[1:]:
        assert isinstance(verifier.verify(up), Accepted)
    assert isinstance(verifier.verify(ups[5]), Duplicate)


def test_another_device_cannot_publish_as_this_one(fleet):
    """A second registered device signs a reading that names meter-7: its channel is not meter-7's."""
    ch, verifier, up0 = fleet
    other = channel(OTHER)
    forged, m = up_for(other, "meter-7", 0)
    registry = Registry({"meter-7": {"root": up0.root, "mode": "restricted", "side_key": "SIDEKEY"},
                         "meter-8": {"root": m.root, "mode": "restricted", "side_key": "SIDEKEY"}})
    with pytest.raises(Unplaced):  # before meter-7 sent anything it cannot be judged, and is not kept
        Verifier(registry).verify(forged)
    genuine = Verifier(registry)
    assert isinstance(genuine.verify(up0), Accepted)
    with pytest.raises(Rejected) as e:  # once meter-7's channel passed seq 0, another tree there is refused
        genuine.verify(forged)
    assert e.value.reason == "stream_position"
    with pytest.raises(Rejected) as e:  # and sent under its own name, the signed reading gives it away
        Verifier(registry).verify(wire.Up("meter-8", 0, forged.root, forged.payload, "restricted"))
    assert e.value.reason == "mismatch"


def test_registry_state_survives_a_restart(fleet):
    ch, verifier, up0 = fleet
    verifier.verify(up0)
    up1, _ = up_for(ch, "meter-7", 1)
    verifier.verify(up1)
    restarted = Verifier(Registry.from_state(verifier.registry.to_state()))
    assert isinstance(restarted.verify(up1), Duplicate)
    up2, _ = up_for(ch, "meter-7", 2)
    assert isinstance(restarted.verify(up2), Accepted)


def test_late_messages_are_accepted_once_and_a_reused_leaf_is_a_replay():
    # A broker restart or a resend can deliver a device's messages out of order, also across a tree boundary.
    ch = Channel(SEED, mode="restricted", side_key="SIDEKEY", count=4, next_count=4)
    ups = [up_for(ch, "meter-7", seq)[0] for seq in range(6)]  # leaves 0..3 of the first tree, 0..1 of the next
    verifier = Verifier(Registry({"meter-7": {"root": ups[0].root, "mode": "restricted", "side_key": "SIDEKEY"}}))
    for i in (0, 2, 3, 1, 4, 5):
        assert isinstance(verifier.verify(ups[i]), Accepted), i
    assert verifier.registry.get("meter-7")["root"] == ups[4].root
    late = [up_for(ch, "meter-7", seq)[0] for seq in (6, 7)]
    assert isinstance(verifier.verify(late[1]), Accepted)
    assert isinstance(verifier.verify(late[0]), Accepted)
    for up in ups + late:
        assert isinstance(verifier.verify(up), Duplicate)
    # The same leaf signing another (device, seq): the one-time key was used twice, refused.
    reused = Channel(SEED, mode="restricted", side_key="SIDEKEY", count=4, next_count=4)
    up, _ = up_for(reused, "meter-7", 9)  # leaf 0 of the first tree again, under a new seq
    with pytest.raises(Rejected) as e:
        verifier.verify(up)
    assert e.value.reason == "replay"


def test_a_message_older_than_the_window_is_refused(monkeypatch):
    import iota_edge.gateway.verify as verify

    monkeypatch.setattr(verify, "SEEN_WINDOW", 3)
    ch = Channel(SEED, mode="restricted", side_key="SIDEKEY", count=8, next_count=8)
    ups = [up_for(ch, "meter-7", seq)[0] for seq in range(6)]
    verifier = Verifier(Registry({"meter-7": {"root": ups[0].root, "mode": "restricted", "side_key": "SIDEKEY"}}))
    for i in (0, 2, 3, 4, 5):
        verifier.verify(ups[i])
    with pytest.raises(Rejected) as e:  # seq 1 never arrived in time; 5 - 3 >= 1
        verifier.verify(ups[1])
    assert e.value.reason == "replay" and "cannot be told" in str(e.value)


def test_the_remembered_window_stays_bounded_and_survives_a_restart(monkeypatch):
    import iota_edge.gateway.verify as verify

    monkeypatch.setattr(verify, "SEEN_WINDOW", 3)
    monkeypatch.setattr(verify, "SEEN_SLACK", 2)
    ch = Channel(SEED, mode="restricted", side_key="SIDEKEY", count=16, next_count=16)
    ups = [up_for(ch, "meter-7", seq)[0] for seq in range(10)]
    verifier = Verifier(Registry({"meter-7": {"root": ups[0].root, "mode": "restricted", "side_key": "SIDEKEY"}}))
    for up in ups[:9]:
        assert isinstance(verifier.verify(up), Accepted)
        assert len(verifier.registry.get("meter-7")["seen"]) <= 5  # window 3 + slack 2
    assert sorted(map(int, verifier.registry.get("meter-7")["seen"])) == [6, 7, 8]
    restarted = Verifier(Registry.from_state(verifier.registry.to_state()))
    assert isinstance(restarted.verify(ups[8]), Duplicate)
    with pytest.raises(Rejected) as e:  # 8 - 3 >= 5: the newest seq is known again after the restart
        restarted.verify(ups[5])
    assert e.value.reason == "replay" and "cannot be told" in str(e.value)
    # a verified message that could not be kept is forgotten: its retransmission is new again, not a duplicate
    assert isinstance(restarted.verify(ups[9]), Accepted)
    restarted.registry.forget("meter-7", 9)
    assert isinstance(restarted.verify(ups[9]), Accepted)


def test_a_gateway_that_missed_a_tree_switch_learns_it_from_the_channel():
    # Two gateways share a fleet: B never sees the messages of the second tree, whose first one A accepted and
    # stored. B's resolver (the node, in the service) proves the chain root1 -> root2 -> root3.
    ch = Channel(SEED, mode="restricted", side_key="SIDEKEY", count=2, next_count=2)
    ups = [up_for(ch, "meter-7", seq)[0] for seq in range(6)]   # trees: (0, 1), (2, 3), (4, 5)
    chain = {ups[0].root: [ups[0].root, ups[2].root, ups[2].root, ups[4].root]}
    asked = []

    def resolve(device, entry):
        asked.append(entry["root"])
        return chain.get(entry["root"], [])

    b = Verifier(Registry({"meter-7": {"root": ups[0].root, "mode": "restricted", "side_key": "SIDEKEY"}}),
                 resolve_root=resolve)
    assert isinstance(b.verify(ups[0]), Accepted)
    assert isinstance(b.verify(ups[4]), Accepted) and asked == [ups[0].root]
    assert b.registry.get("meter-7")["root"] == ups[4].root
    assert isinstance(b.verify(ups[5]), Accepted)
    stranger = up_for(Channel(OTHER, mode="restricted", side_key="SIDEKEY", count=2), "meter-7", 7)[0]
    with pytest.raises(Unplaced):   # a tree the channel does not announce is not accepted (nor judged: sent again)
        b.verify(stranger)
    with pytest.raises(Unplaced):   # without a resolver it waits as well (newer than anything accepted)
        Verifier(Registry({"meter-7": {"root": ups[0].root, "mode": "restricted", "side_key": "SIDEKEY"}})).verify(
            stranger)


def test_a_prepared_burst_gives_the_same_verdicts_without_parsing_one_by_one(fleet, monkeypatch):
    """Verifier.prepare checks a burst's signatures in one parse_payloads call; verify then uses those results: the
    same Accepted / Duplicate / Rejected (with reason) as one message at a time, a tampered payload included."""
    import iota_edge.gateway.verify as V

    ch, _, up0 = fleet
    ups = [up0] + [up_for(ch, "meter-7", seq)[0] for seq in range(1, 6)]
    bad = ups[3].payload
    flip = "A" if bad[400] != "A" else "B"
    ups[3] = wire.Up("meter-7", 3, ups[3].root, bad[:400] + flip + bad[401:], "restricted")  # signature broken
    burst = ups + [ups[1], wire.Up("meter-9", 0, up0.root, up0.payload, "restricted")]  # a resend, an unknown

    def verdicts(verifier, prepared):
        out = []
        if prepared:
            verifier.prepare(burst)
            assert len(verifier.prepared) == len(ups)  # the resend shares its key; the unknown device is left out
        for up in burst:
            try:
                r = verifier.verify(up)
                out.append((type(r).__name__, getattr(getattr(r, "reading", None), "seq", None)))
            except Rejected as e:
                out.append(("Rejected", e.reason))
        verifier.prepared.clear()
        return out

    registry = lambda: Registry({"meter-7": {"root": up0.root, "mode": "restricted", "side_key": "SIDEKEY"}})
    alone = verdicts(Verifier(registry()), False)
    calls = []
    real = V.parse_payload
    monkeypatch.setattr(V, "parse_payload", lambda *a: calls.append(a) or real(*a))
    together = verdicts(Verifier(registry()), True)
    assert together == alone
    assert alone[3] == ("Rejected", "signature") and alone[6][0] == "Duplicate" and alone[7] == ("Rejected",
                                                                                                  "unknown_device")
    assert [v[0] for v in alone[:3] + alone[4:6]] == ["Accepted"] * 5
    assert len(calls) == 1  # only the resend, whose prepared result the first copy took, was parsed alone
