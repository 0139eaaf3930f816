"""The genesis snapshot: a JSON object {address: balance} read once when a database is created.

    balances = load_snapshot("snapshot.json")      # or a dict, or None for an empty ledger
    digest(balances)                               # stored in the database; a different snapshot later is an error

Addresses are 81 trytes, or 90 with a checksum (checked, then dropped). Balances are non-negative integers (JSON
numbers or decimal strings) summing to at most the supply.
"""

import hashlib
import json

from iota_edge.errors import InvalidValue, IotaEdgeError
from iota_edge.signing import strip_checksum
from iota_edge.transaction import SUPPLY
from iota_edge.trinary import check_trytes


def load_snapshot(source):
    """{address: balance} from a file path, a dict or None; InvalidValue (field 'snapshot') names the bad entry."""
    if source is None:
        return {}
    if isinstance(source, dict):
        raw = source
    elif not isinstance(source, (str, bytes)) and not hasattr(source, "__fspath__"):
        raise InvalidValue("snapshot: expected a file path or a dict, got %s" % type(source).__name__, "snapshot")
    else:
        try:
            with open(source) as f:
                raw = json.load(f)
        except (OSError, ValueError) as e:
            raise InvalidValue("snapshot: cannot read %s (%s)" % (source, e), "snapshot")
    if not isinstance(raw, dict):
        raise InvalidValue("snapshot: expected a JSON object {address: balance}", "snapshot")
    out = {}
    for address, balance in raw.items():
        try:
            address = check_trytes(address, "snapshot address")
            if len(address) == 90:
                address = strip_checksum(address)
            elif len(address) != 81:
                raise InvalidValue("snapshot: address %r: expected 81 trytes (or 90 with checksum)" % address)
        except IotaEdgeError as e:
            raise InvalidValue("snapshot: %s" % e, "snapshot")
        if isinstance(balance, str) and balance.isdigit():
            balance = int(balance)
        if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
            raise InvalidValue("snapshot: balance of %s: expected a non-negative integer, got %r" % (address, balance),
                               "snapshot")
        out[address] = out.get(address, 0) + balance
    if sum(out.values()) > SUPPLY:
        raise InvalidValue("snapshot: balances sum to more than the supply %d" % SUPPLY, "snapshot")
    return {a: b for a, b in out.items() if b}


def digest(balances):
    """SHA-256 of the canonical JSON of a loaded snapshot."""
    return hashlib.sha256(json.dumps(sorted(balances.items())).encode()).hexdigest()
