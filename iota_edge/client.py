"""Client of a legacy node's IRI HTTP API (CPython only: stdlib http.client), spec section 8.

    from iota_edge.client import NodeClient
    node = NodeClient("http://127.0.0.1:14265")
    node.get_node_info()["latestMilestoneIndex"]
    attached = node.send(prepare_transfer(None, [{"address": addr, "message": b"21.5"}]), mwm=9)
    node.wait_confirmed([Transaction.from_trytes(attached[0]).hash], timeout=60)

Every IRI command is a method. Results are plain values (lists of hashes, trytes or booleans), the IRI dict for
getNodeInfo, or the small named tuples below. A node's error answer raises :class:`iota_edge.errors.NodeError` with
``status`` (HTTP status) and the node's message; it is never retried. Failing to reach the node (refused, reset,
timed out, dropped before an answer) is retried ``retries`` times with exponential backoff and jitter, then raises
:class:`iota_edge.errors.NodeUnreachable`. List parameters go in batches of 1000 as iota.js does (transaction
trytes in batches of 250, to stay under IRI's 1 MB body limit), and the answers are joined.

Connections are kept alive (HTTP/1.1), one per thread that calls: a gateway asks many small questions, and a new
TCP connection per call costs both ends more than the answer. A kept connection the node closed while idle is
reopened at once, without counting as a failed attempt.
"""

import collections
import http.client
import json
import random
import threading
import time
import urllib.parse

from iota_edge.errors import InvalidValue, NodeError, NodeUnreachable
from iota_edge.signing import strip_checksum

BATCH = 1000  # IRI --max-requests-list default; iota.js http-client batch size
TRYTES_BATCH = 250  # 250 * 2673 characters fit IRI's 1 000 000-character body limit
DEFAULT_MWM = 9  # testnets, devnets and this project's node (mainnet was 14)

TransactionsToApprove = collections.namedtuple("TransactionsToApprove", "trunk branch")
TransactionsToApprove.__doc__ = "getTransactionsToApprove: trunk and branch transaction hashes."
Balances = collections.namedtuple("Balances", "balances references milestone_index")
Balances.__doc__ = "getBalances: balances (ints, in the order asked), references (hashes), milestone_index."
Consistency = collections.namedtuple("Consistency", "state info")
Consistency.__doc__ = "checkConsistency: state (bool) and info (the node's reason when False)."


MAX_LINE = 65536  # longest status or header line accepted
MAX_HEADERS = 100


def _line(rfile):
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise http.client.LineTooLong("header line")
    return line


def _read_response(rfile):
    """(status, keep the connection, body) of one HTTP/1.x answer read from ``rfile``."""
    while True:
        line = _line(rfile)
        if not line:
            raise http.client.RemoteDisconnected("the node closed the connection without an answer")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise http.client.BadStatusLine(line[:100].decode("latin-1"))
        status = int(parts[1])
        fields = {}
        for _ in range(MAX_HEADERS + 1):
            h = _line(rfile)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        else:
            raise http.client.HTTPException("more than %d header lines" % MAX_HEADERS)
        if 100 <= status < 200:  # 100 Continue and the like: the real answer follows
            continue
        break
    connection = fields.get(b"connection", b"")
    keep = b"close" not in connection and (parts[0] != b"HTTP/1.0" or b"keep-alive" in connection)
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        chunks = []
        while True:
            size_line = _line(rfile)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise http.client.IncompleteRead(b"".join(chunks))
            if size == 0:
                while _line(rfile) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                break
            chunk = rfile.read(size)
            if len(chunk) < size:
                raise http.client.IncompleteRead(chunk)
            chunks.append(chunk)
            rfile.readline(3)  # the CRLF after the chunk
        return status, keep, b"".join(chunks)
    if b"content-length" in fields:
        try:
            n = int(fields[b"content-length"])
        except ValueError:
            raise http.client.HTTPException("Content-Length: %r" % fields[b"content-length"][:40])
        body = rfile.read(n)
        if len(body) < n:
            raise http.client.IncompleteRead(body, n - len(body))
        return status, keep, body
    if status in (204, 304):
        return status, keep, b""
    return status, False, rfile.read()  # delimited by the close


def _chunks(items, n):
    items = list(items)
    return [items[i : i + n] for i in range(0, len(items), n)] or [[]]


def _address(a):
    return strip_checksum(a) if isinstance(a, str) and len(a) == 90 else a


