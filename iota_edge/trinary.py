"""Trinary codecs: trytes <-> trits, integers <-> trits/trytes, bytes <-> trytes (spec section 1).

    >>> from iota_edge.trinary import trytes_to_trits, trits_to_trytes, int_to_trytes, bytes_to_trytes
    >>> trytes_to_trits("A9")
    [1, 0, 0, 0, 0, 0]
    >>> int_to_trytes(-1, 3)
    'Z99'
    >>> bytes_to_trytes(b"Hello, IOTA!")
    'RBTC9D9DCDQAEASBYBCCKBFA'

Trits are little-endian (least significant first) ints in -1..1; trytes are strings over ``9A-Z``.
Every function here is pure and runs unchanged on CPython and MicroPython.
"""

from iota_edge.errors import InvalidTrits, InvalidTrytes, InvalidValue

ALPHABET = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALPHABET_BYTES = b"9ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Balanced value of each tryte character, and its three trits, indexed by ord(char) - 57 ('9').
_VALUE = {}
_TRITS = {}
for _i, _c in enumerate(ALPHABET):
    _v = _i if _i <= 13 else _i - 27
    _VALUE[_c] = _v
    _r = _v
    _t = []
    for _k in range(3):
        _d = _r % 3
        if _d == 2:
            _d = -1
        _t.append(_d)
        _r = (_r - _d) // 3
    _TRITS[_c] = tuple(_t)
del _i, _c, _v, _r, _t, _k, _d

try:  # CPython: validate with one C-level call (bytes.translate when the string is ASCII, several times faster)
    _DROP_ALPHABET = str.maketrans("", "", ALPHABET)

    def _invalid_chars(s):
        try:
            return s.encode("ascii").translate(None, _ALPHABET_BYTES).decode()
        except UnicodeError:
            return s.translate(_DROP_ALPHABET)

except AttributeError:  # MicroPython has no str.maketrans

    def _invalid_chars(s):
        for c in s:
            if c not in _VALUE:
                return c
        return ""


def is_trytes(s):
    """True when ``s`` is a str of tryte characters only (9A-Z; the empty string too)."""
    return isinstance(s, str) and not _invalid_chars(s)


def check_trytes(trytes, field="trytes", length=None, multiple=None):
    """Return ``trytes`` as a str after checking alphabet and length; raise InvalidTrytes naming ``field``.

    ``length`` requires an exact length, ``multiple`` a length that is a positive multiple of it.
    """
    if isinstance(trytes, (bytes, bytearray)):
        try:
            trytes = bytes(trytes).decode()
        except UnicodeError:
            raise InvalidTrytes("%s: expected trytes [9A-Z], got non-ASCII bytes" % field, field)
    elif not isinstance(trytes, str):
        raise InvalidTrytes("%s: expected a tryte string, got %s" % (field, type(trytes).__name__), field)
    if length is not None and len(trytes) != length:
        raise InvalidTrytes("%s: expected %d trytes, got %d" % (field, length, len(trytes)), field)
    if multiple is not None and (not trytes or len(trytes) % multiple):
        raise InvalidTrytes(
            "%s: expected a positive multiple of %d trytes, got %d" % (field, multiple, len(trytes)), field
        )
    bad = _invalid_chars(trytes)
    if bad:
        raise InvalidTrytes(
            "%s: expected only the tryte alphabet 9A-Z, found %r at position %d"
            % (field, bad[0], trytes.index(bad[0])),
            field,
        )
    return trytes


def check_seed(seed):
    """A seed as exactly 81 trytes (shorter ones right-padded with 9). The message never echoes the seed, nor the
    offending character (spec 5.1: longer seeds are not portable between the official libraries)."""
    if isinstance(seed, (bytes, bytearray)):
        seed = bytes(seed).decode()
    if not isinstance(seed, str):
        raise InvalidTrytes("seed: expected a tryte string of 1..81 trytes", "seed")
    if not 0 < len(seed) <= 81:
        raise InvalidTrytes("seed: expected 1..81 trytes, got %d" % len(seed), "seed")
    if _invalid_chars(seed):
        raise InvalidTrytes("seed: expected only the tryte alphabet 9A-Z (the seed is not shown)", "seed")
    return seed + "9" * (81 - len(seed))


def tryte_value(char):
    """Balanced value (-13..13) of one tryte character."""
    return _VALUE[char]


def trytes_to_trits(trytes):
    """Trits of a tryte string, 3 per tryte, little-endian."""
    trytes = check_trytes(trytes)
    out = []
    extend = out.extend
    table = _TRITS
    for c in trytes:
        extend(table[c])
    return out


def check_trits(trits, field="trits"):
    for t in trits:
        if t != 0 and t != 1 and t != -1:
            raise InvalidTrits("%s: expected trits in -1..1, found %r" % (field, t), field)


def trits_to_trytes(trits):
    """Tryte string of a trit sequence; a length that is not a multiple of 3 is padded with zero trits."""
    check_trits(trits)
    n = len(trits)
    out = []
    alphabet = ALPHABET
    for i in range(0, n - n % 3, 3):
        out.append(alphabet[(trits[i] + 3 * trits[i + 1] + 9 * trits[i + 2]) % 27])
    if n % 3:
        v = trits[n - n % 3]
        if n % 3 == 2:
            v += 3 * trits[n - 1]
        out.append(alphabet[v % 27])
    return "".join(out)


