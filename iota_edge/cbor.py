"""Deterministic CBOR (RFC 8949) encoder and a strict decoder, small enough for a device; CPython and MicroPython.

    >>> from iota_edge import cbor
    >>> cbor.dumps({0: 1, 4: [["t", 21.5, "Cel"]]}).hex()
    'a200010481836174f94d606343656c'
    >>> cbor.loads(bytes.fromhex('a200010481836174f94d606343656c'))
    {0: 1, 4: [['t', 21.5, 'Cel']]}

Output equals ``cbor2.dumps(obj, canonical=True)`` for the types below (the tests check it): integers in the
shortest head (up to 64 bits; no bignums), definite lengths only, map keys sorted by the length and then the bytes
of their encoding (RFC 7049 canonical order, cbor2's rule), and each float in the shortest of half, single and
double precision that holds it exactly (NaN as half 0x7e00). Types: None, bool, int, float, bytes/bytearray, str,
list/tuple (arrays) and dict (maps). The decoder takes the same types back, rejects indefinite lengths, tags,
trailing bytes and nesting deeper than 16, and raises InvalidValue naming the byte offset.
"""

from iota_edge.errors import InvalidValue

try:
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MAX_DEPTH = 16


def _head(out, major, n):
    if n < 24:
        out.append((major << 5) | n)
    elif n < 0x100:
        out.append((major << 5) | 24)
        out.append(n)
    elif n < 0x10000:
        out.append((major << 5) | 25)
        out.extend(n.to_bytes(2, "big"))
    elif n < 0x100000000:
        out.append((major << 5) | 26)
        out.extend(n.to_bytes(4, "big"))
    elif n < 0x10000000000000000:
        out.append((major << 5) | 27)
        out.extend(n.to_bytes(8, "big"))
    else:
        raise InvalidValue("cbor: integer %d needs more than 64 bits (bignums are not supported)" % n, "value")


def _half_bits(f):
    """IEEE half-precision bits of ``f`` when it holds ``f`` exactly, else None (f finite, non-zero)."""
    import math

    sign = 0x8000 if f < 0 else 0
    m, e = math.frexp(abs(f))  # abs(f) = m * 2**e, 0.5 <= m < 1
    exp = e + 14  # biased half exponent of a normal number
    if exp >= 31:
        return None
    if exp >= 1:
        mant = m * 2048.0  # 1024 <= mant < 2048; exact when it is an integer
        if mant != int(mant):
            return None
        return sign | (exp << 10) | (int(mant) - 1024)
    k = math.ldexp(abs(f), 24)  # subnormal: abs(f) = k * 2**-24 with k < 1024
    if k != int(k):
        return None
    return sign | int(k)


def _float(out, f):
    import struct

    if f != f:
        out.extend(b"\xf9\x7e\x00")
        return
    if f == 0:
        negative = str(f).startswith("-")  # -0.0 (math.copysign is missing on some ports)
        out.extend(b"\xf9\x80\x00" if negative else b"\xf9\x00\x00")
        return
    if f in (float("inf"), float("-inf")):
        out.extend(b"\xf9\x7c\x00" if f > 0 else b"\xf9\xfc\x00")
        return
    h = _half_bits(f)
    if h is not None:
        out.append(0xF9)
        out.extend(h.to_bytes(2, "big"))
        return
    try:
        single = struct.pack(">f", f)
        if struct.unpack(">f", single)[0] == f:
            out.append(0xFA)
            out.extend(single)
            return
    except OverflowError:  # CPython: too large for a single
        pass
    out.append(0xFB)
    out.extend(struct.pack(">d", f))


