"""Messages between a device and its gateway: one CBOR map each, the same bytes over MQTT and over the serial link.

    >>> from iota_edge import wire
    >>> data = wire.encode_up("meter-7", 42, message.root, message.payload, "public")
    >>> up = wire.decode(data)              # wire.Up: .device, .seq, .root, .payload, .mode, .bundle, .attachment
    >>> wire.decode(wire.encode_ack("meter-7", 42, "confirmed")).status
    'confirmed'

An uplink message (``Up``, kind 1) carries one signed MAM message of the device's channel: its tree ``root``, the
``payload`` trytes and the channel ``mode``. When the device did the Proof-of-Work itself, ``attachment`` holds
(trunk, branch, attachment timestamp in ms, nonces tail first, 27 trytes each): the gateway rebuilds the bundle the
message makes (deterministic: its timestamp is the reading's) and attaches it with those nonces
(``iota_edge.pow.message_nonces`` and ``attach_with_nonces``), 27 trytes per transaction on the wire and on the
device's flash instead of 2,673. ``bundle``, the whole attached transaction trytes, is the older form of the same and
is still accepted. With neither, the gateway builds and attaches the bundle. The reading inside the message repeats
the device id and sequence number under the MAM signature, so a gateway can check the wire fields.
An acknowledgement (``Ack``, kind 2) tells a device what became of its message ``seq``: ``stored`` (on the node),
``confirmed`` (referenced by a milestone), ``duplicate`` (already had it: free it) or ``rejected`` (with a reason;
the device keeps nothing it cannot resend, so it drops the message and counts it).
A heartbeat (``Heartbeat``, kind 3) reports a device's backlog now and then: ``seq`` is the device's newest message
sequence number and ``stats`` a flat map of counters (text keys, int values), e.g. the store's ``pending``,
``bytes``, ``dropped``, ``refused``, ``torn_tail_dropped``, ``corrupt_skipped``, plus ``uptime_s`` and ``heap_free``.

MQTT topics (``topics(device)``): the device publishes ``Up`` and ``Heartbeat`` to ``iota-edge/<device>/up`` and
``iota-edge/<device>/hb`` (QoS 1, persistent session, client id = device id); the gateway publishes ``Ack`` to
``iota-edge/<device>/ack``. Over serial the same CBOR bytes travel as DATA frames of iota_edge.framing.

Portable: CPython and MicroPython (iota_edge.cbor).
"""

from iota_edge import cbor
from iota_edge.errors import InvalidTrytes, InvalidValue
from iota_edge.trinary import check_trytes

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

VERSION = 1
UP = 1
ACK = 2
HEARTBEAT = 3
TOPIC_ROOT = "iota-edge"
MODES = ("public", "private", "restricted")
ACK_STATUSES = ("stored", "confirmed", "duplicate", "rejected")
MAX_DEVICE_ID = 64
# Also in iota_edge.transaction and iota_edge.signing: not imported from there, because a device with PoW on the
# gateway loads wire but neither of them, and each module costs its heap on the unix port.
MAX_TIMESTAMP = (3**27 - 1) // 2  # an attachment timestamp's upper bound
FRAGMENT_TRYTES = 2187  # message trytes per transaction


class Up:
    """An uplink message; see the module docstring."""

    def __init__(self, device, seq, root, payload, mode="public", bundle=None, attachment=None):
        self.device = device
        self.seq = seq
        self.root = root
        self.payload = payload
        self.mode = mode
        self.bundle = bundle
        self.attachment = attachment

    def __repr__(self):
        return "Up(%r, seq=%d, root=%s...)" % (self.device, self.seq, self.root[:9])


class Ack:
    """An acknowledgement; ``reason`` is set for ``rejected``."""

    def __init__(self, device, seq, status, reason=None):
        self.device = device
        self.seq = seq
        self.status = status
        self.reason = reason

    def __repr__(self):
        return "Ack(%r, seq=%d, %s)" % (self.device, self.seq, self.status)


class Heartbeat:
    """A device's backlog report: ``stats`` is {name: int}."""

    def __init__(self, device, seq, stats):
        self.device = device
        self.seq = seq
        self.stats = stats

    def __repr__(self):
        return "Heartbeat(%r, seq=%d, %r)" % (self.device, self.seq, self.stats)


def topics(device, root=TOPIC_ROOT):
    """(up, heartbeat, ack) MQTT topics of a device."""
    base = "%s/%s/" % (root, _check_device(device))
    return base + "up", base + "hb", base + "ack"


def _bad(message, field) -> "NoReturn":
    raise InvalidValue("wire: " + message, field)


def _check_device(device):
    if not isinstance(device, str) or not 0 < len(device) <= MAX_DEVICE_ID:
        _bad("device: expected a non-empty string of at most %d characters" % MAX_DEVICE_ID, "device")
    return device


def _check_seq(seq):
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 1 << 63:
        _bad("seq: expected an int in 0..2**63-1, got %r" % (seq,), "seq")
    return seq


def _check_trytes(value, field, length=None):
    if not value:
        _bad("%s: expected %s trytes" % (field, length or "some"), field)
    try:
        return check_trytes(value, field, length)
    except InvalidTrytes as e:
        _bad(str(e), field)


