"""The iota_edge exception hierarchy: one root, a few leaves, single inheritance.

    from iota_edge.errors import IotaEdgeError, InvalidTrytes
    try:
        curl_hash("abc")
    except InvalidTrytes as e:
        print(e.field, e)       # field names the argument; the message says what was expected

Messages name the field and the expected shape. They never contain seeds or private keys.
"""


class IotaEdgeError(Exception):
    """Root of every error raised by iota_edge. ``field`` names the offending input when there is one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class InvalidTrytes(IotaEdgeError):
    """A tryte string has a character outside ``9A-Z`` or the wrong length."""


class InvalidTrits(IotaEdgeError):
    """A trit sequence has a value outside -1..1 or the wrong length."""


class InvalidValue(IotaEdgeError):
    """A number is out of range for its field (value, index, security level, MWM, ...)."""


class InvalidChecksum(IotaEdgeError):
    """An address checksum does not match the address."""


class InvalidTransaction(IotaEdgeError):
    """A transaction's trytes do not decode or violate a per-transaction rule."""


class InvalidBundle(IotaEdgeError):
    """A bundle breaks one of the node's rules. ``rule`` names it, ``index`` is the transaction index or None."""

    def __init__(self, message, rule, index=None):
        super().__init__(message, "bundle")
        self.rule = rule
        self.index = index


class InvalidSignature(IotaEdgeError):
    """A signature does not verify, or its fragments are malformed."""


class PowError(IotaEdgeError):
    """Proof-of-Work failed: cancelled, timed out, or given bad parameters."""


class PowCancelled(PowError):
    """The nonce search was cancelled or ran past its timeout."""


class InvalidMessage(IotaEdgeError):
    """A MAM message (or a reading inside one) fails to decode or verify. ``reason`` says which check failed:
    ``decode`` (malformed payload), ``nonce`` (hamming weight / security level), ``index`` (leaf position outside the
    tree the siblings describe), ``signature`` (signature and siblings do not lead to the root), ``bundle``
    (incomplete or inconsistent transactions) or ``reading`` (the sensor-reading encoding)."""

    def __init__(self, message, reason, field="payload"):
        super().__init__(message, field)
        self.reason = reason


class NodeError(IotaEdgeError):
    """A node answered a command with an error. ``status`` is the HTTP status (None when no answer came back),
    ``command`` the IRI command; the message is the node's own ``error`` or ``exception`` text."""

    def __init__(self, message, status=None, command=None):
        super().__init__(message, "command")
        self.status = status
        self.command = command


class NodeUnreachable(NodeError):
    """No answer from the node after every retry (connection refused, reset, timed out)."""
