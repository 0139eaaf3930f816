"""Keccak-384 with the original Keccak padding (0x01), which Kerl needs (spec section 4.1).

    >>> from iota_edge.keccak import Keccak384
    >>> Keccak384(b"Message").digest().hex()[:16]
    '0c8d6ff6e6a1cf18'

This is NOT SHA3-384: FIPS 202 pads with 0x06, so ``hashlib.sha3_384`` gives different digests. Pure Python so that
it runs on MicroPython; the C kernel replaces it on hosts where it is built.
"""

_M = (1 << 64) - 1
RATE = 104  # bytes: 1600 - 2 * 384 bits

_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)

# rho rotation of lane i = x + 5y, and its destination under pi: (x, y) -> (y, 2x + 3y).
_ROT = (0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14)
_PI = tuple([(i // 5) + 5 * ((2 * (i % 5) + 3 * (i // 5)) % 5) for i in range(25)])
_STEPS = tuple([(i, _PI[i], _ROT[i], 64 - _ROT[i], i % 5) for i in range(25)])


# Generated once from the step tables above (rho rotations, pi destinations); kept unrolled for speed.
def keccak_f(lanes):
    """Keccak-f[1600] in place on a list of 25 64-bit lanes (index x + 5y); round body unrolled."""
    m = _M
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24 = lanes
    for rc in _RC:
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ (((c1 << 1) | (c1 >> 63)) & m)
        d1 = c0 ^ (((c2 << 1) | (c2 >> 63)) & m)
        d2 = c1 ^ (((c3 << 1) | (c3 >> 63)) & m)
        d3 = c2 ^ (((c4 << 1) | (c4 >> 63)) & m)
        d4 = c3 ^ (((c0 << 1) | (c0 >> 63)) & m)
        b0 = a0 ^ d0
        v = a1 ^ d1
        b10 = ((v << 1) | (v >> 63)) & m
        v = a2 ^ d2
        b20 = ((v << 62) | (v >> 2)) & m
        v = a3 ^ d3
        b5 = ((v << 28) | (v >> 36)) & m
        v = a4 ^ d4
        b15 = ((v << 27) | (v >> 37)) & m
        v = a5 ^ d0
        b16 = ((v << 36) | (v >> 28)) & m
        v = a6 ^ d1
        b1 = ((v << 44) | (v >> 20)) & m
        v = a7 ^ d2
        b11 = ((v << 6) | (v >> 58)) & m
        v = a8 ^ d3
        b21 = ((v << 55) | (v >> 9)) & m
        v = a9 ^ d4
        b6 = ((v << 20) | (v >> 44)) & m
        v = a10 ^ d0
        b7 = ((v << 3) | (v >> 61)) & m
        v = a11 ^ d1
        b17 = ((v << 10) | (v >> 54)) & m
        v = a12 ^ d2
        b2 = ((v << 43) | (v >> 21)) & m
        v = a13 ^ d3
        b12 = ((v << 25) | (v >> 39)) & m
        v = a14 ^ d4
        b22 = ((v << 39) | (v >> 25)) & m
        v = a15 ^ d0
        b23 = ((v << 41) | (v >> 23)) & m
        v = a16 ^ d1
        b8 = ((v << 45) | (v >> 19)) & m
        v = a17 ^ d2
        b18 = ((v << 15) | (v >> 49)) & m
        v = a18 ^ d3
        b3 = ((v << 21) | (v >> 43)) & m
        v = a19 ^ d4
        b13 = ((v << 8) | (v >> 56)) & m
        v = a20 ^ d0
        b14 = ((v << 18) | (v >> 46)) & m
        v = a21 ^ d1
        b24 = ((v << 2) | (v >> 62)) & m
        v = a22 ^ d2
        b9 = ((v << 61) | (v >> 3)) & m
        v = a23 ^ d3
        b19 = ((v << 56) | (v >> 8)) & m
        v = a24 ^ d4
        b4 = ((v << 14) | (v >> 50)) & m
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rc
    lanes[:] = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24]


def _absorb_block(lanes, block, offset):
    from_bytes = int.from_bytes
    for i in range(13):
        lanes[i] ^= from_bytes(block[offset + 8 * i : offset + 8 * i + 8], "little")
    keccak_f(lanes)


def _squeeze48(lanes):
    return b"".join([lanes[i].to_bytes(8, "little") for i in range(6)])


class Keccak384:
    """Streaming Keccak-384: ``update(data)``, ``digest()`` (does not change the object), ``copy()``."""

    def __init__(self, data=b""):
        self.lanes = [0] * 25
        self.buf = b""
        if data:
            self.update(data)

    def update(self, data):
        buf = self.buf + bytes(data)
        n = len(buf) - len(buf) % RATE
        for off in range(0, n, RATE):
            _absorb_block(self.lanes, buf, off)
        self.buf = buf[n:]
        return self

    def copy(self):
        k = Keccak384()
        k.lanes = list(self.lanes)
        k.buf = self.buf
        return k

    def digest(self):
        lanes = list(self.lanes)
        last = bytearray(RATE)
        last[: len(self.buf)] = self.buf
        last[len(self.buf)] ^= 0x01
        last[RATE - 1] ^= 0x80
        _absorb_block(lanes, last, 0)
        return _squeeze48(lanes)


_PAD_LANE_6 = 0x01
_PAD_LANE_12 = 0x80 << 56


def keccak384_48(data):
    """Keccak-384 of exactly 48 bytes (one padded block): the inner step of every Kerl hash chain."""
    from_bytes = int.from_bytes
    lanes = [from_bytes(data[8 * i : 8 * i + 8], "little") for i in range(6)]
    lanes.extend((_PAD_LANE_6, 0, 0, 0, 0, 0, _PAD_LANE_12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    keccak_f(lanes)
    return _squeeze48(lanes)


# Generated from the same step tables as keccak_f, with each rotation split by per-slot masks.
def keccak_f_wide(lanes, w):
    """Keccak-f[1600] on many states at once: lane i of state j sits in bits 64j..64j+63 of lanes[i]; ``w``
    holds the per-slot masks of _wide_masks(). Same round as keccak_f, with rotations kept inside each slot."""
    lo, hi, rcs = w
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24 = lanes
    for rc in rcs:
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ ((c1 << 1) & hi[1]) ^ ((c1 >> 63) & lo[1])
        d1 = c0 ^ ((c2 << 1) & hi[1]) ^ ((c2 >> 63) & lo[1])
        d2 = c1 ^ ((c3 << 1) & hi[1]) ^ ((c3 >> 63) & lo[1])
        d3 = c2 ^ ((c4 << 1) & hi[1]) ^ ((c4 >> 63) & lo[1])
        d4 = c3 ^ ((c0 << 1) & hi[1]) ^ ((c0 >> 63) & lo[1])
        b0 = a0 ^ d0
        v = a1 ^ d1
        b10 = ((v << 1) & hi[1]) | ((v >> 63) & lo[1])
        v = a2 ^ d2
        b20 = ((v << 62) & hi[62]) | ((v >> 2) & lo[62])
        v = a3 ^ d3
        b5 = ((v << 28) & hi[28]) | ((v >> 36) & lo[28])
        v = a4 ^ d4
        b15 = ((v << 27) & hi[27]) | ((v >> 37) & lo[27])
        v = a5 ^ d0
        b16 = ((v << 36) & hi[36]) | ((v >> 28) & lo[36])
        v = a6 ^ d1
        b1 = ((v << 44) & hi[44]) | ((v >> 20) & lo[44])
        v = a7 ^ d2
        b11 = ((v << 6) & hi[6]) | ((v >> 58) & lo[6])
        v = a8 ^ d3
        b21 = ((v << 55) & hi[55]) | ((v >> 9) & lo[55])
        v = a9 ^ d4
        b6 = ((v << 20) & hi[20]) | ((v >> 44) & lo[20])
        v = a10 ^ d0
        b7 = ((v << 3) & hi[3]) | ((v >> 61) & lo[3])
        v = a11 ^ d1
        b17 = ((v << 10) & hi[10]) | ((v >> 54) & lo[10])
        v = a12 ^ d2
        b2 = ((v << 43) & hi[43]) | ((v >> 21) & lo[43])
        v = a13 ^ d3
        b12 = ((v << 25) & hi[25]) | ((v >> 39) & lo[25])
        v = a14 ^ d4
        b22 = ((v << 39) & hi[39]) | ((v >> 25) & lo[39])
        v = a15 ^ d0
        b23 = ((v << 41) & hi[41]) | ((v >> 23) & lo[41])
        v = a16 ^ d1
        b8 = ((v << 45) & hi[45]) | ((v >> 19) & lo[45])
        v = a17 ^ d2
        b18 = ((v << 15) & hi[15]) | ((v >> 49) & lo[15])
        v = a18 ^ d3
        b3 = ((v << 21) & hi[21]) | ((v >> 43) & lo[21])
        v = a19 ^ d4
        b13 = ((v << 8) & hi[8]) | ((v >> 56) & lo[8])
        v = a20 ^ d0
        b14 = ((v << 18) & hi[18]) | ((v >> 46) & lo[18])
        v = a21 ^ d1
        b24 = ((v << 2) & hi[2]) | ((v >> 62) & lo[2])
        v = a22 ^ d2
        b9 = ((v << 61) & hi[61]) | ((v >> 3) & lo[61])
        v = a23 ^ d3
        b19 = ((v << 56) & hi[56]) | ((v >> 8) & lo[56])
        v = a24 ^ d4
        b4 = ((v << 14) & hi[14]) | ((v >> 50) & lo[14])
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rc
    lanes[:] = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24]


_USED_ROTATIONS = tuple(sorted(set(_ROT + (1,)) - {0}))


def _wide_masks(n):
    """Per-slot masks for n states: lo[r] keeps the low r bits of every slot, hi[r] the bits r..63 (built only for
    the rotations Keccak uses, to spare a device's heap); rcs are the round constants repeated in every slot."""
    unit = 0
    for j in range(n):
        unit |= 1 << (64 * j)
    lo = [0] * 64
    hi = [0] * 64
    for r in _USED_ROTATIONS:
        lo[r] = ((1 << r) - 1) * unit
        hi[r] = (_M ^ ((1 << r) - 1)) * unit
    return lo, hi, [rc * unit for rc in _RC], unit


# States per wide permutation: all of them on a host; a bounded batch on MicroPython keeps the peak heap small.
try:
    import sys

    WIDE_BATCH = 9 if sys.implementation.name == "micropython" else 1 << 16
except (ImportError, AttributeError):
    WIDE_BATCH = 9


def keccak384_48_many(messages):
    """Keccak-384 of many 48-byte messages at once (lockstep in wide integers); the digests in the same order."""
    n = len(messages)
    if n < 4:
        return [keccak384_48(m) for m in messages]
    if n > WIDE_BATCH:
        out = []
        for i in range(0, n, WIDE_BATCH):
            out.extend(keccak384_48_many(messages[i : i + WIDE_BATCH]))
        return out
    lo, hi, rcs, unit = _wide_masks(n)
    from_bytes = int.from_bytes
    lanes = [from_bytes(b"".join([m[8 * k : 8 * k + 8] for m in messages]), "little") for k in range(6)]
    lanes.extend((_PAD_LANE_6 * unit, 0, 0, 0, 0, 0, _PAD_LANE_12 * unit, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    keccak_f_wide(lanes, (lo, hi, rcs))
    cols = [lanes[k].to_bytes(8 * n, "little") for k in range(6)]
    return [b"".join([c[8 * j : 8 * j + 8] for c in cols]) for j in range(n)]
