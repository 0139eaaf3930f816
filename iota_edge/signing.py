"""Seeds, addresses, checksums and Winternitz one-time signatures with Kerl (spec sections 5 and 6).

    >>> from iota_edge.signing import generate_address, add_checksum, sign, verify_signature
    >>> seed = "TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL"
    >>> generate_address(seed, 0, 2)[:9]
    'DLEIS9XU9'
    >>> fragments = sign(seed, 0, 2, bundle_hash)             # one 2187-tryte fragment per security level
    >>> verify_signature(generate_address(seed, 0, 2), fragments, bundle_hash)
    True

The seed and index are arguments; nothing is cached, and no error message ever contains a seed or key material.
Keys are chains of Kerl hashes kept as balanced integers (see kerl.py); trytes appear only at the edges.
"""

from iota_edge import _native
from iota_edge.errors import InvalidChecksum, InvalidSignature, InvalidTrytes, InvalidValue
from iota_edge.keccak import Keccak384, keccak384_48, keccak384_48_many
from iota_edge.kerl import bytes_to_int, flip, hash_int, int_to_bytes, int_to_trytes, kerl_hash, reduce, trytes_to_int
from iota_edge.trinary import check_seed, check_trytes, tryte_value
from iota_edge.trinary import trytes_to_int as full_trytes_to_int

FRAGMENT_SEGMENTS = 27
FRAGMENT_TRYTES = 2187
CHECKSUM_LENGTH = 9


def check_index(index, field="index"):
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidValue("%s: expected an int >= 0, got %r" % (field, index), field)
    return index


def check_security(security):
    if security not in (1, 2, 3) or isinstance(security, bool):
        raise InvalidValue("security: expected 1, 2 or 3, got %r" % (security,), "security")
    return security


def check_address(address, field="address"):
    """An address as 81 trytes; a 90-tryte address must carry a valid checksum, which is stripped."""
    address = check_trytes(address, field)
    if len(address) == 90:
        if kerl_hash(address[:81])[-CHECKSUM_LENGTH:] != address[81:]:
            raise InvalidChecksum("%s: checksum %s does not match the address" % (field, address[81:]), field)
        return address[:81]
    if len(address) != 81:
        raise InvalidTrytes("%s: expected 81 trytes (or 90 with checksum), got %d" % (field, len(address)), field)
    return address


# --- keys -------------------------------------------------------------------------------------------------------


def _subseed(seed, index):
    """Subseed of (seed, index) as a balanced integer: Kerl(seed + index), the addition wrapping at 243 trits."""
    return hash_int(reduce(full_trytes_to_int(seed) + index))


def _key_segments(seed, index, security):
    """The 27 * security private-key segments: Kerl absorb subseed, then that many squeezes (each with flip)."""
    d = keccak384_48(int_to_bytes(_subseed(seed, index)))
    out = []
    for _ in range(FRAGMENT_SEGMENTS * security):
        out.append(bytes_to_int(d))
        d = keccak384_48(flip(d))
    return out


def _chains(values, counts):
    """Hash values[i] counts[i] times with Kerl; the chains advance in lockstep, one wide Keccak per step."""
    values = list(values)
    steps = max(counts) if counts else 0
    for step in range(steps):
        active = [i for i in range(len(values)) if counts[i] > step]
        digests = keccak384_48_many([int_to_bytes(values[i]) for i in active])
        for i, d in zip(active, digests):
            values[i] = bytes_to_int(d)
    return values


def _digest(segments):
    """Kerl of 27 segment values (one sponge over 27 chunks), squeezed once."""
    k = Keccak384()
    for v in segments:
        k.update(int_to_bytes(v))
    return bytes_to_int(k.digest())


def _address_of_digests(digests):
    k = Keccak384()
    for v in digests:
        k.update(int_to_bytes(v))
    return bytes_to_int(k.digest())


def key_digests(seed, index, security=2):
    """The ``security`` 243-trit fragment digests of a key, as trytes (81 each, concatenated)."""
    seed = check_seed(seed)
    check_index(index)
    check_security(security)
    return "".join([int_to_trytes(d) for d in _digests(seed, index, security)])


def _digests(seed, index, security):
    ends = _chains(_key_segments(seed, index, security), [26] * (FRAGMENT_SEGMENTS * security))
    return [_digest(ends[FRAGMENT_SEGMENTS * f : FRAGMENT_SEGMENTS * (f + 1)]) for f in range(security)]


def generate_address(seed, index, security=2, checksum=False):
    """The address (81 trytes, or 90 with ``checksum=True``) of ``seed`` at ``index`` and ``security`` level."""
    seed = check_seed(seed)
    check_index(index)
    check_security(security)
    if _native.AVAILABLE:
        address = _native.generate_address(seed, index, security)
    else:
        address = int_to_trytes(_address_of_digests(_digests(seed, index, security)))
    return add_checksum(address) if checksum else address


