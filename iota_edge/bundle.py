"""Bundles: build, finalize (M-bug rule), sign and validate (spec sections 6.3, 6.4 and 7).

    >>> from iota_edge.bundle import prepare_transfer, validate_bundle, bundle_message
    >>> trytes = prepare_transfer(None, [{"address": addr, "tag": "SENSOR", "message": b'{"t": 21.5}'}],
    ...                           timestamp=1700000000)
    >>> validate_bundle(trytes)                        # None, or raises InvalidBundle(rule=..., index=...)
    >>> bundle_message(trytes)
    b'{"t": 21.5}'

The builder mirrors PyOTA's ProposedBundle: outputs in the given order (a long message spans as many zero-value
transactions as it needs, ceil(len / 2187) with at least one), then each input over ``security`` transactions, then
the remainder; input and remainder transactions carry the last non-empty output tag. The list returned is ordered by
current_index (tail first); PoW and attachment happen later (iota_edge.pow.attach_to_tangle or a node).
"""

from iota_edge import _native
from iota_edge.errors import InvalidBundle, InvalidValue, IotaEdgeError
from iota_edge.kerl import kerl_hash
from iota_edge.signing import (
    FRAGMENT_TRYTES,
    check_address,
    check_index,
    check_security,
    check_seed,
    generate_address,
    normalize,
    sign,
    verify_signature,
)
from iota_edge.trinary import bytes_to_trytes, check_trytes, decode_message, int_to_trytes
from iota_edge.transaction import ESSENCE_END, ESSENCE_START, SPAN, SUPPLY, Transaction, _check_field

NULL_HASH = "9" * 81
_TOP_TRIT_ZERO = "9ABCDWXYZ"  # trytes -4..4: the ones whose third trit is 0


def bundle_hash(transactions):
    """Kerl hash of the essences of ``transactions`` taken in the order given (callers sort by current_index).
    One kerl_hash call, so the native kernel does it when built (finalize hashes a bundle a few hundred times)."""
    return kerl_hash("".join([tx.essence for tx in transactions]), 81)


_TRYTES = "NOPQRSTUVWXYZ9ABCDEFGHIJKLM"  # tryte values -13..13
_K_FINALIZE = getattr(_native, "bundle_finalize", None)  # CPython's kernel only (the MicroPython one has none)
_K_MESSAGE = getattr(_native, "bundle_message", None)  # the same: a whole one-transfer bundle in one call
_ETAG = (SPAN["obsolete_tag"][0] - ESSENCE_START, SPAN["obsolete_tag"][1] - ESSENCE_START)  # within an essence


def _increment_tag(tag):
    """obsolete_tag + 1 as a balanced ternary number, least significant tryte first, wrapping at 3**81 (the M-bug
    escape, spec 6.3): the first tryte below M goes up by one, the M's before it wrap to N."""
    for i in range(len(tag)):
        if tag[i] != "M":
            return "N" * i + _TRYTES[_TRYTES.index(tag[i]) + 1] + tag[i + 1:]
    return "N" * len(tag)


def finalize(transactions):
    """Write current/last indices and the bundle hash into ``transactions`` (a list, tail first, changed in place).

    While the normalized hash contains 13 the tail's obsolete_tag is incremented and the hash recomputed, as PyOTA,
    iota.js and entangled do. Returns the bundle hash.
    """
    if not transactions:
        raise InvalidValue("transactions: a bundle needs at least one transaction", "transactions")
    last = len(transactions) - 1
    for i, tx in enumerate(transactions):
        tx.current_index = i
        tx.last_index = last
    tag, h = _secure_hash([tx.essence for tx in transactions])
    transactions[0].obsolete_tag = tag
    for tx in transactions:
        tx.bundle = h
    return h


def _secure_hash(essences):
    """(tail obsolete_tag, bundle hash) of the essences (index order) once the M-bug loop is done. Only the tail's
    obsolete_tag changes from one try to the next: the essences are encoded once."""
    if _native.AVAILABLE and _K_FINALIZE is not None:  # the same loop in the C kernel (CPython)
        return _K_FINALIZE("".join(essences))
    head = essences[0]  # address 81, value 27, obsolete_tag 27, timestamp, current and last index
    prefix, tag, suffix = head[:_ETAG[0]], head[_ETAG[0]:_ETAG[1]], head[_ETAG[1]:]
    rest = "".join(essences[1:])
    while True:
        h = kerl_hash(prefix + tag + suffix + rest, 81)
        if 13 not in normalize(h):
            return tag, h
        tag = _increment_tag(tag)


