"""Curl-P sponge (27 and 81 rounds), spec section 3.

    >>> from iota_edge.curl import Curl, curl_hash
    >>> curl_hash("9" * 81)[:9]
    'VLHQWCGUG'
    >>> c = Curl(rounds=27); c.absorb_trytes("A" * 81); h = c.squeeze_trytes(81)

State is 729 trits held as a bytearray of *offset* trits (trit + 1, so 0..2). absorb overwrites the rate (first 243
trits) with each chunk and transforms; a final partial chunk overwrites only its prefix (the JS/C/Java rule, which
MAM depends on; PyOTA zero-pads instead). squeeze reads the rate and transforms after each 243 trits.

One round computes ``s'[i] = SBOX(s[p_i], s[p_(i+1)])`` along the walk p_0 = 0, p_(i+1) = p_i + 364 or p_i - 365,
that is p_i = 364 i = -i/2 (mod 729). Read in walk order the second operand is the first one rotated by one place,
so on CPython a round is two reversed slices interleaved, one exact big-int combine (3a + b never carries across
bytes) and one translate through the S-box. MicroPython uses the viper
kernel in ``_curl_viper`` when the port has the emitter, otherwise a plain loop.
"""

from iota_edge import _native
from iota_edge.errors import InvalidTrits, InvalidValue
from iota_edge.trinary import ALPHABET, check_trytes

STATE_LENGTH = 729
HASH_LENGTH = 243

# Walk of the transform, _WALK[i] = p_i, as 16-bit little-endian entries (a viper ptr16 table).
_WALK = bytearray(2 * STATE_LENGTH)
_p = 0
for _i in range(STATE_LENGTH):
    _WALK[2 * _i] = _p & 0xFF
    _WALK[2 * _i + 1] = _p >> 8
    _p = _p + 364 if _p < 365 else _p - 365
del _i, _p

# SBOX on offset trits, indexed by 3 * (a + 1) + (b + 1); results are offset trits too.
_SBOX = bytes((2, 2, 0, 1, 0, 2, 0, 1, 1))

# Offset trits of every tryte character, and the reverse map from three offset trits to a character.
_OFFSET_TRITS = {}
_CHAR_OF = {}
for _idx, _ch in enumerate(ALPHABET):
    _v = _idx if _idx <= 13 else _idx - 27
    _ts = []
    for _k in range(3):
        _d = _v % 3
        if _d == 2:
            _d = -1
        _ts.append(_d + 1)
        _v = (_v - _d) // 3
    _OFFSET_TRITS[_ch] = bytes(_ts)
    _CHAR_OF[_ts[0] + 3 * _ts[1] + 9 * _ts[2]] = _ch
_CHARS = "".join([_CHAR_OF[i] for i in range(27)])
del _idx, _ch, _v, _ts, _k, _d, _CHAR_OF


def _sliced_transform():
    """CPython (and ports with extended slice assignment and translate): the walk is p_i = -i/2 mod 729, so the
    even places of the walk read s[0], s[728..365] and the odd ones s[364..1]."""
    table = bytes(list(_SBOX) + [0] * (256 - len(_SBOX)))
    from_bytes = int.from_bytes
    top = 8 * (STATE_LENGTH - 1)
    mask = (1 << (8 * STATE_LENGTH)) - 1
    a = bytearray(STATE_LENGTH)
    a[1::2] = bytes(364)  # raises where the port has no extended slice assignment
    b"".translate(table)

    def transform(state, rounds):
        s = bytes(state)
        for _ in range(rounds):
            a[0::2] = s[0:1] + s[:364:-1]
            a[1::2] = s[364:0:-1]
            x = from_bytes(a, "big")
            s = (x * 3 + (((x << 8) & mask) | (x >> top))).to_bytes(729, "big").translate(table)
        state[:] = s

    return transform


def _viper_transform():
    from iota_edge._curl_viper import transform as viper

    scratch = bytearray(STATE_LENGTH)

    def transform(state, rounds):
        viper(state, scratch, _WALK, _SBOX, rounds)

    return transform


def _loop_transform():
    sbox = _SBOX

    def transform(state, rounds):
        for _ in range(rounds):
            old = bytes(state)
            p = 0
            for i in range(STATE_LENGTH):
                q = p + 364 if p < 365 else p - 365
                state[i] = sbox[old[p] * 3 + old[q]]
                p = q

    return transform