def address_from_digests(digests):
    """Address of concatenated fragment digests (81 trytes each)."""
    digests = check_trytes(digests, "digests", multiple=81)
    return int_to_trytes(_address_of_digests([trytes_to_int(digests, o) for o in range(0, len(digests), 81)]))


# --- checksums --------------------------------------------------------------------------------------------------


def checksum(address):
    """The 9-tryte checksum of an 81-tryte address: the last 9 trytes of its Kerl hash."""
    address = check_trytes(address, "address", length=81)
    return kerl_hash(address)[-CHECKSUM_LENGTH:]


def add_checksum(address):
    """The 90-tryte form of an 81-tryte address."""
    address = check_trytes(address, "address", length=81)
    return address + checksum(address)


def is_valid_checksum(address):
    """True if a 90-tryte address carries the right checksum."""
    address = check_trytes(address, "address", length=90)
    return checksum(address[:81]) == address[81:]


def strip_checksum(address):
    """81-tryte address from a 90-tryte one, after checking the checksum (InvalidChecksum if it is wrong)."""
    return check_address(check_trytes(address, "address", length=90))


# --- signatures -------------------------------------------------------------------------------------------------


def normalize(bundle_hash):
    """Normalized bundle hash: 81 values in -13..13, each 27-tryte chunk summing to zero (spec 6.1)."""
    bundle_hash = check_trytes(bundle_hash, "bundle_hash", length=81)
    out = []
    for c in range(3):
        vals = [tryte_value(ch) for ch in bundle_hash[27 * c : 27 * c + 27]]
        s = sum(vals)
        while s > 0:
            for i in range(27):
                if vals[i] > -13:
                    vals[i] -= 1
                    break
            s -= 1
        while s < 0:
            for i in range(27):
                if vals[i] < 13:
                    vals[i] += 1
                    break
            s += 1
        out.extend(vals)
    return out


def is_secure_bundle_hash(bundle_hash):
    """False if the normalized hash has a 13 ('M'): signing it would reveal a raw key segment (spec 6.3)."""
    return 13 not in normalize(bundle_hash)


def sign(seed, index, security, bundle_hash):
    """Signature fragments (``security`` strings of 2187 trytes) of ``bundle_hash`` with the key at ``index``.

    Refuses an insecure bundle hash (normalized value 13), which every official client also refuses to sign.
    """
    seed = check_seed(seed)
    check_index(index)
    check_security(security)
    norm = normalize(bundle_hash)
    if 13 in norm:
        raise InvalidValue("bundle_hash: insecure (its normalized form contains 13); finalize the bundle again",
                           "bundle_hash")
    if _native.AVAILABLE:
        return _native.sign(seed, index, security, bundle_hash)
    return _sign_fragments(seed, index, security, norm)


def _sign_fragments(seed, index, security, norm):
    """Signature fragments for a normalized hash, without the insecure-hash check (known-answer tests use it)."""
    counts = []
    for f in range(security):
        counts.extend([13 - n for n in norm[27 * (f % 3) : 27 * (f % 3) + 27]])
    ends = _chains(_key_segments(seed, index, security), counts)
    return ["".join([int_to_trytes(v) for v in ends[27 * f : 27 * f + 27]]) for f in range(security)]


def fragment_digests(fragments, norm):
    """Digests (balanced ints) that signature fragments commit to; fragment f uses normalized chunk f mod 3."""
    values = []
    counts = []
    for f, fragment in enumerate(fragments):
        chunk = norm[27 * (f % 3) : 27 * (f % 3) + 27]
        values.extend([trytes_to_int(fragment, 81 * j) for j in range(27)])
        counts.extend([13 + n for n in chunk])
    ends = _chains(values, counts)
    return [_digest(ends[27 * f : 27 * f + 27]) for f in range(len(fragments))]


def verify_signature(address, fragments, bundle_hash):
    """True if ``fragments`` (fragment f signs normalized chunk f mod 3) sign ``bundle_hash`` for ``address``."""
    address = check_address(address)
    bundle_hash = check_trytes(bundle_hash, "bundle_hash", length=81)
    if isinstance(fragments, str) or not fragments:
        raise InvalidSignature("fragments: expected a non-empty list of 2187-tryte strings", "fragments")
    fragments = [check_trytes(f, "fragments", length=FRAGMENT_TRYTES) for f in fragments]
    if _native.AVAILABLE:
        return _native.verify_signature(address, fragments, bundle_hash)
    return int_to_trytes(_address_of_digests(fragment_digests(fragments, normalize(bundle_hash)))) == address
