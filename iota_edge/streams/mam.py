"""MAM v0 primitives: Curl-P-27 keys, Merkle tree, pascal encoding, mask/unmask, hamming nonce (spec section 9).

    >>> from iota_edge.streams import mam
    >>> seed = mam.trytes_to_otrits("A" * 81)
    >>> mam.otrits_to_trytes(mam.leaf_address(seed, 0, 2))[:9]
    'POKRBFTSZ'
    >>> mam.pascal_encode(1234)
    [1, 0, -1, 1, 0, -1, -1, 1, 0, 0, 0, 0]

Trit vectors here are bytearrays of *offset* trits (trit + 1, so 0..2), the layout of ``Curl.state``: a 13 122-trit
signature is 13 KiB instead of the ~100 KiB a list of ints costs on MicroPython, and chunks move in and out of the
sponge by slice assignment. Sponges follow the JS/C absorb rule (a partial chunk overwrites only its prefix, spec 3.3),
which MAM depends on. Channel bookkeeping lives in channel.py, verification in parser.py; nothing here keeps state
between calls. On CPython with the C kernel built, the hot loops (tryte decoding, mask/unmask, hash chains, the leaf
of a signature, the Merkle fold) run in csrc/mam.c instead, with the same results.
"""

from iota_edge import _native
from iota_edge.curl import Curl
from iota_edge.errors import InvalidMessage, InvalidTrytes, InvalidValue
from iota_edge.trinary import ALPHABET, check_trytes

HASH = 243
NONCE = 81
SEGMENTS = 27  # key segments per security level
FRAGMENT = SEGMENTS * HASH  # 6561 signature trits per security level
_ZERO = b"\x01" * 729  # offset trits of zeros: a reset sponge, or padding
_CAPACITY = memoryview(_ZERO)[243:729]  # a reset capacity, copied without allocating
# CPython with the C kernel: its loops, not these (getattr: the MicroPython kernel has none of them)
_K_OTRITS = getattr(_native, "otrits", None)
_K_TRYTES = getattr(_native, "otrits_to_trytes", None)
_K_MASK = getattr(_native, "mam_mask", None)
_K_UNMASK = getattr(_native, "mam_unmask", None)
_K_CHAIN = getattr(_native, "curl_chain", None)
_K_LEAF = getattr(_native, "mam_leaf", None)
_K_FOLD = getattr(_native, "mam_fold", None)

# Offset trits of each tryte char, and the char (as a byte) of three offset trits indexed by t0 + 3 t1 + 9 t2.
_OT = {}
_CHR = bytearray(27)
for _i, _c in enumerate(ALPHABET):
    _v = _i if _i <= 13 else _i - 27
    _t = bytearray(3)
    for _k in range(3):
        _d = _v % 3
        if _d == 2:
            _d = -1
        _t[_k] = _d + 1
        _v = (_v - _d) // 3
    _OT[_c] = bytes(_t)
    _CHR[_t[0] + 3 * _t[1] + 9 * _t[2]] = ord(_c)
del _i, _c, _v, _t, _k, _d

# Balanced trit sum / difference on offset trits (1 + 1 -> -1, -1 + -1 -> 1), indexed by 3 a + b.
_ADD = bytes([(a + b - 1) % 3 for a in range(3) for b in range(3)])
_SUB = bytes([(a - b + 1) % 3 for a in range(3) for b in range(3)])


# --- conversions ------------------------------------------------------------------------------------------------


def trytes_to_otrits(trytes, field="trytes"):
    """Offset trits (bytearray, 3 per tryte) of a tryte string."""
    trytes = check_trytes(trytes, field)
    if _K_OTRITS:
        return _K_OTRITS(trytes)
    out = bytearray(3 * len(trytes))
    table = _OT
    i = 0
    for c in trytes:
        out[i : i + 3] = table[c]
        i += 3
    return out