def _balanced_digits(n, base, count=None):
    """Balanced base-``base`` digits of ``n``, least significant first, up to its last non-zero digit (at most
    ``count``; callers pad), and what is left over (non-zero: it does not fit in ``count`` digits)."""
    half = base // 2
    out = []
    while n and (count is None or len(out) < count):
        d = n % base
        if d > half:
            d -= base
        out.append(d)
        n = (n - d) // base
    return out, n


def int_to_trits(n, length=None):
    """Balanced-ternary trits of ``n``; with ``length``, zero-padded at the high end (InvalidValue if it does not fit)."""
    if not isinstance(n, int):
        raise InvalidValue("value: expected an int, got %s" % type(n).__name__, "value")
    out, rest = _balanced_digits(n, 3, length)
    if rest:
        raise InvalidValue("value: %d does not fit in %d trits" % (n, length), "value")
    if length is not None:
        out += [0] * (length - len(out))
    return out


def trits_to_int(trits):
    """Integer value of balanced trits (index 0 least significant)."""
    v = 0
    for i in range(len(trits) - 1, -1, -1):
        v = v * 3 + trits[i]
    return v


def int_to_trytes(n, length, field="value"):
    """``n`` as exactly ``length`` trytes (zero-padded high end = trailing ``9``s)."""
    if not isinstance(n, int):
        raise InvalidValue("%s: expected an int, got %s" % (field, type(n).__name__), field)
    if 0 <= n <= 13 and length:  # indices of small bundles: one tryte
        return ALPHABET[n] + "9" * (length - 1)
    digits, rest = _balanced_digits(n, 27, length)  # up to the last non-zero digit: most fields are small
    if rest:
        raise InvalidValue("%s: %d does not fit in %d trytes" % (field, n, length), field)
    alphabet = ALPHABET
    return "".join([alphabet[d % 27] for d in digits]) + "9" * (length - len(digits))


def trytes_to_int(trytes):
    """Integer value of a tryte string (first tryte least significant)."""
    trytes = check_trytes(trytes)
    v = 0
    table = _VALUE
    for i in range(len(trytes) - 1, -1, -1):
        v = v * 27 + table[trytes[i]]
    return v


def add_trits(a, b):
    """Balanced-ternary sum of two trit sequences, as long as the longer one; the final carry is dropped."""
    n = max(len(a), len(b))
    out = [0] * n
    carry = 0
    for i in range(n):
        s = (a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) + carry
        carry = 0
        if s > 1:
            s -= 3
            carry = 1
        elif s < -1:
            s += 3
            carry = -1
        out[i] = s
    return out


def bytes_to_trytes(data):
    """Two trytes per byte, low base-27 digit first (the ASCII codec of PyOTA and iota.js)."""
    data = bytes(data)
    alphabet = _ALPHABET_BYTES
    out = bytearray(2 * len(data))  # one buffer, not a list of one-character strings: it matters on a device
    i = 0
    for b in data:
        out[i] = alphabet[b % 27]
        out[i + 1] = alphabet[b // 27]
        i += 2
    return out.decode()


# byte -> tryte value (0..26) for bytes.translate; None where bytes has no translate (MicroPython)
_VALUES = bytes(ALPHABET.index(chr(b)) if chr(b) in ALPHABET else 0 for b in range(256)) \
    if hasattr(bytes, "translate") else None


def trytes_to_bytes(trytes, field="trytes"):
    """Inverse of :func:`bytes_to_trytes`: even length required, every pair must decode to 0..255."""
    trytes = check_trytes(trytes, field)
    if len(trytes) % 2:
        raise InvalidTrytes("%s: expected an even number of trytes, got %d" % (field, len(trytes)), field)
    if _VALUES is not None:  # CPython: every tryte's value at once, then one pass over the pairs
        vals = trytes.encode().translate(_VALUES)
        try:
            return bytes([lo + 27 * hi for lo, hi in zip(vals[0::2], vals[1::2])])
        except ValueError:
            pass  # a pair above 255: the loop below names it
    out = bytearray(len(trytes) // 2)
    index = ALPHABET.index
    for i in range(0, len(trytes), 2):
        v = index(trytes[i]) + 27 * index(trytes[i + 1])
        if v > 255:
            raise InvalidTrytes(
                "%s: tryte pair %r at position %d decodes to %d, expected 0..255" % (field, trytes[i : i + 2], i, v),
                field,
            )
        out[i // 2] = v
    return bytes(out)


def decode_message(trytes, field="message"):
    """Bytes of a message fragment the way PyOTA reads it: trailing ``9``s dropped, odd length padded with one ``9``."""
    trytes = check_trytes(trytes, field)
    end = len(trytes)
    while end and trytes[end - 1] == "9":
        end -= 1
    trytes = trytes[:end]
    if end % 2:
        trytes += "9"
    return trytes_to_bytes(trytes, field)


def pad_trytes(trytes, length, field="trytes"):
    """Right-pad with ``9`` to ``length``; InvalidTrytes if longer."""
    trytes = check_trytes(trytes, field)
    if len(trytes) > length:
        raise InvalidTrytes("%s: expected at most %d trytes, got %d" % (field, length, len(trytes)), field)
    return trytes + "9" * (length - len(trytes))
