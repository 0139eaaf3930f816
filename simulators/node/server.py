"""The node: IRI HTTP API on a ThreadingHTTPServer, SQLite storage, coordinator; a context manager for tests.

    with Node(db=str(tmp_path / "node.db"), mwm=9, snapshot={"ADDR...": 1000}, milestone_interval=0.5) as node:
        NodeClient(node.url).get_node_info()
        node.issue_milestone()          # confirm what is attached now, without waiting for the next tick

``port=0`` picks a free ephemeral port (``node.port``, ``node.url``). Transport rules of spec section 8.1: POST a JSON
object with ``command``; the ``X-IOTA-API-Version`` header is required; every answer carries ``duration`` (ms).
"""

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from iota_edge.errors import InvalidValue

from simulators.node import snapshot as snapshots
from simulators.node.api import MAX_BODY, Api
from simulators.node.coordinator import COORDINATOR_ADDRESS, Coordinator
from simulators.node.errors import ApiError
from simulators.node.storage import Store
from simulators.node.tangle import Tangle
from simulators.node.work import attach_function, nonce_function


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "iota-edge-node"
    wbufsize = -1  # headers and body leave in one write (two small writes meet Nagle + delayed ACK: 40 ms)
    disable_nagle_algorithm = True
    timeout = 120  # seconds a connection may sit idle (keep-alive) or stall mid-body before its thread gives up

    def do_POST(self):
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the body stays unread
            return self._send(400, {"error": "Request too long"}, started)
        body = self.rfile.read(length).decode("utf-8", "replace")
        status, answer = self.server.node.process(self.headers, body)
        self._send(status, answer, started)

    def do_GET(self):
        started = time.monotonic()
        status, answer = self.server.node.process(self.headers, "")
        self._send(status, answer, started)

    def do_OPTIONS(self):
        self.send_response(200)
        self.send_header("Allow", "GET,HEAD,POST,OPTIONS")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers",
                         "Origin, X-Requested-With, Content-Type, Accept, X-IOTA-API-Version")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status, answer, started):
        answer["duration"] = int((time.monotonic() - started) * 1000)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        if not self.server.node.quiet:
            BaseHTTPRequestHandler.log_message(self, format, *args)


class Node:
    """A validating legacy node on ``host:port`` with its state in the SQLite file ``db`` (":memory:" for none).

    ``mwm``: minimum weight magnitude of stored transactions (attachToTangle works at least this hard).
    ``snapshot``: genesis balances, a JSON file path or a dict {address: balance}, read when the database is new.
    ``snapshot_time``: seconds; older timestamps are refused (spec section 2).
    ``milestone_interval``: seconds between coordinator ticks; 0 or None issues milestones only on
    :meth:`issue_milestone`. ``seed``: tip-selection randomness (tests). ``pow_threads``: threads for PoW.
    ``on_insert``: called after every row written (fault-injection tests only).
    """

    def __init__(self, db=":memory:", *, host="127.0.0.1", port=0, mwm=9, snapshot=None, snapshot_time=0,
                 milestone_interval=1.0, seed=None, pow_threads=None, quiet=True, on_insert=None):
        if not isinstance(mwm, int) or not 1 <= mwm <= 243:
            raise InvalidValue("mwm: expected an int in 1..243, got %r" % (mwm,), "mwm")
        self.db = db
        self.host = host
        self.port = port
        self.mwm = mwm
        self.snapshot = snapshot
        self.snapshot_time = snapshot_time
        self.milestone_interval = milestone_interval
        self.seed = seed
        self.pow_threads = pow_threads
        self.quiet = quiet
        self.on_insert = on_insert
        self.store = self.tangle = self.api = self.coordinator = self.httpd = None
        self._thread = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def _open_store(self):
        store = Store(self.db, self.on_insert)
        try:
            stored = store.meta("snapshot")
            if stored is None:
                balances = snapshots.load_snapshot(self.snapshot)
                with store.transaction():
                    store.load_snapshot(balances)
                    store.set_meta("snapshot", snapshots.digest(balances))
            elif self.snapshot is not None:
                if snapshots.digest(snapshots.load_snapshot(self.snapshot)) != stored:
                    raise InvalidValue("snapshot: differs from the one %s was created with" % self.db, "snapshot")
        except BaseException:
            store.close()
            raise
        return store

    def start(self):
        self.store = self._open_store()
        try:
            self._start_services()
        except BaseException:
            self.close()
            raise
        return self

    def _start_services(self):
        self.tangle = Tangle(self.store, self.mwm, self.snapshot_time)
        self.coordinator = Coordinator(self.tangle, self.milestone_interval, pow=nonce_function(self.pow_threads),
                                       mwm=self.mwm)
        self.coordinator.genesis()
        self.api = Api(self.tangle, COORDINATOR_ADDRESS, attach=attach_function(self.pow_threads),
                       rng=random.Random(self.seed))
        self.httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.node = self
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="node-http", daemon=True)
        self._thread.start()
        if self.milestone_interval:
            self.coordinator.start()

    def process(self, headers, body):
        """(HTTP status, answer without duration) for one request."""
        if "X-IOTA-API-Version" not in headers:
            return 400, {"error": "Invalid API Version"}
        try:
            request = json.loads(body)
        except ValueError as e:
            return 400, {"error": "Invalid JSON syntax: %s" % e}
        if not isinstance(request, dict):
            return 400, {"error": "Invalid request payload: '%s'" % body[:200]}
        try:
            return 200, self.api.dispatch(request)
        except ApiError as e:
            return e.status, {e.key: str(e)}
        except Exception as e:  # an unexpected failure is IRI's ExceptionResponse, not a dropped connection
            if not self.quiet:
                import traceback

                traceback.print_exc()
            return 500, {"exception": "%s: %s" % (type(e).__name__, e)}

    def issue_milestone(self):
        """Confirm every unconfirmed tip now; returns the latest milestone index."""
        self.coordinator.issue()
        return self.tangle.latest_milestone()[0]

    def close(self):
        if self.coordinator is not None:
            self.coordinator.stop()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        if self.httpd is not None:
            self.httpd.server_close()
        if self.tangle is not None:
            with self.tangle.lock:  # no request is inside the database when it closes
                self.store.close()
        elif self.store is not None:
            self.store.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
