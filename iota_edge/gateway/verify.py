"""Verification of uplink messages before a gateway keeps anything (issue #7): device known, signature and stream
position valid, the signed reading matching the wire fields, (device, sequence) not seen before.

    from iota_edge.gateway.verify import Registry, Verifier, Rejected
    registry = Registry({"meter-7": {"root": first_root, "mode": "restricted", "side_key": "KEY"}})
    verifier = Verifier(registry)
    try:
        result = verifier.verify(wire.decode(data))   # Accepted or Duplicate
    except Rejected as e:
        dead_letter(e.reason, data)                   # never blocks the queue; the device gets a "rejected" ack

The registry follows each device's channel: a message must be signed under the device's current tree root, under
the next root that tree announced, or under a tree of a recently accepted message (a late message of the previous
tree), and its leaf must not have signed an accepted message before (a one-time key signs once). Leaves may arrive
out of order (a broker restart, a resend), so a valid message is never refused for coming late; a message older
than the window of remembered sequence numbers (SEEN_WINDOW) can no longer be told from a replay and is refused.
Nor for coming early: a signed, consistent message newer than every accepted one, under a tree the gateway has not
seen announced (the messages announcing it were lost and will be resent), raises ``Unplaced``: not kept, not
acknowledged, judged again when the device resends it. Under a root unknown at a seq below an accepted one, the
message cannot belong to the device's channel and is refused (``stream_position``).
A message under the next root moves the device on to it. A message whose (device, seq) was accepted before is a
``Duplicate`` when it is the same signed message (a retransmission after a lost acknowledgement: acknowledge it
again) and a ``Rejected('replay')`` otherwise. ``Registry.to_state()`` / ``from_state()`` persist the positions.
"""

from iota_edge.errors import IotaEdgeError, InvalidMessage, InvalidValue
from iota_edge.streams.parser import parse_payload, parse_payloads
from iota_edge.streams.reading import reading_from_trytes

REASONS = ("unknown_device", "mode", "stream_position", "signature", "reading", "mismatch", "replay")
SEEN_WINDOW = 4096  # (seq -> signed position) pairs remembered per device for duplicate detection
SEEN_SLACK = 256  # entries beyond SEEN_WINDOW before the oldest are dropped (in one go)


class Rejected(IotaEdgeError):
    """The message must not be kept; ``reason`` is one of REASONS (the dead-letter counter's key)."""

    def __init__(self, message, reason, device=None, seq=None):
        super().__init__(message, "message")
        self.reason = reason
        self.device = device
        self.seq = seq


class Unplaced(IotaEdgeError):
    """A message under a root that neither the registry nor ``resolve_root`` can place yet (gateways sharing a fleet:
    the message announcing that tree may not be on the node yet). Not a verdict: the device sends it again."""

    def __init__(self, message, device, seq):
        super().__init__(message, "root")
        self.device = device
        self.seq = seq


class Accepted:
    """A verified new message: the MAM ``message`` trytes, its ``reading``, ``root``, ``next_root``, leaf ``index``."""

    def __init__(self, up, parsed, reading):
        self.up = up
        self.device = up.device
        self.seq = up.seq
        self.root = up.root
        self.message = parsed.message
        self.next_root = parsed.next_root
        self.index = parsed.index
        self.reading = reading


class Duplicate:
    """The same signed message as an accepted one: acknowledge again, keep nothing."""

    def __init__(self, up):
        self.up = up
        self.device = up.device
        self.seq = up.seq


class Registry:
    """Known devices and where each one's channel stands. ``devices``: {device: {"root", "mode", "side_key"}}."""

    def __init__(self, devices):
        self._devices = {}
        for device, cfg in devices.items():
            root = cfg.get("root")
            if not isinstance(root, str) or len(root) != 81:
                raise InvalidValue("devices[%r].root: expected the 81-tryte channel root" % device, "root")
            mode = cfg.get("mode", "public")
            if mode not in ("public", "private", "restricted"):
                raise InvalidValue("devices[%r].mode: expected public, private or restricted" % device, "mode")
            self._devices[device] = {
                "mode": mode,
                "side_key": cfg.get("side_key"),
                "root": root,  # the tree the device signs under now
                "next_root": cfg.get("next_root"),  # the one that tree announced, once seen
                "last_index": cfg.get("last_index", -1),  # last accepted leaf under root
                "seen": dict(cfg.get("seen", {})),  # seq -> [root, index] of accepted messages
            }
            self._index(self._devices[device])

    @staticmethod
    def _index(d):
        """The per-message lookups ``seen`` would otherwise answer by a scan of up to SEEN_WINDOW entries: the newest
        accepted seq (``top``, -1: none) and the signed positions (root, index) taken."""
        d["top"] = max((int(k) for k in d["seen"]), default=-1)
        d["positions"] = {(p[0], p[1]) for p in d["seen"].values()}

    def forget(self, device, seq):
        """Take back the acceptance of ``seq`` (a message that was verified but could not be kept)."""
        d = self._devices.get(device)
        if d is not None and d["seen"].pop(str(seq), None) is not None:
            self._index(d)

    def get(self, device):
        return self._devices.get(device)

    def to_state(self):
        """Plain JSON-ready dict; ``Registry(state)`` restores it."""
        out = {}
        for device, d in self._devices.items():
            out[device] = {"root": d["root"], "mode": d["mode"], "side_key": d["side_key"],
                           "next_root": d["next_root"], "last_index": d["last_index"],
                           "seen": {str(k): v for k, v in d["seen"].items()}}
        return out

    @classmethod
    def from_state(cls, state):
        return cls(state)