def _zero_value_essences(pieces, timestamp):
    """(essences, bundle hash) of the bundle ``_zero_value_trytes`` builds: each transaction's 162 trytes from its
    address to its last_index, the tail's obsolete tag already the one that makes the hash secure."""
    ts = int_to_trytes(_check_field("timestamp", 9, "i", timestamp), 9)
    last = int_to_trytes(len(pieces) - 1, 9)
    nines = "9" * 27
    essences = [address + nines + tag + ts + int_to_trytes(i, 9) + last for i, (address, tag, _) in enumerate(pieces)]
    tail_tag, h = _secure_hash(essences)
    essences[0] = essences[0][:_ETAG[0]] + tail_tag + essences[0][_ETAG[1]:]
    return essences, h


def _zero_value_trytes(pieces, timestamp):
    """The trytes of a finalized bundle without inputs and without value, built as strings (what ``Transaction``
    objects would encode, without encoding and checking every field twice): ``pieces`` are checked
    (address, tag padded to 27, fragment) in index order."""
    essences, h = _zero_value_essences(pieces, timestamp)
    tail = h + "9" * 162  # bundle, then trunk and branch (not attached)
    end = "9" * 54  # after the tag: 3 timestamps of 0, nonce
    return ["".join((fragment, "9" * (FRAGMENT_TRYTES - len(fragment)), essence, tail, tag, end))
            for essence, (_, tag, fragment) in zip(essences, pieces)]


def _message_bundle(address, tag, message_trytes, timestamp):
    """``prepare_transfer(None, [{"address": address, "tag": tag, "message_trytes": message_trytes}],
    timestamp=timestamp)`` for arguments the caller has checked (an 81-tryte address, a tag of at most 27 trytes,
    message trytes): the bundle a gateway builds for a verified MAM payload, without checking them a second time."""
    tag += "9" * (27 - len(tag))
    if _native.AVAILABLE and _K_MESSAGE is not None:
        return _K_MESSAGE(address, tag, message_trytes, _check_field("timestamp", 9, "i", timestamp))
    return _zero_value_trytes(_message_pieces(address, tag, message_trytes), timestamp)


