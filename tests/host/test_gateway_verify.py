"""Gateway verification of uplink messages: what is accepted, what is a duplicate, and each reason for a reject."""
import pytest

from iota_edge import wire
from iota_edge.gateway.verify import Accepted, Duplicate, Registry, Rejected, Verifier
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
    with pytest.raises(Rejected) as e:
        verifier.verify(stranger)  # another seed's channel: not this device's tree
    assert e.value.reason == "stream_position"
    flipped = up0.payload[:100] + ("A" if up0.payload[100] != "A" else "B") + up0.payload[101:]
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-7", 0, up0.root, flipped, "restricted"))
    assert e.value.reason == "signature"
    with pytest.raises(Rejected) as e:
        verifier.verify(wire.Up("meter-7", 5, up0.root, up0.payload, "restricted"))  # seq on the wire != signed seq
    assert e.value.reason == "mismatch"
    assert isinstance(verifier.verify(up0), Accepted)  # nothing above changed the device's position


def test_another_device_cannot_publish_as_this_one(fleet):
    """A second registered device signs a reading that names meter-7: its channel is not meter-7's."""
    ch, verifier, up0 = fleet
    other = channel(OTHER)
    forged, m = up_for(other, "meter-7", 0)
    registry = Registry({"meter-7": {"root": up0.root, "mode": "restricted", "side_key": "SIDEKEY"},
                         "meter-8": {"root": m.root, "mode": "restricted", "side_key": "SIDEKEY"}})
    with pytest.raises(Rejected) as e:
        Verifier(registry).verify(forged)
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