class Verifier:
    """Checks uplink messages against a Registry and advances it for the accepted ones.

    ``resolve_root(device, entry)``, when given, is asked about a root the registry does not know: it returns the
    roots that the device's channel, read from where ``entry["root"]`` stands, proves to follow it (each tree's
    messages sign the next root). Gateways that split a fleet with a shared subscription each see only some
    messages, so one may miss the message that announced a device's next tree; the node has it once the other
    gateway stored it."""

    def __init__(self, registry, resolve_root=None):
        self.registry = registry
        self.resolve_root = resolve_root
        self.prepared = {}  # (payload, root, side key) -> parse_payloads' result, for the burst being verified

    def prepare(self, ups):
        """Check the MAM signatures of a burst of Up messages at once (``parse_payloads``: the kernel hashes the
        chains of all of them side by side); ``verify`` then takes each message's result from ``prepared`` instead
        of parsing it alone. A result depends only on the payload, its root and the device's side key, so the
        registry moving on within the burst does not change it. The caller clears ``prepared`` after the burst."""
        items = []
        for up in ups:
            d = self.registry.get(up.device)
            if d is not None and up.mode == d["mode"] and up.bundle is None and up.attachment is None:
                items.append((up.payload, up.root, d["side_key"]))
        if len(items) > 1:
            self.prepared.update(zip(items, parse_payloads(items)))

    def verify(self, up):
        d = self.registry.get(up.device)
        if d is None:
            raise Rejected("device %r is not registered" % up.device, "unknown_device", up.device, up.seq)
        if up.mode != d["mode"]:
            raise Rejected("device %r publishes in %s mode, got %s" % (up.device, d["mode"], up.mode), "mode",
                           up.device, up.seq)
        seen = d["seen"]
        top = d["top"]
        unknown = up.root != d["root"] and up.root != d["next_root"] and not any(p[0] == up.root for p in seen.values())
        if unknown and seen and up.seq <= top:
            # Every tree up to the newest accepted message had a message accepted under it (the registry only moves
            # on to an announced root), so a root unknown below that seq is not this device's channel.
            raise Rejected("root %s... is not a tree of this device's channel at seq %d" % (up.root[:9], up.seq),
                           "stream_position", up.device, up.seq)
        parsed = self.prepared.pop((up.payload, up.root, d["side_key"]), None)
        try:
            if parsed is None:
                parsed = parse_payload(up.payload, up.root, d["side_key"])
            elif isinstance(parsed, InvalidMessage):
                raise parsed
        except InvalidMessage as e:
            raise Rejected("MAM verification failed (%s): %s" % (e.reason, e), "signature", up.device, up.seq)
        try:
            reading = reading_from_trytes(parsed.message)
        except IotaEdgeError as e:
            raise Rejected("the signed message is not a reading: %s" % e, "reading", up.device, up.seq)
        if reading.device != up.device or reading.seq != up.seq:
            raise Rejected("the signed reading says (%r, %d), the wire (%r, %d)" % (
                reading.device, reading.seq, up.device, up.seq), "mismatch", up.device, up.seq)
        if unknown:
            # Newer than anything accepted, signed and consistent, under a tree this gateway has not seen announced:
            # the messages that announced it may still be on their way (lost in a broker restart, resent after the
            # device's ack timeout), or, when gateways share the fleet, stored by the other gateway.
            message = "root %s... is neither the device's current nor its announced next tree" % up.root[:9]
            if self.resolve_root is None or up.root not in (self.resolve_root(up.device, d) or ()):
                raise Unplaced(message, up.device, up.seq)
            d["next_root"] = up.root  # proven by the channel on the node: accepted below as the announced tree
        key = str(up.seq)
        position = [up.root, parsed.index]
        if key in seen:
            if seen[key] == position:
                return Duplicate(up)
            raise Rejected("seq %d was accepted before with another signed message" % up.seq, "replay",
                           up.device, up.seq)
        if seen and up.seq <= top - SEEN_WINDOW:
            raise Rejected("seq %d is older than the %d remembered ones: it cannot be told from a replay" % (
                up.seq, SEEN_WINDOW), "replay", up.device, up.seq)
        if (up.root, parsed.index) in d["positions"]:
            raise Rejected("leaf %d of this tree signed another accepted message" % parsed.index, "replay",
                           up.device, up.seq)
        if up.root == d["root"] and not seen and parsed.index <= d["last_index"]:
            raise Rejected("leaf %d of this tree is not after the last accepted one (%d)" % (
                parsed.index, d["last_index"]), "replay", up.device, up.seq)
        if up.root == d["next_root"] and up.root != d["root"]:  # the device moved on to the announced tree
            d["root"] = up.root
            d["last_index"] = -1
        if up.root == d["root"]:
            d["next_root"] = parsed.next_root
            if parsed.index > d["last_index"]:
                d["last_index"] = parsed.index
        seen[key] = position
        d["positions"].add((up.root, parsed.index))
        if up.seq > top:
            d["top"] = up.seq
        if len(seen) > SEEN_WINDOW + SEEN_SLACK:  # the oldest go, a slack's worth at a time: no sort per message
            for old in sorted(seen, key=int)[: len(seen) - SEEN_WINDOW]:
                p = seen.pop(old)
                d["positions"].discard((p[0], p[1]))
        return Accepted(up, parsed, reading)
