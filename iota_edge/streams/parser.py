"""Parse and verify a MAM v0 payload: unmask, check the nonce, the signature and the Merkle path (spec section 9.3).

    >>> from iota_edge.streams import parse_message
    >>> message_trytes, next_root = parse_message(payload, root)                  # public or private channel
    >>> message_trytes, next_root = parse_message(payload, root, side_key="KEY")  # restricted channel

Any failure raises InvalidMessage whose ``reason`` is ``decode`` (malformed payload), ``nonce`` (the rate has no
valid hamming weight), ``index`` (leaf position outside the tree its siblings describe) or ``signature`` (signature
and siblings do not lead to ``root``: tampered, wrong root or wrong side key).
"""

from iota_edge import _native
from iota_edge.curl import Curl
from iota_edge.errors import InvalidMessage, InvalidTrytes
from iota_edge.streams import mam
from iota_edge.trinary import check_trytes

HASH = mam.HASH
# CPython with the C kernel: the whole verification in one call (getattr: the MicroPython kernel has none). It
# refuses exactly what the code below refuses; that code then runs again to raise the precise InvalidMessage.
_K_PARSE = getattr(_native, "mam_parse", None)
# The same for a batch (parse_payloads): the payloads' sponges and Winternitz chains byte-sliced together.
_K_PARSE_MANY = getattr(_native, "mam_parse_many", None)


class ParsedMessage:
    """A verified message: ``message`` (trytes), ``next_root``, ``index`` (leaf position in its tree), ``security``
    and ``depth`` (number of siblings, so the tree has 2**depth leaves)."""

    def __init__(self, message, next_root, index, security, depth):
        self.message = message
        self.next_root = next_root
        self.index = index
        self.security = security
        self.depth = depth

    def __repr__(self):
        return "ParsedMessage(index=%d, security=%d, %d message trytes)" % (self.index, self.security,
                                                                              len(self.message))


def _fail(message, reason):
    raise InvalidMessage(message, reason)


def _checked(payload, root):
    """(payload, root) as tryte strings, or InvalidMessage: a bad character is a decode failure of the message."""
    try:
        return check_trytes(payload, "payload"), check_trytes(root, "root", length=81)
    except InvalidTrytes as e:
        raise InvalidMessage(str(e), "decode", e.field)


def parse_payload(payload, root, side_key=None):
    """Verify ``payload`` (trytes, trailing ``9`` padding allowed) against ``root``; return a ParsedMessage."""
    payload, root = _checked(payload, root)
    if _K_PARSE:
        found = _K_PARSE(payload, root, mam.check_key(side_key))
        if not found[0]:
            return ParsedMessage(*found[1:])
    return _parse_python(payload, root, side_key)


def _parse_python(payload, root, side_key):
    """parse_payload on checked ``payload`` and ``root``, in Python (the kernel refused, or there is none)."""
    buf = mam.trytes_to_otrits(payload, "payload")
    key = mam.check_key(side_key)
    end = len(buf)
    index, p = mam.pascal_decode(buf, 0, end)
    length, p_next = mam.pascal_decode(buf, p, end)
    if length % 3:
        _fail("message length %d trits is not a whole number of trytes" % length, "decode")
    p_msg = p_next + HASH
    p_nonce = p_msg + length
    p_rest = p_nonce + mam.NONCE
    if p_rest > end:
        _fail("payload of %d trits is shorter than its header says (%d)" % (end, p_rest), "decode")

    c = Curl(27)
    mam.absorb(c, key)
    mam.absorb(c, mam.trytes_to_otrits(root, "root"))
    mam.absorb(c, buf, 0, p_next)
    mam.unmask(c, buf, p_next, p_msg)
    mam.unmask(c, buf, p_msg, p_nonce)
    mam.unmask(c, buf, p_nonce, p_rest)
    hmac = bytes(c.state[0:HASH])
    security = mam.security_of(hmac)
    if not security:
        _fail("the message hash has no zero-sum prefix (bad nonce, or a wrong side key)", "nonce")
    # The rest (signature, sibling count, siblings, padding) is one masked stream; unmask all of it like mam.js.
    mam.unmask(c, buf, p_rest, end)
    p_count = p_rest + security * mam.FRAGMENT
    if p_count > end:
        _fail("payload ends inside the signature", "decode")
    depth, p_sib = mam.pascal_decode(buf, p_count, end)
    p_end = p_sib + HASH * depth
    if p_end > end:
        _fail("payload ends inside the siblings (%d announced)" % depth, "decode")
    if index >> depth:
        _fail("leaf index %d does not fit a tree of %d siblings" % (index, depth), "index")
    # What follows the siblings was never masked: zero trits padding to a whole tryte (and 9s from the bundle).
    raw = mam.trytes_to_otrits(payload[p_end // 3 :], "payload")
    for i in range(p_end - 3 * (p_end // 3), len(raw)):
        if raw[i] != 1:
            _fail("non-zero trits after the siblings", "decode")
    leaf = mam.leaf_of_signature(hmac, buf, p_rest, security)
    node = mam.fold_siblings(leaf, buf, p_sib, depth, index)
    if mam.otrits_to_trytes(node) != root:
        _fail("signature and siblings do not lead to the root", "signature")
    return ParsedMessage(
        mam.otrits_to_trytes(buf, p_msg, p_nonce), mam.otrits_to_trytes(buf, p_next, p_msg), index, security, depth
    )


def parse_payloads(items):
    """Verify a batch: ``items`` is a list of (payload, root, side_key); element i of the result is what
    ``parse_payload(*items[i])`` returns, or the InvalidMessage it would raise (returned, not raised). With the C
    kernel the whole batch is one call whose Curl work runs byte-sliced across payloads (several times faster than
    one by one); elsewhere (MicroPython, ``IOTA_EDGE_PURE=1``) it is parse_payload item by item."""
    if not _K_PARSE_MANY:
        out = []
        for payload, root, side_key in items:
            try:
                out.append(parse_payload(payload, root, side_key))
            except InvalidMessage as e:
                out.append(e)
        return out
    out = [None] * len(items)
    todo = []  # (position, payload, root, side_key) that reach the kernel
    no_key = None  # the zero key of every item without a side key: one object, converted once by the kernel call
    for i, (payload, root, side_key) in enumerate(items):
        try:
            payload, root = _checked(payload, root)
        except InvalidMessage as e:
            out[i] = e
            continue
        if side_key is None:
            no_key = no_key or mam.check_key(None)
            key = no_key
        else:
            key = mam.check_key(side_key)
        todo.append((i, payload, root, side_key, key))
    found = _K_PARSE_MANY([(payload, root, key) for _, payload, root, _, key in todo])
    for (i, payload, root, side_key, _), f in zip(todo, found):
        if not f[0]:
            out[i] = ParsedMessage(*f[1:])
            continue
        try:  # refused: the Python path gives the exact InvalidMessage
            out[i] = _parse_python(payload, root, side_key)
        except InvalidMessage as e:
            out[i] = e
    return out


def parse_message(payload, root, side_key=None):
    """Verify and decrypt a payload; return (message_trytes, next_root). Raises InvalidMessage saying why."""
    m = parse_payload(payload, root, side_key)
    return m.message, m.next_root