def _message_pieces(address, tag, message_trytes, fragments=True):
    """(address, tag, fragment) per transaction of a one-message bundle; ``fragments=False``: (address, tag, None),
    for a caller that reads the fragments from ``message_trytes`` in place (a device's heap)."""
    parts = max(1, (len(message_trytes) + FRAGMENT_TRYTES - 1) // FRAGMENT_TRYTES)
    return [(address, tag, message_trytes[p * FRAGMENT_TRYTES : (p + 1) * FRAGMENT_TRYTES] if fragments else None)
            for p in range(parts)]


def _field(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _message_trytes(transfer, i):
    message = _field(transfer, "message", b"")
    if message is None:
        return ""
    if isinstance(message, str):
        message = message.encode()
    if not isinstance(message, (bytes, bytearray)):
        raise InvalidValue("transfers[%d].message: expected bytes or str" % i, "message")
    trytes = _field(transfer, "message_trytes", None)
    if trytes is not None:
        if message:
            raise InvalidValue("transfers[%d]: give message or message_trytes, not both" % i, "message_trytes")
        return check_trytes(trytes, "transfers[%d].message_trytes" % i)
    return bytes_to_trytes(message)


def prepare_transfer(seed, transfers, inputs=(), remainder_address=None, security=2, timestamp=None):
    """Build, finalize and sign a bundle; return its unattached trytes ordered by current_index (tail first).

    ``transfers``: dicts (or objects) with ``address`` (81 or 90 trytes), ``value`` (default 0), ``tag`` (up to 27
    trytes) and ``message`` (bytes or str; or ``message_trytes``). ``inputs``: dicts with ``key_index`` and
    ``balance``, optionally ``security`` (default ``security``) and ``address`` (checked against the seed).
    ``seed`` may be None for a bundle without inputs. ``timestamp`` is in seconds (default: now).
    """
    if timestamp is None:
        import time

        timestamp = int(time.time())
    if not isinstance(transfers, (list, tuple)) or not transfers:
        raise InvalidValue("transfers: expected a non-empty list", "transfers")
    check_security(security)
    pieces = []  # (address, value, tag, fragment); a bundle without value is built from them as strings
    tag = ""
    total_out = 0
    for i, t in enumerate(transfers):
        address = check_address(_field(t, "address", None) or "", "transfers[%d].address" % i)
        value = _field(t, "value", 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SUPPLY:
            raise InvalidValue("transfers[%d].value: expected an int in 0..%d, got %r" % (i, SUPPLY, value), "value")
        t_tag = check_trytes(_field(t, "tag", "") or "", "transfers[%d].tag" % i)
        if len(t_tag) > 27:
            raise InvalidValue("transfers[%d].tag: expected at most 27 trytes, got %d" % (i, len(t_tag)), "tag")
        if t_tag.rstrip("9"):
            tag = t_tag
        message = _message_trytes(t, i)
        parts = max(1, (len(message) + FRAGMENT_TRYTES - 1) // FRAGMENT_TRYTES)
        padded = t_tag + "9" * (27 - len(t_tag))
        for p in range(parts):
            fragment = message[p * FRAGMENT_TRYTES : (p + 1) * FRAGMENT_TRYTES]
            pieces.append((address, value if p == 0 else 0, padded, fragment))
        total_out += value
    if not inputs and not total_out:  # messages only (a gateway's or a device's reading): no Transaction objects
        if len(transfers) == 1 and _native.AVAILABLE and _K_MESSAGE is not None:  # the whole bundle in the kernel
            return _message_bundle(address, padded, message, timestamp)
        return _zero_value_trytes([(a, t, f) for a, _, t, f in pieces], timestamp)
    txs = [Transaction(signature_message_fragment=f, address=a, value=v, obsolete_tag=t, tag=t, timestamp=timestamp)
           for a, v, t, f in pieces]

    total_in = 0
    signing = []  # (position of the first input tx, key index, security)
    if inputs:
        seed = check_seed(seed)
    for i, inp in enumerate(inputs):
        key_index = check_index(_field(inp, "key_index", None), "inputs[%d].key_index" % i)
        level = check_security(_field(inp, "security", security))
        balance = _field(inp, "balance", None)
        if not isinstance(balance, int) or isinstance(balance, bool) or not 0 < balance <= SUPPLY:
            raise InvalidValue("inputs[%d].balance: expected an int in 1..%d, got %r" % (i, SUPPLY, balance), "balance")
        address = generate_address(seed, key_index, level)
        given = _field(inp, "address", None)
        if given is not None and check_address(given, "inputs[%d].address" % i) != address:
            raise InvalidValue(
                "inputs[%d].address: does not belong to the seed at key_index %d, security %d" % (i, key_index, level),
                "address",
            )
        signing.append((len(txs), key_index, level))
        for p in range(level):
            txs.append(Transaction(address=address, value=-balance if p == 0 else 0, obsolete_tag=tag, tag=tag,
                                   timestamp=timestamp))
        total_in += balance

    if total_in < total_out and inputs:
        raise InvalidValue("inputs: balance %d is less than the %d sent" % (total_in, total_out), "inputs")
    if total_out and not inputs:
        raise InvalidValue("inputs: sending %d needs inputs" % total_out, "inputs")
    if total_in > total_out:
        if remainder_address is None:
            raise InvalidValue(
                "remainder_address: inputs exceed outputs by %d; give a fresh address for the change"
                % (total_in - total_out), "remainder_address")
        txs.append(Transaction(address=check_address(remainder_address, "remainder_address"),
                               value=total_in - total_out, obsolete_tag=tag, tag=tag, timestamp=timestamp))

    h = finalize(txs)
    for pos, key_index, level in signing:
        for f, fragment in enumerate(sign(seed, key_index, level, h)):
            txs[pos + f].signature_message_fragment = fragment
    return [tx.to_trytes() for tx in txs]


def _fail(message, rule, index=None):
    raise InvalidBundle(message, rule, index)


def _address_top_trit(address):
    v = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(address[80])
    v = v if v <= 13 else v - 27
    return (v + 13) // 9 - 1


def _decode(trytes_list):
    if isinstance(trytes_list, str) or not trytes_list:
        _fail("bundle: expected a non-empty list of transaction trytes", "shape")
    txs = []
    for i, trytes in enumerate(trytes_list):
        try:
            txs.append(Transaction.from_trytes(trytes))
        except IotaEdgeError as e:
            _fail("transaction %d: %s" % (i, e), "transaction", i)
    return txs


def decode_bundle(trytes_list):
    """Transactions of a bundle sorted by current_index; InvalidBundle(rule='transaction') names a bad entry."""
    txs = _decode(trytes_list)
    txs.sort(key=lambda tx: tx.current_index)
    return txs


def validate_bundle(trytes_list, hashes=None):
    """Check a bundle with the node's rules; raise InvalidBundle naming the rule and the transaction index.

    Rules (IRI BundleValidator): every entry is a transaction; indices are 0..last_index with one last_index;
    one bundle hash, equal to the Kerl hash of the essences; values within the supply and summing to zero;
    value-moving addresses have trit 242 zero; every input's signature verifies over its ``security`` transactions
    and each of its 243-trit segments has trit 242 zero (Kerl ignores that trit, so IRI accepts a signature with it
    flipped; every signer leaves it zero, and requiring that makes the signature non-malleable);
    once attached, each transaction's trunk is the hash of the next one and the rest have branch = head's trunk.
    ``hashes``: the transactions' Curl hashes in the order of ``trytes_list`` when the caller has them (a node that
    checked their weight), so the trunk rule does not hash them again.
    """
    raw = _decode(trytes_list)
    order = sorted(range(len(raw)), key=lambda k: raw[k].current_index)
    txs = [raw[k] for k in order]
    last = txs[0].last_index
    if len(txs) != last + 1:
        _fail("bundle: last_index says %d transactions, got %d" % (last + 1, len(txs)), "indices", 0)
    h = txs[0].bundle
    running = 0
    for i, tx in enumerate(txs):
        if tx.current_index != i:
            _fail("transaction %d: current_index %d where %d was expected" % (i, tx.current_index, i), "indices", i)
        if tx.last_index != last:
            _fail("transaction %d: last_index %d differs from the tail's %d" % (i, tx.last_index, last), "indices", i)
        if tx.bundle != h:
            _fail("transaction %d: bundle hash differs from the tail's" % i, "bundle_hash", i)
        if tx.value and _address_top_trit(tx.address):
            _fail("transaction %d: a value transaction's address must have trit 242 = 0" % i, "address", i)
        running += tx.value
        if not -SUPPLY <= running <= SUPPLY:
            _fail("transaction %d: running value sum leaves the supply range" % i, "value_sum", i)
    if running:
        _fail("bundle: values sum to %d, expected 0" % running, "value_sum")
    # the essences are read from the trytes as received (what bundle_hash would encode again from the fields)
    if kerl_hash("".join([trytes_list[k][ESSENCE_START:ESSENCE_END] for k in order]), 81) != h:
        _fail("bundle: bundle hash does not match the essences", "bundle_hash", 0)
    i = 0
    while i < len(txs):
        tx = txs[i]
        if tx.value >= 0:
            i += 1
            continue
        fragments = [tx.signature_message_fragment]
        j = i + 1
        while j < len(txs) and txs[j].address == tx.address and txs[j].value == 0:
            fragments.append(txs[j].signature_message_fragment)
            j += 1
        for f, fragment in enumerate(fragments):
            for top in range(80, len(fragment), 81):
                if fragment[top] not in _TOP_TRIT_ZERO:
                    _fail("transaction %d: signature segment %d has trit 242 set (Kerl ignores it, so it could be "
                          "changed at will; no signer produces it)" % (i + f, top // 81), "signature", i + f)
        if not verify_signature(tx.address, fragments, h):
            _fail("transaction %d: input signature does not verify" % i, "signature", i)
        i = j
    if any(tx.trunk != NULL_HASH or tx.branch != NULL_HASH for tx in txs):
        head = txs[-1]
        tx_hashes = [tx.hash for tx in txs] if hashes is None else [hashes[k] for k in order]
        for i in range(len(txs) - 1):
            if txs[i].trunk != tx_hashes[i + 1]:
                _fail("transaction %d: trunk is not the hash of transaction %d" % (i, i + 1), "trunk", i)
            if txs[i].branch != head.trunk:
                _fail("transaction %d: branch differs from the head's trunk" % i, "branch", i)


def bundle_message(trytes_list, address=None):
    """The message bytes a bundle carries to ``address`` (default: the tail's address): the fragments of its
    non-input transactions joined in index order, decoded like PyOTA (trailing 9s dropped)."""
    txs = decode_bundle(trytes_list)
    address = txs[0].address if address is None else check_address(address)
    parts = []
    in_input = None
    for tx in txs:
        if tx.value < 0:
            in_input = tx.address
            continue
        if tx.value == 0 and tx.address == in_input:
            continue  # a further signature fragment of the input above
        in_input = None
        if tx.address == address:
            parts.append(tx.signature_message_fragment)
    return decode_message("".join(parts))
