"""Prometheus text exposition (format 0.0.4) of the gateway, served over HTTP by the standard library.

    server = MetricsServer(gateway, "127.0.0.1", 9108).start()    # GET /metrics ; server.port if 0 was asked
    text = render(gateway.stats())                                 # the same text, without a server

Names (all prefixed ``iota_edge_gateway_``): ``outbox_items{state}``, ``outbox_bytes``, ``outbox_oldest_age_seconds``,
``outbox_events_total{event}`` (put, duplicates, seq_conflicts, refused, dropped, pruned, rejected),
``device_outbox_items{device,kind="pending"|"unacked"}``, ``device_backlog{device,stat}`` (the device's own
counters from its last heartbeat), ``rejects_total{reason}``, ``ingested_total``, ``accepted_total``,
``duplicates_total``, ``acked_total``, ``acks_sent_total``, ``pushed_back_total``, ``heartbeats_total``, ``deferred_total``,
``device_pow_redone_total`` (device-attached readings whose nonces fell short: the gateway did their PoW),
``transport_connected{transport}``, ``transport_events_total{transport,event}`` (serial garbage counters included),
and from the forwarder's ``stats()``: ``pow_seconds`` (a histogram when the forwarder gives ``pow_buckets``,
``pow_sum`` and ``pow_count``), ``confirmation_lag_seconds``, ``reattaches_total``, ``order_gaps_skipped_total``
(a device's seq attached after its hold for a missing lower one ran out), ``node_up``, ``breaker_open``, plus every
other numeric forwarder stat as ``forwarder_<name>`` (``forwarder_order_held``: devices waiting for a missing seq).
"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

P = "iota_edge_gateway_"


def _esc(v):
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v):
    if isinstance(v, bool):
        return str(int(v))
    return repr(float(v)) if isinstance(v, float) else str(int(v))


class _Out:
    def __init__(self):
        self.lines = []
        self._typed = set()

    def add(self, name, value, kind="gauge", help_=None, family=None, **labels):
        if value is None or not isinstance(value, (int, float)):
            return
        full = P + name
        fam = P + (family or name)  # a histogram's _bucket/_sum/_count samples share the family's TYPE line
        if fam not in self._typed:
            self._typed.add(fam)
            if help_:
                self.lines.append("# HELP %s %s" % (fam, help_))
            self.lines.append("# TYPE %s %s" % (fam, kind))
        lab = ",".join('%s="%s"' % (k, _esc(v)) for k, v in labels.items())
        self.lines.append("%s%s %s" % (full, "{%s}" % lab if lab else "", _num(value)))

    def text(self):
        return "\n".join(self.lines) + "\n"


def render(stats):
    """Prometheus text of ``Gateway.stats()``."""
    out = _Out()
    box = stats.get("outbox") or {}
    for state, n in sorted((box.get("depth") or {}).items()):
        out.add("outbox_items", n, help_="items not yet acknowledged to their device, by state", state=state)
    out.add("outbox_bytes", box.get("bytes"), help_="bytes (one per tryte) of those items")
    out.add("outbox_oldest_age_seconds", box.get("oldest_age") or 0, help_="age of the oldest unconfirmed item")
    for event, n in sorted((box.get("counters") or {}).items()):
        out.add("outbox_events_total", n, "counter", "outbox counters", event=event)
    for device, d in sorted((box.get("devices") or {}).items()):
        out.add("device_outbox_items", d.get("pending"), help_="per device: unconfirmed and confirmed-unacked",
                device=device, kind="pending")
        out.add("device_outbox_items", d.get("unacked"), device=device, kind="unacked")
    for device, hb in sorted((stats.get("heartbeats") or {}).items()):
        for stat, v in sorted(hb["stats"].items()):
            out.add("device_backlog", v, help_="the device's own counters from its last heartbeat", device=device,
                    stat=stat)
    for reason, n in sorted((stats.get("rejects") or {}).items()):
        out.add("rejects_total", n, "counter", "rejected inputs by reason", reason=reason)
    for name, n in sorted((stats.get("counters") or {}).items()):
        out.add(name + "_total", n, "counter")
    for tname, ts in sorted((stats.get("transports") or {}).items()):
        out.add("transport_connected", ts.get("connected"), help_="1 while the transport is up", transport=tname)
    for tname, ts in sorted((stats.get("transports") or {}).items()):
        for event, n in sorted(ts.items()):
            if event != "connected":
                out.add("transport_events_total", n, "counter", transport=tname, event=event)
    _forwarder(out, stats.get("forwarder") or {})
    return out.text()


_FWD = {"confirmation_lag": "confirmation_lag_seconds", "reattaches": "reattaches_total", "node_up": "node_up",
        "breaker_open": "breaker_open"}


def _forwarder(out, fwd):
    buckets = fwd.get("pow_buckets")  # {upper bound seconds: cumulative count}
    if isinstance(buckets, dict):
        for le, n in sorted(buckets.items(), key=lambda kv: float(kv[0])):
            out.add("pow_seconds_bucket", n, "histogram", "Proof-of-Work latency per bundle", "pow_seconds",
                    le=_num(float(le)))
        out.add("pow_seconds_bucket", fwd.get("pow_count"), family="pow_seconds", le="+Inf")
        out.add("pow_seconds_sum", fwd.get("pow_sum"), family="pow_seconds")
        out.add("pow_seconds_count", fwd.get("pow_count"), family="pow_seconds")
    for key, value in sorted(fwd.items()):
        if key in ("pow_buckets", "pow_sum", "pow_count"):
            continue
        if key == "breaker" and isinstance(value, str):
            out.add("breaker_open", int(value != "closed"))
        elif key == "order_gaps_skipped":
            out.add("order_gaps_skipped_total", value, "counter",
                    "readings attached after their hold for a missing lower seq of their device ran out")
        elif isinstance(value, (int, float)):
            out.add(_FWD.get(key, "forwarder_" + key), value)


class MetricsServer:
    """``GET /metrics`` on (host, port) in a daemon thread; port 0 picks a free one (``.port``)."""

    def __init__(self, gateway, host="127.0.0.1", port=9108):
        gw = gateway

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = render(gw.stats()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # request lines are not gateway events
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="gateway metrics", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
