"""Per-transaction and per-bundle rules the node applies on store (spec sections 2, 3.4, 6.4 and 7.2).

    tx = parse_transaction(trytes, mwm=9, now_ms=now)      # Refused naming the broken rule
    check_bundle(chain)                                     # chain: parsed transactions, tail first
    deltas, spends = bundle_deltas(chain)                   # {address: value moved}, {spent addresses}

Pure functions: time and the node's minimum weight magnitude are arguments.
"""

from iota_edge.bundle import validate_bundle
from iota_edge.curl import curl_hash, trailing_zeros
from iota_edge.errors import IotaEdgeError
from iota_edge.transaction import Transaction

from simulators.node.errors import Refused

NULL_HASH = "9" * 81
MAX_FUTURE_MS = 2 * 3600 * 1000  # IRI TransactionValidator: at most two hours ahead of the node's clock
_TRYTE_VALUE = {c: (i if i <= 13 else i - 27) for i, c in enumerate("9ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_FIELDS = ("address", "value", "obsolete_tag", "timestamp", "current_index", "last_index", "bundle", "trunk",
           "branch", "tag", "attachment_timestamp")


class Parsed:
    """A decoded incoming transaction with its trytes, hash and weight."""

    __slots__ = ("trytes", "hash", "weight") + _FIELDS

    def __init__(self, trytes, tx, h):
        self.trytes = trytes
        self.hash = h
        self.weight = trailing_zeros(h)
        for name in _FIELDS:
            setattr(self, name, getattr(tx, name))


def _top_trit(tryte):
    return (_TRYTE_VALUE[tryte] + 13) // 9 - 1


def parse_transaction(trytes, mwm, now_ms, snapshot_time=0, position=0):
    """Decode and check one transaction (IRI TransactionValidator.runValidation); Refused says which rule broke."""
    try:
        tx = Transaction.from_trytes(trytes)
    except IotaEdgeError as e:
        raise Refused("Invalid trytes input: transaction %d: %s" % (position, e))
    p = Parsed(trytes, tx, curl_hash(trytes))
    if p.weight < mwm:
        raise Refused("Invalid trytes input: transaction %d: weight magnitude %d is below the minimum %d"
                      % (position, p.weight, mwm))
    if p.attachment_timestamp == 0:
        ok = snapshot_time <= p.timestamp <= (now_ms + MAX_FUTURE_MS) // 1000
        what = "timestamp %d s" % p.timestamp
    else:
        ok = snapshot_time * 1000 <= p.attachment_timestamp <= now_ms + MAX_FUTURE_MS
        what = "attachment timestamp %d ms" % p.attachment_timestamp
    if not ok:
        raise Refused("Invalid trytes input: transaction %d: invalid timestamp (%s is before the snapshot or more "
                      "than 2 hours ahead)" % (position, what))
    if p.value != 0 and _top_trit(p.address[80]):
        raise Refused("Invalid trytes input: transaction %d: a value transaction's address must have trit 242 = 0"
                      % position)
    if p.current_index > p.last_index:
        raise Refused("Invalid trytes input: transaction %d: current index %d above last index %d"
                      % (position, p.current_index, p.last_index))
    return p


def check_bundle(chain):
    """The bundle rules (iota_edge.bundle.validate_bundle: indices, value sum, bundle hash, signatures, trunk and
    branch links) on a complete chain walked from its tail; Refused names the rule."""
    try:
        validate_bundle([tx.trytes for tx in chain], [tx.hash for tx in chain])
    except IotaEdgeError as e:
        raise Refused("Invalid trytes input: bundle %s: %s (rule %s)" % (chain[0].bundle, e, getattr(e, "rule", "?")))


def bundle_deltas(chain):
    """({address: summed value}, {addresses spent from}) of a bundle; both empty for a zero-value bundle."""
    deltas = {}
    spends = set()
    for tx in chain:
        if tx.value:
            deltas[tx.address] = deltas.get(tx.address, 0) + tx.value
        if tx.value < 0:
            spends.add(tx.address)
    return deltas, spends