def _native_transform():
    transform = getattr(_native, "curl_transform", None)    # the cffi kernel only, not the MicroPython module
    if not _native.AVAILABLE or transform is None:
        raise ImportError("no native Curl transform")
    return transform


_MAKERS = (
    ("native", _native_transform),
    ("sliced", _sliced_transform),
    ("viper", _viper_transform),
    ("loop", _loop_transform),
)


def transforms():
    """Every transform this interpreter can run, fastest first, as (name, function); tests compare them."""
    out = []
    for name, make in _MAKERS:
        try:
            out.append((name, make()))
        except Exception:  # a port without the feature: ImportError, SyntaxError, AttributeError, ...
            pass
    return out


def _first_transform():
    for name, make in _MAKERS:
        try:
            return name, make()
        except Exception:
            pass


TRANSFORM_NAME, _transform = _first_transform()


class Curl:
    """A Curl-P sponge the caller holds; ``rounds`` is 81 (transaction hash, PoW) or 27 (MAM)."""

    def __init__(self, rounds=81):
        if rounds != 81 and rounds != 27:
            raise InvalidValue("rounds: expected 27 or 81, got %r" % (rounds,), "rounds")
        self.rounds = rounds
        self.state = bytearray(b"\x01" * STATE_LENGTH)  # all-zero trits

    def reset(self):
        self.state[:] = b"\x01" * STATE_LENGTH

    def transform(self):
        _transform(self.state, self.rounds)

    def absorb(self, trits):
        """Absorb trits (-1..1); each 243-trit chunk overwrites the rate, then the state is transformed."""
        state = self.state
        n = len(trits)
        pos = 0
        while pos < n:
            chunk = trits[pos : pos + HASH_LENGTH]
            for i, t in enumerate(chunk):
                if t != 0 and t != 1 and t != -1:
                    raise InvalidTrits("trits: expected trits in -1..1, found %r" % (t,), "trits")
                state[i] = t + 1
            self.transform()
            pos += HASH_LENGTH

    def absorb_trytes(self, trytes, start=0, end=None):
        """Absorb a tryte string, or its part ``start:end`` without copying it (81 trytes per chunk; a shorter last
        chunk overwrites only its prefix)."""
        trytes = check_trytes(trytes)
        end = len(trytes) if end is None else end
        state = self.state
        table = _OFFSET_TRITS
        for pos in range(start, end, 81):
            chunk = trytes[pos : min(pos + 81, end)]
            state[: 3 * len(chunk)] = b"".join([table[c] for c in chunk])
            self.transform()

    def squeeze(self, length=HASH_LENGTH):
        """Return ``length`` trits; the state is transformed after every 243 trits read."""
        out = []
        while length > 0:
            n = length if length < HASH_LENGTH else HASH_LENGTH
            out.extend([t - 1 for t in self.state[:n]])
            self.transform()
            length -= n
        return out

    def rate_trytes(self, length=81):
        """The first ``length`` (<= 81) trytes of the rate, without transforming."""
        s = self.state
        chars = _CHARS
        return "".join([chars[s[i] + 3 * s[i + 1] + 9 * s[i + 2]] for i in range(0, 3 * length, 3)])

    def squeeze_trytes(self, length=81):
        """Return ``length`` trytes (a multiple of 81 is the usual case)."""
        out = []
        while length > 0:
            n = length if length < 81 else 81
            out.append(self.rate_trytes(n))
            self.transform()
            length -= n
        return "".join(out)


def curl_hash(trytes, rounds=81):
    """Curl-P hash (81 trytes) of a tryte string whose length is a multiple of 81."""
    trytes = check_trytes(trytes, "trytes", multiple=81)
    if rounds != 81 and rounds != 27:
        raise InvalidValue("rounds: expected 27 or 81, got %r" % (rounds,), "rounds")
    if _native.AVAILABLE:
        return _native.curl_hash(trytes, rounds)
    c = Curl(rounds)
    c.absorb_trytes(trytes)
    return c.rate_trytes(81)  # a hash needs no transform after the read


def trailing_zeros(hash_trytes):
    """Weight magnitude: the number of zero trits at the end of a hash (spec 3.4)."""
    n = 0
    for i in range(len(hash_trytes) - 1, -1, -1):
        t0, t1, t2 = _OFFSET_TRITS[hash_trytes[i]]
        for t in (t2, t1, t0):
            if t != 1:
                return n
            n += 1
    return n