def encode_up(device, seq, root, payload, mode="public", bundle=None, into=None, attachment=None):
    """CBOR bytes of an uplink message; with ``into`` (a bytearray) the bytes are written there and their length
    is returned (cbor.dumps_into). ``attachment``: (trunk, branch, timestamp_ms, nonces), see the module docstring."""
    if mode not in MODES:
        _bad("mode: expected one of %s, got %r" % (", ".join(MODES), mode), "mode")
    body = {0: VERSION, 1: UP, 2: _check_device(device), 3: _check_seq(seq), 4: _check_trytes(root, "root", 81),
            5: _check_trytes(payload, "payload"), 6: MODES.index(mode)}
    if bundle is not None:
        body[7] = [_check_trytes(t, "bundle", 2673) for t in bundle]
    if attachment is not None:
        body[8] = list(_check_attachment(attachment, body[5], bundle))
    if into is not None:
        return cbor.dumps_into(body, into)
    return cbor.dumps(body)


def encode_ack(device, seq, status, reason=None):
    """CBOR bytes of an acknowledgement."""
    if status not in ACK_STATUSES:
        _bad("status: expected one of %s, got %r" % (", ".join(ACK_STATUSES), status), "status")
    body = {0: VERSION, 1: ACK, 2: _check_device(device), 3: _check_seq(seq), 4: ACK_STATUSES.index(status)}
    if reason is not None:
        body[5] = str(reason)
    return cbor.dumps(body)


def _check_stats(stats):
    if not isinstance(stats, dict):
        _bad("stats: expected a map of counters", "stats")
    for k, v in stats.items():
        if not isinstance(k, str) or not isinstance(v, int) or isinstance(v, bool):
            _bad("stats: expected text keys and int values, got %r: %r" % (k, v), "stats")
    return stats


def encode_heartbeat(device, seq, stats):
    """CBOR bytes of a heartbeat."""
    return cbor.dumps({0: VERSION, 1: HEARTBEAT, 2: _check_device(device), 3: _check_seq(seq),
                       4: _check_stats(stats)})


def _check_attachment(attachment, payload, bundle):
    """(trunk, branch, timestamp_ms, nonces) checked: one 27-tryte nonce per transaction of the payload's bundle."""
    if bundle is not None:
        _bad("attachment: give bundle or attachment, not both", "attachment")
    if not isinstance(attachment, (list, tuple)) or len(attachment) != 4:
        _bad("attachment: expected [trunk, branch, timestamp_ms, nonces]", "attachment")
    trunk, branch, stamp, nonces = attachment
    if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 <= stamp <= MAX_TIMESTAMP:
        _bad("attachment: timestamp_ms: expected an int in 0..%d, got %r" % (MAX_TIMESTAMP, stamp), "attachment")
    count = max(1, (len(payload) + FRAGMENT_TRYTES - 1) // FRAGMENT_TRYTES)  # a transaction per fragment
    if not isinstance(nonces, (list, tuple)) or len(nonces) != count:
        _bad("attachment: expected %d nonces, one per transaction of the payload's bundle" % count, "attachment")
    return (_check_trytes(trunk, "attachment", 81), _check_trytes(branch, "attachment", 81), stamp,
            [_check_trytes(n, "attachment", 27) for n in nonces])


def decode(data):
    """``Up``, ``Ack`` or ``Heartbeat`` from CBOR bytes; InvalidValue naming the field for anything malformed."""
    body = cbor.loads(data)
    if not isinstance(body, dict):
        _bad("expected a CBOR map", "message")
    if body.get(0) != VERSION:
        _bad("version: expected %d, got %r" % (VERSION, body.get(0)), "version")
    kind = body.get(1)
    device = _check_device(body.get(2))
    seq = _check_seq(body.get(3))
    if kind == UP:
        mode = body.get(6)
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode < len(MODES):
            _bad("mode: expected 0..%d" % (len(MODES) - 1), "mode")
        bundle = body.get(7)
        if bundle is not None:
            if not isinstance(bundle, list) or not bundle:
                _bad("bundle: expected a non-empty list of transaction trytes", "bundle")
            bundle = [_check_trytes(t, "bundle", 2673) for t in bundle]
        payload = _check_trytes(body.get(5), "payload")
        attachment = body.get(8)
        if attachment is not None:
            attachment = _check_attachment(attachment, payload, bundle)
        return Up(device, seq, _check_trytes(body.get(4), "root", 81), payload, MODES[mode], bundle, attachment)
    if kind == ACK:
        status = body.get(4)
        if not isinstance(status, int) or isinstance(status, bool) or not 0 <= status < len(ACK_STATUSES):
            _bad("status: expected 0..%d" % (len(ACK_STATUSES) - 1), "status")
        reason = body.get(5)
        if reason is not None and not isinstance(reason, str):
            _bad("reason: expected a string", "reason")
        return Ack(device, seq, ACK_STATUSES[status], reason)
    if kind == HEARTBEAT:
        return Heartbeat(device, seq, _check_stats(body.get(4)))
    _bad("kind: expected %d (up), %d (ack) or %d (heartbeat), got %r" % (UP, ACK, HEARTBEAT, kind), "kind")
