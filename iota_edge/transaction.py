"""Legacy transactions: the 2673-tryte layout, decode/encode, Curl-P-81 hash and weight (spec section 2).

    >>> from iota_edge.transaction import Transaction
    >>> tx = Transaction.from_trytes(trytes)              # 2673 trytes
    >>> tx.value, tx.current_index, tx.tag
    (1995, 0, 'MINEIOTADOTCOM9999999999999')
    >>> tx.hash, tx.weight                                 # Curl-P-81 hash, trailing zero trits
    >>> Transaction(address="A" * 81, value=0, tag="HELLO").to_trytes()

Transaction is a plain value object: fields are snake_case attributes, integers are ints, everything else trytes.
"""

from iota_edge.curl import curl_hash, trailing_zeros
from iota_edge.errors import InvalidTransaction, InvalidTrytes, InvalidValue
from iota_edge.trinary import check_trytes, int_to_trytes, trytes_to_int

TRANSACTION_TRYTES = 2673
FRAGMENT_TRYTES = 2187
SUPPLY = (3**33 - 1) // 2  # 2 779 530 283 277 761: the largest |value| in the 33 usable value trits
MAX_TIMESTAMP = (3**27 - 1) // 2  # 3 812 798 742 493: the largest 27-trit integer, IRI's upper bound default

# name, offset, length in trytes, kind ('t' trytes, 'i' integer); spec section 2 table.
LAYOUT = (
    ("signature_message_fragment", 0, 2187, "t"),
    ("address", 2187, 81, "t"),
    ("value", 2268, 27, "i"),
    ("obsolete_tag", 2295, 27, "t"),
    ("timestamp", 2322, 9, "i"),
    ("current_index", 2331, 9, "i"),
    ("last_index", 2340, 9, "i"),
    ("bundle", 2349, 81, "t"),
    ("trunk", 2430, 81, "t"),
    ("branch", 2511, 81, "t"),
    ("tag", 2592, 27, "t"),
    ("attachment_timestamp", 2619, 9, "i"),
    ("attachment_timestamp_lower_bound", 2628, 9, "i"),
    ("attachment_timestamp_upper_bound", 2637, 9, "i"),
    ("nonce", 2646, 27, "t"),
)
FIELDS = tuple([f[0] for f in LAYOUT])
SPAN = {f[0]: (f[1], f[1] + f[2]) for f in LAYOUT}  # field -> (start, end) in a transaction's trytes
ESSENCE_START = 2187
ESSENCE_END = 2349  # address, value, obsolete_tag, timestamp, current_index, last_index: 162 trytes
_USABLE_VALUE_TRYTES = 11  # 33 trits


def _check_field(name, length, kind, v):
    if kind == "t":
        v = check_trytes(v, name)
        if len(v) > length:
            raise InvalidTrytes("%s: expected at most %d trytes, got %d" % (name, length, len(v)), name)
        return v + "9" * (length - len(v))
    if not isinstance(v, int) or isinstance(v, bool):
        raise InvalidValue("%s: expected an int, got %s" % (name, type(v).__name__), name)
    if name == "value":
        if not -SUPPLY <= v <= SUPPLY:
            raise InvalidValue("value: expected |value| <= %d, got %d" % (SUPPLY, v), name)
    elif not -MAX_TIMESTAMP <= v <= MAX_TIMESTAMP:
        raise InvalidValue("%s: expected a 27-trit integer (|n| <= %d), got %d" % (name, MAX_TIMESTAMP, v), name)
    return v


def check_value_trytes(trytes):
    """``trytes`` (2673, alphabet checked) unless its value field uses trits 33..80 (InvalidTransaction)."""
    start, end = SPAN["value"]
    if trytes[start + _USABLE_VALUE_TRYTES : end] != "9" * (end - start - _USABLE_VALUE_TRYTES):
        raise InvalidTransaction("value: trits 33..80 must be zero (only 33 value trits are usable)", "value")
    return trytes


class Transaction:
    """One legacy transaction. Missing tryte fields default to all ``9``s, integers to 0."""

    # The LAYOUT fields, set with setattr below; declared here for type checkers (bare annotations compile to nothing)
    signature_message_fragment: str
    address: str
    value: int
    obsolete_tag: str
    timestamp: int
    current_index: int
    last_index: int
    bundle: str
    trunk: str
    branch: str
    tag: str
    attachment_timestamp: int
    attachment_timestamp_lower_bound: int
    attachment_timestamp_upper_bound: int
    nonce: str

    def __init__(
        self,
        signature_message_fragment="",
        address="",
        value=0,
        obsolete_tag="",
        timestamp=0,
        current_index=0,
        last_index=0,
        bundle="",
        trunk="",
        branch="",
        tag="",
        attachment_timestamp=0,
        attachment_timestamp_lower_bound=0,
        attachment_timestamp_upper_bound=0,
        nonce="",
    ):
        given = (
            signature_message_fragment, address, value, obsolete_tag, timestamp, current_index, last_index,
            bundle, trunk, branch, tag, attachment_timestamp, attachment_timestamp_lower_bound,
            attachment_timestamp_upper_bound, nonce,
        )
        for (name, _, length, kind), v in zip(LAYOUT, given):
            setattr(self, name, _check_field(name, length, kind, v))
        self._cache = None

    @classmethod
    def from_trytes(cls, trytes):
        """Decode 2673 trytes. Raises InvalidTrytes on shape, InvalidTransaction if value trits 33..80 are set."""
        trytes = check_value_trytes(check_trytes(trytes, "trytes", length=TRANSACTION_TRYTES))
        tx = cls()  # MicroPython has no __new__ on user classes
        for name, off, length, kind in LAYOUT:
            v = trytes[off : off + length]
            setattr(tx, name, trytes_to_int(v) if kind == "i" else v)
        tx._cache = (trytes, None)
        return tx

    def _encode(self, layout):
        parts = []
        for name, _, length, kind in layout:
            v = _check_field(name, length, kind, getattr(self, name))
            parts.append(int_to_trytes(v, length, name) if kind == "i" else v)
        return "".join(parts)

    def to_trytes(self):
        """Encode to 2673 trytes (fields are re-checked, so a bad assignment is reported by name)."""
        return self._encode(LAYOUT)

    @property
    def hash(self):
        """Curl-P-81 hash of the transaction trytes (81 trytes)."""
        trytes = self.to_trytes()
        if self._cache is None or self._cache[0] != trytes or self._cache[1] is None:
            self._cache = (trytes, curl_hash(trytes, 81))
        return self._cache[1]

    @property
    def weight(self):
        """Weight magnitude: trailing zero trits of the hash."""
        return trailing_zeros(self.hash)

    @property
    def essence(self):
        """The 162 essence trytes covered by the bundle hash (address .. last_index)."""
        return self._encode(LAYOUT[1:7])

    @property
    def is_tail(self):
        return self.current_index == 0

    def as_dict(self):
        """Fields as a plain dict (snake_case keys), plus ``hash``."""
        d = {}
        for name in FIELDS:
            d[name] = getattr(self, name)
        d["hash"] = self.hash
        return d

    def copy(self, **changes):
        """A new Transaction with some fields replaced."""
        values = {}
        for name in FIELDS:
            values[name] = getattr(self, name)
        values.update(changes)
        return Transaction(**values)

    def __eq__(self, other):
        return isinstance(other, Transaction) and self.to_trytes() == other.to_trytes()

    def __repr__(self):
        return "Transaction(hash=%s, current_index=%d, last_index=%d, value=%d)" % (
            self.hash, self.current_index, self.last_index, self.value
        )
