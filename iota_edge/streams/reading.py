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

A batch (``encode_batch``) carries several samples in one signed message, so the signing cost is shared: the first
sample sits in keys 3 and 4 as above and the others in key 5, an array of [timestamp, values]. A batch of one is
byte-identical to a single reading. ``Reading.samples`` lists every sample as (timestamp, values).

Units are free text; UCUM codes ("Cel", "%", "hPa", "V") keep them short and unambiguous. Values keep the order
given. Keys 5..23 are reserved for later versions; a decoder refuses a version it does not know and keys it does not
expect. The MAM message carries the bytes two trytes per byte (bytes_to_trytes), so each byte costs 6 trits.
"""

from iota_edge import cbor
from iota_edge.errors import InvalidMessage, IotaEdgeError
from iota_edge.trinary import bytes_to_trytes, trytes_to_bytes

VERSION = 1
K_VERSION, K_DEVICE, K_SEQ, K_TIME, K_VALUES, K_MORE = 0, 1, 2, 3, 4, 5
_KEYS = (K_VERSION, K_DEVICE, K_SEQ, K_TIME, K_VALUES, K_MORE)


class Reading:
    """A decoded reading: ``device``, ``seq``, ``timestamp``, ``values`` (list of (name, value, unit)), ``version``;
    ``samples``: every (timestamp, values) of a batch, the first one being (``timestamp``, ``values``)."""

    def __init__(self, device, seq, timestamp, values, version=VERSION, more=None):
        self.device = device
        self.seq = seq
        self.timestamp = timestamp
        self.values = values
        self.version = version
        self.samples = [(timestamp, values)] + list(more or ())

    def value(self, name, default=None):
        """The value of channel ``name`` (the first one with that name), or ``default``."""
        for n, v, _ in self.values:
            if n == name:
                return v
        return default

    def __eq__(self, other):
        return isinstance(other, Reading) and (self.device, self.seq, self.samples, self.version) == (
            other.device, other.seq, other.samples, other.version)

    def __repr__(self):
        return "Reading(%r, seq=%d, timestamp=%d, %d values, %d samples)" % (
            self.device, self.seq, self.timestamp, len(self.values), len(self.samples))


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
    return encode_batch(device, seq, [(timestamp, values)])


def encode_batch(device, seq, samples):
    """Canonical CBOR bytes of a batch: ``samples`` is a non-empty list of (timestamp, values), oldest first."""
    if not isinstance(device, str):
        _bad("device: expected text")
    if not _is_int(seq) or seq < 0:
        _bad("seq: expected an int >= 0")
    if not isinstance(samples, (list, tuple)) or not samples:
        _bad("samples: expected a non-empty list of (timestamp, values)")
    rows = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, (list, tuple)) or len(sample) != 2:
            _bad("samples[%d]: expected (timestamp, values)" % i)
        if not _is_int(sample[0]):
            _bad("timestamp: expected an int (Unix seconds)")
        rows.append([sample[0], [list(v) for v in _check_values(sample[1])]])
    body = {K_VERSION: VERSION, K_DEVICE: device, K_SEQ: seq, K_TIME: rows[0][0], K_VALUES: rows[0][1]}
    if len(rows) > 1:
        body[K_MORE] = rows[1:]
    try:
        return cbor.dumps(body)
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
    more = m.get(K_MORE)
    if more is not None and (not isinstance(more, list) or not more):
        _bad("samples: expected a non-empty array of [timestamp, values]")
    extra = []
    for row in more or ():
        if not isinstance(row, list) or len(row) != 2 or not _is_int(row[0]) or not isinstance(row[1], list):
            _bad("samples: expected [timestamp, values] entries")
        extra.append((row[0], _decode_values(row[1])))
    return Reading(device, seq, timestamp, _decode_values(values), version, extra)


def _decode_values(values):
    for v in values:
        if not isinstance(v, list) or len(v) != 3:
            _bad("values: expected [name, value, unit] entries")
    return _check_values(values)


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
