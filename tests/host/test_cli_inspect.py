"""iota-edge inspect on MAM messages (payload or bundle + root, restricted with a side key) and on wire messages."""
import base64
import json
import subprocess
import sys

from iota_edge import wire
from iota_edge.streams import Channel
from iota_edge.streams.reading import encode_batch, reading_to_trytes
from iota_edge.trinary import bytes_to_trytes

SEED = "INSPECT9TEST9SEED" + "9" * 64


def cli(*args):
    return subprocess.run([sys.executable, "-m", "iota_edge.cli", "inspect"] + list(args), capture_output=True,
                          text=True, timeout=120)


def test_mam_payload_is_verified_and_its_reading_decoded(tmp_path):
    ch = Channel(SEED, mode="public", security=1, count=4)
    ch.create_message(reading_to_trytes("meter-7", 0, 1700000000, [("p", 12, "W")]))
    m = ch.create_message(reading_to_trytes("meter-7", 1, 1700000010, [("p", 1520.5, "W"), ("on", True, "")]))
    (tmp_path / "payload.txt").write_text(m.payload + "\n")
    out = cli(str(tmp_path / "payload.txt"), "--root", m.root, "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["kind"] == "mam" and r["valid"] and r["index"] == 1 and r["depth"] == 2 and r["next_root"] == m.next_root
    assert r["reading"]["device"] == "meter-7" and r["reading"]["seq"] == 1
    assert r["reading"]["values"] == [["p", 1520.5, "W"], ["on", True, ""]]
    text = cli(str(tmp_path / "payload.txt"), "--root", m.root)
    assert "reading: device meter-7, seq 1" in text.stdout and "p=1520.5 W" in text.stdout
    # the same message as its bundle's transactions
    (tmp_path / "bundle.txt").write_text("\n".join(m.bundle()))
    assert json.loads(cli(str(tmp_path / "bundle.txt"), "--root", m.root, "--json").stdout)["reading"]["seq"] == 1
    # another root: the signature does not lead there
    bad = cli(str(tmp_path / "payload.txt"), "--root", ch.next_root, "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["reason"] in ("nonce", "signature")


def test_restricted_mam_needs_the_side_key(tmp_path):
    ch = Channel(SEED, mode="restricted", side_key="KEY9ONE", security=1, count=2)
    m = ch.create_message(bytes_to_trytes(b"not a reading"))
    (tmp_path / "p.txt").write_text(m.payload)
    (tmp_path / "key").write_text("KEY9ONE\n")
    ok = cli(str(tmp_path / "p.txt"), "--root", m.root, "--side-key-file", str(tmp_path / "key"), "--json")
    r = json.loads(ok.stdout)
    assert ok.returncode == 0 and r["valid"] and r["reading"] is None and r["message"].startswith(
        bytes_to_trytes(b"not a reading"))
    no_key = cli(str(tmp_path / "p.txt"), "--root", m.root)
    assert no_key.returncode == 1 and "INVALID" in no_key.stdout


def test_wire_messages_in_hex_base64_and_raw(tmp_path):
    ch = Channel(SEED, mode="public", security=1, count=2)
    m = ch.create_message(bytes_to_trytes(encode_batch("gw-dev", 5, [(1700000000, [("t", 21.5, "Cel")]),
                                                                     (1700000060, [("t", 21.7, "Cel")])])))
    up = wire.encode_up("gw-dev", 5, m.root, m.payload, "public")
    (tmp_path / "up.hex").write_text(up.hex())
    (tmp_path / "up.b64").write_text(base64.b64encode(up).decode())
    (tmp_path / "up.bin").write_bytes(up)
    for name in ("up.hex", "up.b64", "up.bin"):
        out = cli(str(tmp_path / name), "--json")
        assert out.returncode == 0, out.stderr
        r = json.loads(out.stdout)
        assert r["kind"] == "up" and r["device"] == "gw-dev" and r["seq"] == 5 and r["mam"]["valid"]
        assert [s[0] for s in r["mam"]["reading"]["samples"]] == [1700000000, 1700000060]
    text = cli(str(tmp_path / "up.hex")).stdout
    assert "wire Up: device gw-dev, seq 5" in text and "2 sample(s)" in text
    (tmp_path / "ack.hex").write_text(wire.encode_ack("gw-dev", 5, "rejected", "replay").hex())
    r = json.loads(cli(str(tmp_path / "ack.hex"), "--json").stdout)
    assert r == {"kind": "ack", "device": "gw-dev", "seq": 5, "status": "rejected", "reason": "replay"}
    (tmp_path / "hb.hex").write_text(wire.encode_heartbeat("gw-dev", 9, {"pending": 3}).hex())
    assert "pending=3" in cli(str(tmp_path / "hb.hex")).stdout


def test_garbage_is_one_line_error(tmp_path):
    (tmp_path / "x.hex").write_text("deadbeef")
    out = cli(str(tmp_path / "x.hex"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "iota-edge inspect: error:" in out.stderr
    out = cli(str(tmp_path / "missing"), "--root", "A" * 81)
    assert out.returncode == 2 and "cannot read" in out.stderr