def otrits_to_trytes(buf, start=0, end=None):
    """Tryte string of offset trits ``buf[start:end]`` (a length that is not a multiple of 3 is zero-padded)."""
    if end is None:
        end = len(buf)
    if _K_TRYTES:
        return _K_TRYTES(buf, start, end)
    n = end - start
    out = bytearray((n + 2) // 3)
    chars = _CHR
    k = 0
    full = start + n - n % 3
    for i in range(start, full, 3):
        out[k] = chars[buf[i] + 3 * buf[i + 1] + 9 * buf[i + 2]]
        k += 1
    if n % 3:
        t1 = buf[full + 1] if n % 3 == 2 else 1
        out[k] = chars[buf[full] + 3 * t1 + 9]
    return out.decode()


class TryteWriter:
    """Collects offset trits and turns each whole tryte into its character at once: a payload is built chunk by
    chunk without ever holding all of its trits (13 KiB at security 2) in memory. Create it before the work that
    litters the heap, so that its buffer sits low in a device's heap and the final string finds room above."""

    def __init__(self, n_trits):
        self.chars = bytearray((n_trits + 2) // 3)
        self.k = 0
        self.pending = bytearray(3)
        self.np = 0

    def put(self, buf, start=0, end=None):
        if end is None:
            end = len(buf)
        chars, out, pending = _CHR, self.chars, self.pending
        k = self.k
        i = start
        while self.np and i < end:  # complete a tryte left over from the last call
            pending[self.np] = buf[i]
            self.np += 1
            i += 1
            if self.np == 3:
                out[k] = chars[pending[0] + 3 * pending[1] + 9 * pending[2]]
                k += 1
                self.np = 0
        full = i + (end - i) // 3 * 3
        for j in range(i, full, 3):
            out[k] = chars[buf[j] + 3 * buf[j + 1] + 9 * buf[j + 2]]
            k += 1
        for j in range(full, end):
            pending[self.np] = buf[j]
            self.np += 1
        self.k = k

    def finish(self):
        """The tryte string; a last partial tryte is padded with zero trits."""
        if self.np:
            self.put(_ZERO, 0, 3 - self.np)
        if self.k != len(self.chars):
            raise InvalidValue("payload: wrote %d of %d trytes" % (self.k, len(self.chars)), "payload")
        chars, self.chars = self.chars, None
        return chars.decode()


def zeros(n):
    """A bytearray of ``n`` zero trits (offset 1), filled in 729-byte blocks (no n-byte temporary)."""
    buf = bytearray(n)
    for i in range(0, n, 729):
        k = n - i if n - i < 729 else 729
        buf[i : i + k] = _ZERO[0:k]
    return buf


def trits_to_otrits(trits):
    """Offset trits of a sequence of balanced trits (-1..1)."""
    out = bytearray(len(trits))
    for i, t in enumerate(trits):
        out[i] = t + 1
    return out


def otrits_to_trits(buf):
    return [t - 1 for t in buf]


def _tryte_value(buf, i):
    return buf[i] + 3 * buf[i + 1] + 9 * buf[i + 2] - 13


def _otrits_value(buf, start, end):
    v = 0
    for i in range(end - 1, start - 1, -1):
        v = v * 3 + buf[i] - 1
    return v


def _int_to_otrits(n, buf, start, length):
    """Write ``n`` as ``length`` balanced trits into ``buf[start:]``; InvalidMessage if it does not fit."""
    for i in range(start, start + length):
        d = n % 3
        if d == 2:
            d = -1
        buf[i] = d + 1
        n = (n - d) // 3
    if n:
        raise InvalidMessage("value does not fit in %d trits" % length, "decode")


# --- pascal encoding (mam.js utils/pascal.ts) ---------------------------------------------------------------------


def pascal_encode(value):
    """Self-delimiting encoding of an int >= 0 as a list of balanced trits (spec 9.3)."""
    return otrits_to_trits(pascal_otrits(value))


def pascal_otrits(value):
    """pascal_encode as offset trits."""
    if value == 0:
        return bytearray(b"\x02\x01\x01\x00")
    if value < 0:
        raise InvalidMessage("pascal: expected an int >= 0, got %d" % value, "decode")
    n = 1
    basis = 1
    while value > basis:  # smallest n with (3^n - 1) / 2 >= value
        basis = 3 * basis + 1
        n += 1
    m = (n + 2) // 3  # trytes of the value
    out = bytearray(4 * m)
    _int_to_otrits(value, out, 0, 3 * m)
    encoding = 0
    for i in range(m):
        p = 3 * i
        v = _tryte_value(out, p)
        if (v >= 0) if i < m - 1 else (v < 0):
            encoding |= 1 << i
            for j in range(p, p + 3):
                out[j] = 2 - out[j]
    _int_to_otrits(encoding, out, 3 * m, m)
    return out


_PASCAL_MAX_TRYTES = 14  # 27^14 > 2^66: far beyond any index or length a payload can carry


def pascal_decode(buf, pos, end):
    """Decode a pascal integer at ``buf[pos:end]`` (offset trits); return (value, position after it).

    Stricter than mam.js: the value trits must be the canonical ones and the sign bits must match them, except the
    bit of a zero tryte, which mam.js sets and mam.client.js leaves clear. Anything else raises
    InvalidMessage(reason='decode').
    """
    if end - pos >= 4 and buf[pos] == 2 and buf[pos + 1] == 1 and buf[pos + 2] == 1 and buf[pos + 3] == 0:
        return 0, pos + 4
    p = pos
    while True:
        if p + 3 > end or p - pos >= 3 * _PASCAL_MAX_TRYTES:
            raise InvalidMessage("pascal integer at trit %d has no terminating tryte" % pos, "decode")
        v = _tryte_value(buf, p)
        p += 3
        if v > 0:
            break
    m = (p - pos) // 3
    if p + m > end:
        raise InvalidMessage("pascal integer at trit %d is cut short" % pos, "decode")
    encoder = _otrits_value(buf, p, p + m)
    value = 0
    scale = 1
    zero = 0  # bits of zero trytes: mam.js sets them, mam.client.js (Rust) does not; either reads the same
    for i in range(m):
        v = _tryte_value(buf, pos + 3 * i)
        if v == 0:
            zero |= 1 << i
        value += scale * (-v if (encoder >> i) & 1 else v)
        scale *= 27
    if value < 0 or not 0 <= encoder < (1 << m):
        raise InvalidMessage("pascal integer at trit %d is not a valid encoding" % pos, "decode")
    ours = pascal_otrits(value)
    if ours[0 : 3 * m] != buf[pos:p] or (_otrits_value(ours, 3 * m, 4 * m) ^ encoder) & ~zero:
        raise InvalidMessage("pascal integer at trit %d is not canonically encoded" % pos, "decode")
    return value, p + m


# --- sponge helpers ---------------------------------------------------------------------------------------------


def absorb(c, buf, start=0, end=None):
    """Absorb offset trits ``buf[start:end]`` into Curl ``c`` (JS/C rule: a short last chunk overwrites its prefix)."""
    if end is None:
        end = len(buf)
    state = c.state
    mv = memoryview(buf)
    pos = start
    while pos < end:
        n = end - pos
        if n > HASH:
            n = HASH
        state[0:n] = mv[pos : pos + n]
        c.transform()
        pos += n


def hash_pair(c, a, b):
    """Curl27(a | b), both 243 offset trits; returns a new bytearray (a Merkle parent)."""
    c.reset()
    state = c.state
    state[0:HASH] = a
    c.transform()
    state[0:HASH] = b
    c.transform()
    return bytearray(state[0:HASH])


def mask(c, buf, start, end):
    """Encrypt ``buf[start:end]`` in place with sponge ``c`` (duplex: key = rate, absorb plaintext chunk, spec 9.3)."""
    if _K_MASK:
        return _K_MASK(c, buf, start, end)
    state = c.state
    table = _ADD
    pos = start
    while pos < end:
        n = end - pos
        if n > HASH:
            n = HASH
        key = bytes(state[0:n])
        state[0:n] = memoryview(buf)[pos : pos + n]
        c.transform()
        for i in range(n):
            buf[pos + i] = table[3 * buf[pos + i] + key[i]]
        pos += n


def unmask(c, buf, start, end):
    """Decrypt ``buf[start:end]`` in place: plaintext = ciphertext - rate, then absorb the plaintext chunk."""
    if _K_UNMASK:
        return _K_UNMASK(c, buf, start, end)
    state = c.state
    table = _SUB
    pos = start
    while pos < end:
        n = end - pos
        if n > HASH:
            n = HASH
        for i in range(n):
            buf[pos + i] = table[3 * buf[pos + i] + state[i]]
        state[0:n] = memoryview(buf)[pos : pos + n]
        c.transform()
        pos += n


def security_of(rate):
    """Security level a rate encodes (mam.js checksumSecurity): the first L*81 trits sum to zero, no shorter prefix
    of whole 81-trit thirds does. 0 means none."""
    s = 0
    i = 0
    for level in (1, 2, 3):
        for i in range(i, NONCE * level):
            s += rate[i]
        i = NONCE * level
        if s == NONCE * level:  # offset trits: a zero sum of trits is a sum of NONCE * level
            return level
    return 0


def hamming_nonce(c, security):
    """Find 81 nonce trits that, written over the rate of a copy of ``c`` and transformed, give a rate whose security
    level is ``security`` (the MAM replacement for bundle-hash normalization). The search counts up in balanced
    ternary from zero, so the result is deterministic; mam.js's HammingDiver uses another order (spec pitfall 20)."""
    base = bytes(c.state)
    trial = Curl(27)
    st = trial.state
    nonce = bytearray(b"\x01" * NONCE)
    while True:
        st[:] = base
        st[0:NONCE] = nonce
        trial.transform()
        if security_of(st) == security:
            return nonce
        i = 0
        while i < NONCE:  # balanced increment: 0 -> 1, 1 -> -1 and carry, -1 -> 0
            t = nonce[i] + 1
            if t < 3:
                nonce[i] = t
                break
            nonce[i] = 0
            i += 1


# --- keys (mam.js signing/iss-p27.ts) --------------------------------------------------------------------------


def subseed(seed_ot, index, c=None):
    """Curl27 of seed + index (balanced addition over 243 trits, the carry out of trit 242 dropped); ``c`` is a
    Curl-P-27 sponge to use (reset here)."""
    s = bytearray(seed_ot)
    carry = 0
    n = index
    i = 0
    while (n or carry) and i < HASH:
        d = n % 3
        if d == 2:
            d = -1
        n = (n - d) // 3
        t = s[i] - 1 + d + carry
        carry = 0
        if t > 1:
            t -= 3
            carry = 1
        elif t < -1:
            t += 3
            carry = -1
        s[i] = t + 1
        i += 1
    if c is None:
        c = Curl(27)
    c.reset()
    c.state[0:HASH] = s
    c.transform()
    return bytearray(memoryview(c.state)[0:HASH])


def _chain(c, times):
    """Hash the rate of ``c`` ``times`` times, each a fresh sponge (reset, absorb 243, read the rate)."""
    if _K_CHAIN:
        return _K_CHAIN(c.state, times, c.rounds)
    state = c.state
    capacity = _CAPACITY
    for _ in range(times):
        state[HASH:729] = capacity
        c.transform()


def leaf_address(seed_ot, index, security, curls=None):
    """Merkle leaf of key ``index``: Curl27(Curl27(H^27(raw_0) | ... )) where raw_j are the squeezes of the
    subseed sponge (H^27(raw_j) = H^26(k_j), k_j = H(raw_j) being the private key segment). ``curls``: three
    Curl-P-27 sponges to reuse (a tree's leaves then leave no garbage between them on a device's heap)."""
    keys, chain, digest = curls or (Curl(27), Curl(27), Curl(27))
    ss = subseed(seed_ot, index, keys)
    keys.reset()
    keys.state[0:HASH] = ss
    keys.transform()
    chain.reset()
    digest.reset()
    ks, cs, ds = keys.state, chain.state, digest.state
    kv, cv = memoryview(ks)[0:HASH], memoryview(cs)[0:HASH]  # views: copying a chunk allocates nothing
    for _ in range(SEGMENTS * security):
        cs[0:HASH] = kv  # squeeze raw_j
        keys.transform()
        _chain(chain, 27)
        ds[0:HASH] = cv
        digest.transform()
    cs[0:HASH] = memoryview(ds)[0:HASH]
    _chain(chain, 1)
    return bytearray(cv)


def sign_segments(seed_ot, index, security, hmac, emit):
    """Sign ``hmac`` (243 offset trits) with key ``index``: call ``emit(segment)`` for each of the 27 L signature
    segments in order, segment j being H^(13 - v_j)(k_j), v_j the value of tryte j of hmac (a 243-byte view that is
    only valid during the call). The key is derived segment by segment and never held whole."""
    keys = Curl(27)
    keys.state[0:HASH] = subseed(seed_ot, index)
    keys.transform()
    chain = Curl(27)
    ks, cs = keys.state, chain.state
    kv, view = memoryview(ks)[0:HASH], memoryview(cs)[0:HASH]
    for j in range(SEGMENTS * security):
        cs[0:HASH] = kv
        keys.transform()
        _chain(chain, 14 - _tryte_value(hmac, 3 * j))  # 1 (raw -> k_j) + 13 - v_j
        emit(view)


def leaf_of_signature(hmac, buf, pos, security):
    """The leaf a signature at ``buf[pos:]`` opens to: segments hashed 13 + v_j times, one sponge over them, then
    the address hash."""
    if _K_LEAF:
        return _K_LEAF(hmac, buf, pos, security)
    chain = Curl(27)
    digest = Curl(27)
    cs, ds = chain.state, digest.state
    for j in range(SEGMENTS * security):
        cs[0:HASH] = memoryview(buf)[pos + HASH * j : pos + HASH * (j + 1)]
        _chain(chain, 13 + _tryte_value(hmac, 3 * j))
        ds[0:HASH] = cs[0:HASH]
        digest.transform()
    cs[0:HASH] = ds[0:HASH]
    _chain(chain, 1)
    return bytearray(cs[0:HASH])


# --- Merkle tree (mam.js merkle/merkleTree.ts) -------------------------------------------------------------------


def check_count(count, field="count"):
    """Tree sizes must be powers of two: for other sizes mam.client.js 0.7.3 panics and mam.js signs messages whose
    last leaf does not verify, so we refuse them."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count & (count - 1):
        raise InvalidValue("%s: expected a power of two (1, 2, 4, ...), got %r" % (field, count), field)
    return count


def tree_leaves(seed_ot, start, count, security):
    """Leaves (81-tryte strings) of the tree over key indices start .. start + count - 1."""
    curls = (Curl(27), Curl(27), Curl(27))
    out = []
    for i in range(count):
        out.append(otrits_to_trytes(leaf_address(seed_ot, start + i, security, curls)))
    return out


def tree_path(leaves, index):
    """(root, siblings of leaf ``index`` bottom up) of a power-of-two tree over ``leaves`` (81-tryte strings), as
    offset trits. Parent = Curl27(left | right). One pass with a stack of subtree roots: memory grows with the
    depth, not with the number of leaves."""
    c = Curl(27)
    stack = []  # (height, first leaf, node)
    siblings = []
    for i in range(len(leaves)):
        node = trytes_to_otrits(leaves[i], "leaves")
        height = 0
        first = i
        while stack and stack[-1][0] == height:
            _, left_first, left = stack.pop()
            size = 1 << height
            if left_first <= index < left_first + size:
                siblings.append(node)
            elif first <= index < first + size:
                siblings.append(left)
            node = hash_pair(c, left, node)
            height += 1
            first = left_first
        stack.append((height, first, node))
    if len(stack) != 1:
        raise InvalidValue("leaves: expected a power-of-two count, got %d" % len(leaves), "leaves")
    return stack[0][2], siblings


def tree_root(leaves):
    """Root of a power-of-two tree over ``leaves`` (81-tryte strings), as trytes."""
    return otrits_to_trytes(tree_path(leaves, 0)[0])


def fold_siblings(leaf, buf, pos, count, index):
    """Root reached from ``leaf`` through ``count`` siblings at ``buf[pos:]``: at level b the node is the right
    child when bit b of ``index`` is set."""
    if _K_FOLD:
        return _K_FOLD(leaf, buf, pos, count, index)
    c = Curl(27)
    node = leaf
    for b in range(count):
        sib = memoryview(buf)[pos + HASH * b : pos + HASH * (b + 1)]
        if (index >> b) & 1:
            node = hash_pair(c, sib, node)
        else:
            node = hash_pair(c, node, sib)
    return node


def check_key(side_key):
    """A side key as 243 offset trits (trytes right-padded with 9 to 81, as mam.client.js and mam.js do)."""
    if side_key is None:
        return bytearray(_ZERO[0:HASH])
    side_key = check_trytes(side_key, "side_key")
    if len(side_key) > 81:
        raise InvalidTrytes("side_key: expected at most 81 trytes, got %d" % len(side_key), "side_key")
    return trytes_to_otrits(side_key + "9" * (81 - len(side_key)), "side_key")
