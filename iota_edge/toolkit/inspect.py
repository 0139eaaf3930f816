"""What ``iota-edge inspect`` decodes besides bundles: MAM messages and device-gateway wire messages.

    iota-edge inspect payload.txt --root ROOT [--side-key-file KEY]   # a MAM payload (or its bundle) -> the reading
    iota-edge inspect uplink.hex                                      # a wire message (CBOR as hex, base64 or raw)

A MAM payload is verified against the tree ``root`` (signature, Merkle path, nonce) with
iota_edge.streams.parse_payload and its message decoded as a sensor reading (iota_edge.streams.reading) when it is
one. A wire ``Up`` carries its own root, so its MAM message is verified and decoded too.
"""
import base64
import binascii
import re

from iota_edge.errors import InvalidMessage, IotaEdgeError

TRYTES = re.compile(r"^[9A-Z\s\[\]\",]+$")


def is_trytes_text(data):
    try:
        return bool(TRYTES.match(data.decode("ascii")))
    except UnicodeError:
        return False


def wire_bytes(data):
    """CBOR bytes from a file's content: hex, base64 or the raw bytes."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeError:
        return data
    compact = "".join(text.split())
    if re.match(r"^(?:[0-9a-fA-F]{2})+$", compact):
        return bytes.fromhex(compact)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return data


def reading_dict(message_trytes):
    from iota_edge.streams.reading import reading_from_trytes

    try:
        r = reading_from_trytes(message_trytes)
    except IotaEdgeError:
        return None
    return {"device": r.device, "seq": r.seq, "timestamp": r.timestamp,
            "values": [list(v) for v in r.values],
            "samples": [[t, [list(v) for v in vals]] for t, vals in r.samples]}


def decode_mam(payload, root, side_key=None):
    """{"valid", "root", "index", "security", "depth", "next_root", "message", "reading"} or, when the message does
    not verify, {"valid": False, "reason", "error"}."""
    from iota_edge.streams import parse_payload

    try:
        p = parse_payload(payload, root, side_key)
    except InvalidMessage as e:
        return {"valid": False, "root": root, "reason": e.reason, "error": str(e)}
    return {"valid": True, "root": root, "index": p.index, "security": p.security, "depth": p.depth,
            "next_root": p.next_root, "message": p.message, "reading": reading_dict(p.message)}


def payload_from_items(items):
    """The MAM payload of a file: one payload string, or a bundle's transactions (their message fragments)."""
    if len(items) == 1 and len(items[0]) != 2673:
        return items[0]
    from iota_edge.bundle import decode_bundle

    return "".join(tx.signature_message_fragment for tx in decode_bundle(items))


def decode_wire(data, side_key=None):
    from iota_edge import wire

    msg = wire.decode(wire_bytes(data))
    if isinstance(msg, wire.Up):
        out = {"kind": "up", "device": msg.device, "seq": msg.seq, "root": msg.root, "mode": msg.mode,
               "bundle_transactions": len(msg.bundle) if msg.bundle else 0}
        out["mam"] = decode_mam(msg.payload, msg.root, side_key)
        return out
    if isinstance(msg, wire.Ack):
        return {"kind": "ack", "device": msg.device, "seq": msg.seq, "status": msg.status, "reason": msg.reason}
    return {"kind": "heartbeat", "device": msg.device, "seq": msg.seq, "stats": msg.stats}


def print_mam(m, indent=""):
    if not m["valid"]:
        print("%sMAM message INVALID (%s): %s" % (indent, m["reason"], m["error"]))
        return
    print("%sMAM message: leaf %d of %d, security %d, verified against root %s..." % (
        indent, m["index"], 2 ** m["depth"], m["security"], m["root"][:27]))
    print("%snext root %s" % (indent, m["next_root"]))
    r = m["reading"]
    if r is None:
        print("%smessage (trytes): %s" % (indent, m["message"]))
        return
    print("%sreading: device %s, seq %d, %d sample(s)" % (indent, r["device"], r["seq"], len(r["samples"])))
    for t, values in r["samples"]:
        print("%s  t=%d  %s" % (indent, t, "  ".join("%s=%s%s" % (n, v, " " + u if u else "") for n, v, u in values)))


def print_wire(w):
    if w["kind"] == "up":
        print("wire Up: device %s, seq %d, mode %s, root %s...%s" % (
            w["device"], w["seq"], w["mode"], w["root"][:27],
            ", with an attached bundle of %d transactions" % w["bundle_transactions"] if w["bundle_transactions"]
            else ""))
        print_mam(w["mam"], "  ")
    elif w["kind"] == "ack":
        print("wire Ack: device %s, seq %d, %s%s" % (w["device"], w["seq"], w["status"],
                                                    " (%s)" % w["reason"] if w["reason"] else ""))
    else:
        print("wire Heartbeat: device %s, seq %d, %s" % (w["device"], w["seq"], ", ".join(
            "%s=%s" % kv for kv in sorted(w["stats"].items()))))
