"""Kerl: Keccak-384 in ternary clothing (spec section 4).

    >>> from iota_edge.kerl import Kerl, kerl_hash
    >>> kerl_hash("EMIDYNHBWMBCXVDEFOFWINXTERALUKYYPPHKP9JJFGJEIUY9MUDVNFZHMMWZUYUSWAIOWEVTHNWMHANBH")[:9]
    'EJEAOOZYS'
    >>> k = Kerl(); k.absorb_trytes("A" * 81); first, second = k.squeeze_trytes(81), k.squeeze_trytes(81)

A 243-trit chunk travels as a balanced integer: trit 242 is dropped (forced to zero), the value becomes 48 big-endian
two's-complement bytes for Keccak, and a digest comes back reduced modulo 3^242 into the balanced range. After each
squeezed chunk the sponge restarts from the bitwise complement of the digest (the "flip" step). Signing code chains
hashes on the integers directly (:func:`hash_int`) and converts to trytes only at the edges.
"""

from iota_edge import _native
from iota_edge.errors import InvalidTrits, InvalidValue
from iota_edge.keccak import Keccak384, keccak384_48
from iota_edge.trinary import ALPHABET, check_trytes, trits_to_int, tryte_value

HASH_LENGTH = 243
_MOD = 3**242
_HALF = (_MOD - 1) // 2
_TWO_383 = 1 << 383
_TWO_384 = 1 << 384
_NOT48 = (1 << 384) - 1


def reduce(v):
    """``v`` reduced into the 242-trit balanced range, i.e. the value of its low 242 trits (trit 242 dropped)."""
    return (v + _HALF) % _MOD - _HALF


def int_to_bytes(v):
    """48-byte big-endian two's complement of a 242-trit balanced value (reduce first if it may be wider)."""
    return (v % _TWO_384).to_bytes(48, "big")


def bytes_to_int(data):
    """Balanced 242-trit value of a 48-byte digest (signed big-endian, reduced modulo 3^242)."""
    v = int.from_bytes(data, "big")
    if v >= _TWO_383:
        v -= _TWO_384
    return (v + _HALF) % _MOD - _HALF


def trytes_to_int(trytes, offset=0):
    """Balanced value of the 81 trytes at ``offset``, with trit 242 dropped (Kerl reads only trits 0..241)."""
    value = tryte_value
    v = value(trytes[offset + 80])
    v = v - 9 * ((v + 13) // 9 - 1)  # drop the top trit of the last tryte
    for i in range(offset + 79, offset - 1, -1):
        v = v * 27 + value(trytes[i])
    return v


def int_to_trytes(v):
    """81 trytes of a balanced 242-trit value (the last tryte's top trit is zero)."""
    out = []
    alphabet = ALPHABET
    for _ in range(81):
        d = v % 27
        if d > 13:
            d -= 27
        out.append(alphabet[d % 27])
        v = (v - d) // 27
    return "".join(out)


def flip(digest):
    """The bytes a Kerl sponge restarts from after squeezing ``digest``: its bitwise complement (spec 4.4)."""
    return (int.from_bytes(digest, "big") ^ _NOT48).to_bytes(48, "big")


def hash_int(v):
    """One fresh-sponge Kerl hash of one chunk, on balanced integers: the step of the signing chains."""
    return bytes_to_int(keccak384_48(int_to_bytes(v)))


class Kerl:
    """A Kerl sponge the caller holds: absorb (multiples of 243 trits) then squeeze (multiples of 243 trits)."""

    def __init__(self):
        self._k = Keccak384()

    def reset(self):
        self._k = Keccak384()

    def absorb_int(self, v):
        """Absorb one chunk given as its balanced value (reduced to 242 trits)."""
        self._k.update(int_to_bytes(reduce(v)))

    def squeeze_int(self):
        """Squeeze one chunk as its balanced value, then flip: restart from the complement of the digest."""
        d = self._k.digest()
        self._k = Keccak384(flip(d))
        return bytes_to_int(d)

    def absorb_trytes(self, trytes):
        trytes = check_trytes(trytes, "trytes", multiple=81)
        for off in range(0, len(trytes), 81):
            self.absorb_int(trytes_to_int(trytes, off))

    def squeeze_trytes(self, length=81):
        if length <= 0 or length % 81:
            raise InvalidValue("length: expected a positive multiple of 81 trytes, got %r" % (length,), "length")
        return "".join([int_to_trytes(self.squeeze_int()) for _ in range(length // 81)])

    def absorb(self, trits):
        """Absorb trits; the length must be a multiple of 243 (trit 242 of each chunk is ignored)."""
        if not len(trits) or len(trits) % HASH_LENGTH:
            raise InvalidTrits("trits: expected a positive multiple of 243 trits, got %d" % len(trits), "trits")
        for off in range(0, len(trits), HASH_LENGTH):
            chunk = trits[off : off + HASH_LENGTH - 1]
            for t in chunk:
                if t != 0 and t != 1 and t != -1:
                    raise InvalidTrits("trits: expected trits in -1..1, found %r" % (t,), "trits")
            self.absorb_int(trits_to_int(chunk))

    def squeeze(self, length=HASH_LENGTH):
        """Squeeze ``length`` trits (a multiple of 243)."""
        if length <= 0 or length % HASH_LENGTH:
            raise InvalidValue("length: expected a positive multiple of 243 trits, got %r" % (length,), "length")
        from iota_edge.trinary import int_to_trits

        out = []
        for _ in range(length // HASH_LENGTH):
            out.extend(int_to_trits(self.squeeze_int(), HASH_LENGTH))
        return out


def kerl_hash(trytes, length=81):
    """Kerl: absorb ``trytes`` (a multiple of 81), squeeze ``length`` trytes (a multiple of 81)."""
    trytes = check_trytes(trytes, "trytes", multiple=81)
    if not isinstance(length, int) or length <= 0 or length % 81:
        raise InvalidValue("length: expected a positive multiple of 81 trytes, got %r" % (length,), "length")
    if _native.AVAILABLE:
        return _native.kerl_hash(trytes, length)
    k = Kerl()
    k.absorb_trytes(trytes)
    return k.squeeze_trytes(length)