class NodeClient:
    """Talks to one node at ``url``. ``timeout`` (s) per HTTP request; ``retries`` extra attempts when the node
    cannot be reached, waiting ``backoff * 2**attempt`` seconds times a random factor in [0.5, 1.5)."""

    def __init__(self, url, *, timeout=30, retries=5, backoff=0.5, api_version="1"):
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.api_version = api_version
        self._rng = random.Random()
        self._sleep = time.sleep
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidValue("url: expected http://host[:port][/path] or https://..., got %r" % (url,), "url")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self._local = threading.local()  # this thread's kept-alive connection: (socket, its read file)
        default = 443 if parts.scheme == "https" else 80
        host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
        self._host_header = host if parts.port in (None, default) else "%s:%d" % (host, parts.port)

    # --- transport ----------------------------------------------------------------------------------------------

    def call(self, command, **params):
        """Send one command; return the node's JSON answer (a dict, ``duration`` included)."""
        payload = dict(params)
        payload["command"] = command
        return self._call_data(command, json.dumps(payload).encode())

    def _call_data(self, command, data):
        """``call`` with the request body already encoded."""
        attempt = 0
        while True:
            try:
                status, body = self._post(data)
            except (OSError, http.client.HTTPException) as e:  # refused, reset, timeout, bad status line
                if attempt >= self.retries:
                    raise NodeUnreachable("%s: no answer from %s after %d attempt(s): %s"
                                          % (command, self.url, attempt + 1, e), None, command)
                self._sleep(self.backoff * (2 ** attempt) * (0.5 + self._rng.random()))
                attempt += 1
                continue
            return self._decode(command, status, body)

    def _post(self, data):
        """(status, body) of one POST on this thread's kept connection; a kept connection that turns out closed
        by the node (it closes idle ones) is replaced once, at once.

        HTTP/1.1 by hand (a request line, four headers, the body; a status line, headers, a body by Content-Length,
        chunked or up to the close): http.client parses every answer's headers with the email package, which cost
        more than the gateway's own work per call."""
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = self._connect()
        sock, rfile = conn
        head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-IOTA-API-Version: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (self._path, self._host_header, self.api_version, len(data)))
        try:
            sock.sendall(head.encode("latin-1") + data)
            status, keep, body = _read_response(rfile)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close()
            if not reused:
                raise
            return self._post(data)  # fresh connection now, so no second retry from here
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body

    def _connect(self):
        import socket

        port = self._port or (443 if self._scheme == "https" else 80)
        sock = socket.create_connection((self._host, port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._scheme == "https":
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        self._local.conn = (sock, sock.makefile("rb"))
        return self._local.conn

    def close(self):
        """Close this thread's kept connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn[1].close()
            conn[0].close()

    def _decode(self, command, status, body):
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            raise NodeError("%s: HTTP %d, not a JSON object: %r" % (command, status, body[:200]), status, command)
        if status != 200:
            message = answer.get("error") or answer.get("exception") or json.dumps(answer)
            raise NodeError(message, status, command)
        return answer

    def _batched(self, command, key, values, size=BATCH, **params):
        return [self.call(command, **dict(params, **{key: part})) for part in _chunks(values, size)]

    # --- node ---------------------------------------------------------------------------------------------------

    def get_node_info(self):
        """IRI's getNodeInfo answer as a dict (appName, appVersion, latestMilestone, latestMilestoneIndex,
        latestSolidSubtangleMilestone(Index), time, tips, features, coordinatorAddress, ...)."""
        return self.call("getNodeInfo")

    def get_tips(self):
        return self.call("getTips")["hashes"]

    def get_transactions_to_approve(self, depth=3, reference=None):
        params = {"depth": depth}
        if reference is not None:
            params["reference"] = reference
        a = self.call("getTransactionsToApprove", **params)
        return TransactionsToApprove(a["trunkTransaction"], a["branchTransaction"])

    def attach_to_tangle(self, trunk, branch, mwm, trytes):
        """The node's Proof-of-Work: finished trytes, tail first (an empty list if it was interrupted)."""
        return self.call("attachToTangle", trunkTransaction=trunk, branchTransaction=branch,
                         minWeightMagnitude=mwm, trytes=list(trytes))["trytes"]

    def interrupt_attaching_to_tangle(self):
        self.call("interruptAttachingToTangle")

    def store_transactions(self, trytes):
        self._batched("storeTransactions", "trytes", trytes, TRYTES_BATCH)

    def broadcast_transactions(self, trytes):
        self._batched("broadcastTransactions", "trytes", trytes, TRYTES_BATCH)

    def store_and_broadcast(self, trytes):
        """storeTransactions then broadcastTransactions of each batch, as iota.js's storeAndBroadcast, with the
        trytes encoded once for both calls (JSON-encoding them cost as much as the rest of a call)."""
        for part in _chunks(trytes, TRYTES_BATCH):
            encoded = json.dumps(part).encode()
            for command in ("storeTransactions", "broadcastTransactions"):
                self._call_data(command, b'{"trytes": %s, "command": "%s"}' % (encoded, command.encode()))

    # --- queries ------------------------------------------------------------------------------------------------

    def find_transactions(self, addresses=None, bundles=None, tags=None, approvees=None):
        """Hashes matching every given list (union within a list). Longer lists than a batch are asked key by key
        and intersected here, as iota.js does."""
        keys = {}
        for name, values in (("addresses", addresses), ("bundles", bundles), ("tags", tags),
                             ("approvees", approvees)):
            if values is not None:
                keys[name] = [_address(v) for v in values] if name == "addresses" else list(values)
        if not keys:
            raise NodeError("findTransactions: give addresses, bundles, tags or approvees", None, "findTransactions")
        if all(len(v) <= BATCH for v in keys.values()):
            return self.call("findTransactions", **keys)["hashes"]
        result = None
        for name, values in keys.items():
            found = []
            for answer in self._batched("findTransactions", name, values):
                found.extend(answer["hashes"])
            if result is None:
                result = list(dict.fromkeys(found))
            else:
                found = set(found)
                result = [h for h in result if h in found]
        return result

    def get_trytes(self, hashes):
        """Trytes in the order asked; an unknown hash gives 2673 '9's."""
        return [t for a in self._batched("getTrytes", "hashes", hashes) for t in a["trytes"]]

    def get_inclusion_states(self, transactions, tips=None):
        """Whether each transaction is confirmed by a milestone. ``tips`` only for IRI <= 1.8.5, which needs them."""
        params = {} if tips is None else {"tips": list(tips)}
        return [s for a in self._batched("getInclusionStates", "transactions", transactions, **params)
                for s in a["states"]]

    def get_balances(self, addresses, tips=None, threshold=100):
        """Confirmed balances (ints). ``threshold`` is sent for IRI <= 1.8.5 (which needs 100); None omits it."""
        params = {}
        if tips is not None:
            params["tips"] = list(tips)
        if threshold is not None:
            params["threshold"] = threshold
        answers = self._batched("getBalances", "addresses", [_address(a) for a in addresses], **params)
        return Balances([int(b) for a in answers for b in a["balances"]], answers[0]["references"],
                        answers[0]["milestoneIndex"])

    def were_addresses_spent_from(self, addresses):
        return [s for a in self._batched("wereAddressesSpentFrom", "addresses", [_address(a) for a in addresses])
                for s in a["states"]]

    def check_consistency(self, tails):
        for answer in self._batched("checkConsistency", "tails", tails):
            if not answer["state"]:
                return Consistency(False, answer.get("info", ""))
        return Consistency(True, "")

    # --- high level ---------------------------------------------------------------------------------------------

    def send(self, bundle_trytes, depth=3, mwm=None, local_pow=True, *, attach=None):
        """Attach a finalized bundle and store it: getTransactionsToApprove(depth), Proof-of-Work (locally with
        iota_edge.pow, or the node's attachToTangle when ``local_pow`` is False), storeTransactions,
        broadcastTransactions. Returns the attached trytes, tail first. ``mwm`` defaults to 9. ``attach`` replaces
        iota_edge.pow.attach_to_tangle (same signature) for local PoW."""
        mwm = DEFAULT_MWM if mwm is None else mwm
        tips = self.get_transactions_to_approve(depth)
        if local_pow:
            if attach is None:
                from iota_edge.pow import attach_to_tangle as attach
            attached = list(attach(list(bundle_trytes), tips.trunk, tips.branch, mwm))
        else:
            attached = self.attach_to_tangle(tips.trunk, tips.branch, mwm, bundle_trytes)
        self.store_transactions(attached)
        self.broadcast_transactions(attached)
        return attached

    def wait_confirmed(self, tail_hashes, timeout):
        """Poll getInclusionStates until every hash is confirmed: True, or False once ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            if all(self.get_inclusion_states(tail_hashes)):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
