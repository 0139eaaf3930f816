"""What the node answers when a command fails, in IRI 1.8.6's two shapes (spec section 8.1).

    raise Refused("Invalid depth input")          # HTTP 400 {"error": ...}      (IRI ErrorResponse)
    raise BadParameter("Invalid addresses input") # HTTP 500 {"exception": ...}  (IRI >= 1.7 ValidationException)
"""

from iota_edge.errors import IotaEdgeError


class ApiError(IotaEdgeError):
    """A command failed; ``status`` and ``key`` give the HTTP status and the JSON key of the message."""

    status = 500
    key = "exception"


class Refused(ApiError):
    """The command was understood and refused: HTTP 400 ``{"error": ...}``."""

    status = 400
    key = "error"


class BadParameter(ApiError):
    """A parameter is missing or malformed: HTTP 500 ``{"exception": ...}`` as IRI >= 1.7 answers."""