def _encode(obj, out, depth):
    if depth > _MAX_DEPTH:
        raise InvalidValue("cbor: nesting deeper than %d" % _MAX_DEPTH, "value")
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            _head(out, 0, obj)
        else:
            _head(out, 1, -1 - obj)
    elif isinstance(obj, float):
        _float(out, obj)
    elif isinstance(obj, (bytes, bytearray)):
        _head(out, 2, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        _head(out, 3, len(data))
        out.extend(data)
    elif isinstance(obj, (list, tuple)):
        _head(out, 4, len(obj))
        for item in obj:
            _encode(item, out, depth + 1)
    elif isinstance(obj, dict):
        if all(type(k) is int and 0 <= k < 24 for k in obj):  # one-byte keys (the wire's): canonical = numeric order
            _head(out, 5, len(obj))
            for k in sorted(obj):
                out.append(k)
                _encode(obj[k], out, depth + 1)
            return
        items = []
        for k, v in obj.items():
            kb = bytearray()
            _encode(k, kb, depth + 1)
            items.append((len(kb), bytes(kb), v))
        items.sort(key=lambda it: (it[0], it[1]))
        _head(out, 5, len(items))
        for i in range(len(items)):
            if i and items[i][1] == items[i - 1][1]:
                raise InvalidValue("cbor: two map keys encode the same", "value")
            out.extend(items[i][1])
            _encode(items[i][2], out, depth + 1)
    else:
        raise InvalidValue("cbor: cannot encode a %s" % type(obj).__name__, "value")


def dumps(obj):
    """Canonical CBOR bytes of ``obj``."""
    out = bytearray()
    _encode(obj, out, 0)
    return bytes(out)


class _Into:
    """The append/extend that _encode uses, writing into a caller's buffer (no growth, no final copy)."""

    def __init__(self, buf):
        self.buf = buf
        self.n = 0

    def append(self, b):
        self.extend((b,))

    def extend(self, data):
        n = self.n
        k = len(data)
        if n + k > len(self.buf):
            raise InvalidValue("cbor: the encoding is longer than the buffer (%d bytes)" % len(self.buf), "buf")
        self.buf[n:n + k] = bytes(data) if isinstance(data, tuple) else data
        self.n = n + k


def dumps_into(obj, buf):
    """Write the canonical CBOR of ``obj`` (the bytes of ``dumps(obj)``) into the bytearray ``buf``; returns the
    length. For a device: a buffer allocated once at boot takes a record of several KiB even when the heap is too
    fragmented for a new block that size."""
    out = _Into(buf)
    _encode(obj, out, 0)
    return out.n


# --- decoding ------------------------------------------------------------------------------------------------------


def _fail(msg, pos):
    raise InvalidValue("cbor: %s at byte %d" % (msg, pos), "data")


def _half_to_float(h):
    import math

    sign = -1.0 if h & 0x8000 else 1.0
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    if exp == 0:
        return sign * math.ldexp(mant, -24)
    if exp == 31:
        return sign * float("inf") if mant == 0 else float("nan")
    return sign * math.ldexp(mant + 1024, exp - 25)


def _decode(data, pos, depth, end):
    # The majors in the order a reading's maps use them (text keys, unsigned ints, maps, arrays, floats): one test
    # each before the common cases return.
    if pos >= end:
        _fail("unexpected end", pos)
    ib = data[pos]
    major = ib >> 5
    info = ib & 0x1F
    start = pos
    pos += 1
    if info < 24:
        n = info
    elif info <= 27:
        size = 1 << (info - 24)
        if pos + size > end:
            _fail("unexpected end", pos)
        n = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        _fail("indefinite length or reserved value %d" % info, start)
    if major == 3 or major == 2:
        stop = pos + n
        if stop > end:
            _fail("string runs past the end", start)
        raw = bytes(data[pos:stop])
        if major == 2:
            return raw, stop
        try:
            return raw.decode("utf-8"), stop
        except UnicodeError:
            _fail("text string is not UTF-8", start)
    if major == 0:
        return n, pos
    if major == 5 or major == 4:
        if depth >= _MAX_DEPTH and n:  # its items would be deeper than allowed
            _fail("nesting deeper than %d" % _MAX_DEPTH, pos)
        depth += 1
        if major == 4:
            out = []
            for _ in range(n):
                if pos < end and data[pos] < 24:  # an unsigned int 0..23, the bulk of a message's items: no call
                    out.append(data[pos])
                    pos += 1
                    continue
                item, pos = _decode(data, pos, depth, end)
                out.append(item)
            return out, pos
        out = {}
        for _ in range(n):
            if pos < end and data[pos] < 24:  # a one-byte key (the wire's and a reading's)
                key = data[pos]
                pos += 1
            else:
                key, pos = _decode(data, pos, depth, end)
                if type(key) is list or type(key) is dict:
                    _fail("map key is an array or a map", pos)
            value, pos = _decode(data, pos, depth, end)
            out[key] = value
        return out, pos
    if major == 1:
        return -1 - n, pos
    if major == 6:
        _fail("tags are not supported", start)
    # major 7: simple values and floats
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info == 22 or info == 23:
        return None, pos  # null, undefined
    if info == 25:
        return _half_to_float(n), pos
    if info == 26 or info == 27:
        import struct

        return struct.unpack(">f" if info == 26 else ">d", bytes(data[pos - (4 if info == 26 else 8) : pos]))[0], pos
    _fail("unsupported simple value", start)


def loads(data) -> "Any":
    """Decode one CBOR item that spans all of ``data``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidValue("cbor: expected bytes, got %s" % type(data).__name__, "data")
    obj, pos = _decode(data, 0, 0, len(data))
    if pos != len(data):
        _fail("%d trailing bytes" % (len(data) - pos), pos)
    return obj
