"""Sensor readings as compact, versioned CBOR, and as MAM message trytes.

    >>> from iota_edge.streams.reading import encode_reading, decode_reading, reading_to_trytes
    >>> data = encode_reading("meter-7", 42, 1700000000, [("t", 21.5, "Cel"), ("rh", 48, "%")])
    >>> len(data), decode_reading(data).values
    (41, [('t', 21.5, 'Cel'), ('rh', 48, '%')])
    >>> trytes = reading_to_trytes("meter-7", 42, 1700000000, [("t", 21.5, "Cel")])   # for Channel.create_message

Format, version 1: one canonical CBOR map (iota_edge.cbor; byte-identical to ``cbor2.dumps(..., canonical=True)``)
with small integer keys::

    0: version (1)           1: device id (text)      2: sequence number (uint)
    3: timestamp (int, Unix seconds)                  4: values: array of [name (text), value (int/float/bool/null),
                                                                                unit (text, "" if none)]

Units are free text; UCUM codes ("Cel", "%", "hPa", "V") keep them short and unambiguous. Values keep the order
given. Keys 5..23 are reserved for later versions; a decoder refuses a version it does not know and keys it does not
expect. The MAM message carries the bytes two trytes per byte (bytes_to_trytes), so each byte costs 6 trits.
"""

from iota_edge import cbor
from iota_edge.errors import InvalidMessage, IotaEdgeError
from iota_edge.trinary import bytes_to_trytes, trytes_to_bytes

VERSION = 1
K_VERSION, K_DEVICE, K_SEQ, K_TIME, K_VALUES = 0, 1, 2, 3, 4
_KEYS = (K_VERSION, K_DEVICE, K_SEQ, K_TIME, K_VALUES)


class Reading:
    """A decoded reading: ``device``, ``seq``, ``timestamp``, ``values`` (list of (name, value, unit)), ``version``."""

    def __init__(self, device, seq, timestamp, values, version=VERSION):
        self.device = device
        self.seq = seq
        self.timestamp = timestamp
        self.values = values
        self.version = version

    def value(self, name, default=None):
        """The value of channel ``name`` (the first one with that name), or ``default``."""
        for n, v, _ in self.values:
            if n == name:
                return v
        return default

    def __eq__(self, other):
        return isinstance(other, Reading) and (self.device, self.seq, self.timestamp, self.values, self.version) == (
            other.device, other.seq, other.timestamp, other.values, other.version)

    def __repr__(self):
        return "Reading(%r, seq=%d, timestamp=%d, %d values)" % (self.device, self.seq, self.timestamp,
                                                                  len(self.values))


def _bad(msg):
    raise InvalidMessage("reading: " + msg, "reading", "reading")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_values(values):
    if isinstance(values, dict):  # {name: (value, unit)} or {name: value}: sorted by name, to be deterministic
        values = [(k,) + (tuple(v) if isinstance(v, (list, tuple)) else (v, "")) for k, v in sorted(values.items())]
    if not isinstance(values, (list, tuple)):
        _bad("values: expected a list of (name, value, unit)")
    out = []
    for i, item in enumerate(values):
        if not isinstance(item, (list, tuple)) or len(item) not in (2, 3):
            _bad("values[%d]: expected (name, value, unit)" % i)
        name, value = item[0], item[1]
        unit = item[2] if len(item) == 3 else ""
        if not isinstance(name, str) or not isinstance(unit, str):
            _bad("values[%d]: name and unit must be text" % i)
        if value is not None and not isinstance(value, (bool, int, float)):  # bool is no int on MicroPython
            _bad("values[%d]: value must be a number, a bool or None" % i)
        out.append((name, value, unit))
    return out


def encode_reading(device, seq, timestamp, values):
    """Canonical CBOR bytes of one reading (see the module docstring)."""
    if not isinstance(device, str):
        _bad("device: expected text")
    if not _is_int(seq) or seq < 0:
        _bad("seq: expected an int >= 0")
    if not _is_int(timestamp):
        _bad("timestamp: expected an int (Unix seconds)")
    values = _check_values(values)
    try:
        return cbor.dumps({K_VERSION: VERSION, K_DEVICE: device, K_SEQ: seq, K_TIME: timestamp,
                           K_VALUES: [list(v) for v in values]})
    except IotaEdgeError as e:
        _bad(str(e))


def decode_reading(data):
    """A Reading from CBOR bytes; InvalidMessage(reason='reading') when they are not a version-1 reading."""
    try:
        m = cbor.loads(data)
    except IotaEdgeError as e:
        _bad(str(e))
    if not isinstance(m, dict):
        _bad("expected a CBOR map")
    version = m.get(K_VERSION)
    if version != VERSION:
        _bad("version %r is not supported (expected %d)" % (version, VERSION))
    for k in m:
        if k not in _KEYS:
            _bad("unexpected key %r" % (k,))
    device, seq, timestamp, values = m.get(K_DEVICE), m.get(K_SEQ), m.get(K_TIME), m.get(K_VALUES)
    if not isinstance(device, str) or not _is_int(seq) or seq < 0 or not _is_int(timestamp):
        _bad("device, seq or timestamp missing or of the wrong type")
    if not isinstance(values, list):
        _bad("values: expected an array")
    for v in values:
        if not isinstance(v, list) or len(v) != 3:
            _bad("values: expected [name, value, unit] entries")
    return Reading(device, seq, timestamp, _check_values(values), version)


def reading_to_trytes(device, seq, timestamp, values):
    """encode_reading as message trytes (two per byte)."""
    return bytes_to_trytes(encode_reading(device, seq, timestamp, values))


def reading_from_trytes(trytes):
    """decode_reading of message trytes."""
    try:
        data = trytes_to_bytes(trytes, "message")
    except IotaEdgeError as e:
        _bad(str(e))
    return decode_reading(data)
