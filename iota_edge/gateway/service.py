"""The gateway service: transports -> verification -> the durable outbox -> the forwarder, and acks back.

    from iota_edge.gateway.config import load_config
    from iota_edge.gateway.service import Gateway, run_gateway
    gw = Gateway(load_config("gateway.toml")).start()      # returns once the transports and threads run
    gw.stats()                                              # what the metrics endpoint shows, as a dict
    gw.stop()
    run_gateway("gateway.toml")                             # the same until SIGINT/SIGTERM (the CLI uses it)

Threads: each transport has its own (paho's network loop, one per serial port) and hands every message to the
ingestion thread, which alone owns the outbox connection, the verifier and the device state: decode, verify, build
the bundle, ``Outbox.put``, record the device's position, settle the message (MQTT PUBACK / serial frame ACK). It
takes the messages waiting in its inbox as a burst (up to BURST), checks the burst's signatures in one kernel call
(``Verifier.prepare``: their Curl work hashed side by side, about a fifth of the CPU of one by one) and stores the
burst's accepted readings with one outbox commit (one fsync: on an SD card that is what limits a gateway) and one
device-state commit, then settles them in arrival order; a reject, duplicate or heartbeat in between first commits
and settles the ones before it. The same thread sends acknowledgements when the outbox has confirmed (or, with
``ack_on = "stored"``, stored) items. The forwarder runs in its own thread with its own outbox connection on the
same file. Metrics are served by a fourth thread from snapshots, never by touching SQLite connections of other
threads.

Rejects (undecodable bytes, unknown devices, bad signatures, replays, a device id that differs from the MQTT topic,
an invalid device-attached bundle) are dead-lettered with their reason and answered with a ``rejected`` ack; they
never block the queue. An OutboxFull (policy ``refuse_new``) or storage failure pushes back: the message is not
acknowledged on its transport, so the broker (or the device over serial) keeps it and delivers it again.
"""
import collections
import os
import queue
import sqlite3
import threading
import time

from iota_edge import wire
from iota_edge.bundle import _message_bundle, validate_bundle
from iota_edge.curl import trailing_zeros
from iota_edge.errors import IotaEdgeError
from iota_edge.gateway.config import load_config
from iota_edge.gateway.log import EventLog
from iota_edge.gateway.outbox import ItemTooLarge, Outbox, OutboxFull, OutboxStorageError
from iota_edge.gateway.state import DeviceState
from iota_edge.gateway.transport import open_transport
from iota_edge.gateway.verify import Duplicate, Registry, Rejected, Unplaced, Verifier
from iota_edge.pow import attach_with_nonces
from iota_edge.streams.channel import channel_address
from iota_edge.transaction import SPAN, Transaction

TAG = "IOTAEDGE"
_BUNDLE = slice(*SPAN["bundle"])  # a transaction's bundle hash, in its trytes
HOLD_RETRY_S = 0.5  # how often messages held back by a full outbox are tried again
MAX_HELD = 1000  # past this, a push-back is settled at once (the transport redelivers it later)
ACK_BATCH = 500
_WAKE = object()  # put in the inbox by stop(): not a message
BURST = 256  # messages taken from the inbox before the periodic work; their accepted ones share one commit
STATS_S = 1.0


_Pending = collections.namedtuple("_Pending", "inbound up result saved bundle_hash trytes")  # verified, not stored


class GatewayError(IotaEdgeError):
    """The gateway cannot start or had to stop; the message names the part."""


class _BadBundle(Exception):
    """A device-attached bundle does not carry the verified message."""


def build_bundle(root, mode, payload, timestamp, tag=TAG):
    """The unattached bundle trytes (tail first) of one MAM message: deterministic, so a retransmission of the same
    signed message yields the same bundle hash (the outbox's idempotency key). ``payload`` is a verified MAM payload
    (trytes), ``tag`` at most 27 trytes: what prepare_transfer builds for them, without checking them again."""
    return _message_bundle(channel_address(root, mode), tag, payload, timestamp)


def device_attached_bundle(root, mode, payload, timestamp, attachment, mwm, tag=TAG):
    """The bundle a device attached itself, rebuilt from its wire ``attachment`` (trunk, branch, timestamp_ms, nonces):
    the message's bundle (``build_bundle``) attached with the device's nonces. Raise _BadBundle when a transaction's
    hash has less than ``mwm`` trailing zero trits: the node would refuse it, and nonces found for another bundle
    (another timestamp or tag) give no weight at all. The gateway then attaches the message itself."""
    trunk, branch, stamp, nonces = attachment
    try:
        trytes, hashes = attach_with_nonces(build_bundle(root, mode, payload, timestamp, tag), trunk, branch, stamp,
                                            nonces)
    except IotaEdgeError as e:
        raise _BadBundle("attachment: %s" % e)
    for i, h in enumerate(hashes):
        if trailing_zeros(h) < mwm:
            raise _BadBundle("attachment: transaction %d has weight %d with the device's nonce, under MWM %d"
                             % (i, trailing_zeros(h), mwm))
    return trytes


def check_device_bundle(trytes, root, mode, payload):
    """Raise _BadBundle unless ``trytes`` is a valid bundle carrying ``payload`` at the channel's address."""
    try:
        validate_bundle(trytes)
        txs = [Transaction.from_trytes(t) for t in trytes]
    except IotaEdgeError as e:
        raise _BadBundle("bundle: %s" % e)
    address = channel_address(root, mode)
    if any(tx.address != address for tx in txs):
        raise _BadBundle("bundle: not at the channel address of the signed message")
    carried = "".join(tx.signature_message_fragment for tx in txs).rstrip("9")
    if carried != payload.rstrip("9"):
        raise _BadBundle("bundle: its message is not the verified MAM payload")
    return txs[0].bundle


RESOLVE_INTERVAL = 2.0  # seconds between two node reads of one device's channel (shared subscriptions)


class Gateway:
    """The service. ``forwarder``: ``"auto"`` (iota_edge.gateway.forwarder.Forwarder, configured from [node]),
    a factory ``f(outbox, config, logger) -> object with run(stop) and stats()``, or None (ingest only).
    ``serial_opener`` replaces pyserial's serial_for_url (tests); ``log_stream`` where log lines go;
    ``transports``: more transport objects (the iota_edge.gateway.transport.Transport interface, each with its own
    ``name``) run beside the configured ones, e.g. a radio link of your own or the benchmark's in-process feed."""

    def __init__(self, config, *, forwarder="auto", serial_opener=None, log_stream=None, clock=time.time,
                 transports=()):
        self.config = config
        self.log = EventLog(config.log.level, config.log.format, stream=log_stream)
        self._forwarder_spec = forwarder
        self._serial_opener = serial_opener
        self._clock = clock
        self._inbox = queue.Queue()
        self._stop = threading.Event()
        self.failed = threading.Event()  # set when a gateway thread died; run_gateway exits non-zero
        self._ready = threading.Event()
        self._threads = []
        self._failure = None
        self.transports = [open_transport(t, self.log, serial_opener) for t in config.transports] + list(transports)
        self._by_name = {t.name: t for t in self.transports}
        self.forwarder = None
        self.metrics_server = None
        self._resolved = {}  # device -> (root asked from, when, roots): see _resolve_root
        self._counters = {"ingested": 0, "accepted": 0, "duplicates": 0, "acked": 0, "acks_sent": 0,
                          "pushed_back": 0, "heartbeats": 0, "deferred": 0, "device_pow_redone": 0}
        self._rejects = {}
        self._heartbeats = {}
        self._outbox_stats = None
        self._held = []
        self._group = []  # accepted messages of the current burst, stored together by _flush
        self._stored_acked = set()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self, timeout=30.0):
        """Open the outbox and state, start every thread; returns self once ingestion runs (raises what failed)."""
        if self._forwarder_spec == "auto":
            try:
                from iota_edge.gateway.forwarder import Forwarder  # noqa: F401  (fail here, not in a thread)
            except ImportError as e:
                raise GatewayError("forwarder: iota_edge.gateway.forwarder is not available (%s); run with "
                                   "forwarder=None (CLI: --ingest-only) to only collect" % e, "forwarder")
        if self.config.metrics_listen is not None:  # bind first: a taken port fails before anything runs
            from iota_edge.gateway.metrics import MetricsServer

            self.metrics_server = MetricsServer(self, *self.config.metrics_listen)
        os.makedirs(self.config.data_dir, exist_ok=True)
        self._spawn("ingest", self._ingest_main)
        if not self._ready.wait(timeout) or self._failure is not None:
            self.stop()
            raise self._failure or RuntimeError("gateway: ingestion did not start in %.0f s" % timeout)
        if self._forwarder_spec is not None:
            self._spawn("forwarder", self._forward_main)
        for t in self.transports:
            t.start(self._inbox.put)
        if self.metrics_server is not None:
            self.metrics_server.start()
        self.log.event("info", "gateway_started", gateway=self.config.gateway_id,
                       transports=[t.name for t in self.transports], db=self.config.db_path)
        return self

    def stop(self):
        self._stop.set()
        self._inbox.put(_WAKE)  # the ingestion thread may be asleep until its next periodic work
        for t in self.transports:
            t.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        for th in self._threads:
            th.join(10)
        self.log.event("info", "gateway_stopped", gateway=self.config.gateway_id)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, name, target):
        th = threading.Thread(target=target, name="gateway " + name, daemon=True)
        th.start()
        self._threads.append(th)

    def _open_outbox(self):
        o = self.config.outbox
        return Outbox(self.config.db_path, max_bytes=o.max_bytes, max_items=o.max_items, policy=o.policy)

    # -- the forwarder thread -------------------------------------------------------------------------------------

    def _make_forwarder(self, outbox):
        spec = self._forwarder_spec
        if spec == "auto":
            from iota_edge.gateway.forwarder import Forwarder

            n = self.config.node
            return Forwarder(outbox, n.url, mwm=n.mwm, pow=n.pow, workers=n.workers,
                             reattach_milestones=n.reattach_milestones, max_depth=n.max_depth, logger=self.log,
                             order_hold_s=n.order_hold_s)
        return spec(outbox, self.config, self.log)

    def _forward_main(self):
        try:
            with self._open_outbox() as outbox:
                self.forwarder = self._make_forwarder(outbox)
                self.forwarder.run(self._stop)
        finally:
            if not self._stop.is_set():  # the forwarder died: stop the gateway loudly rather than fill the outbox
                self.log.event("error", "forwarder_stopped")
                self.failed.set()

    # -- the ingestion thread -------------------------------------------------------------------------------------

    def _ingest_main(self):
        try:
            self._outbox = self._open_outbox()
            self._state = DeviceState(self.config.db_path, clock=self._clock)
            self._provisioned = {d: c["root"] for d, c in self.config.devices.items()}
            shared = any(getattr(t, "shared_group", None) for t in self.config.transports)
            self._verifier = Verifier(Registry(self._state.restore(self.config.devices)),
                                      resolve_root=self._resolve_root if shared else None)
            self._refresh_stats()
        except (IotaEdgeError, OSError) as e:
            self._failure = e
            self._ready.set()
            return
        self._ready.set()
        next_pump = next_stats = 0.0
        try:
            while not self._stop.is_set():
                # asleep until a message comes or the next periodic work is due: a wake without work takes the CPU
                # from the PoW worker that shares it (20 a second before, with a fixed 50 ms wait)
                burst = self._take_burst(max(0.0, min(next_pump, next_stats) - time.monotonic()))
                try:
                    for inbound, msg in zip(burst, self._prepare(burst)):
                        self._handle(inbound, msg=msg)
                finally:
                    self._verifier.prepared.clear()
                    self._flush()  # the burst's accepted messages: one outbox commit, then their settles
                now = time.monotonic()
                if now >= next_pump:
                    next_pump = now + 0.2
                    self._retry_held()
                    self._pump_acks()
                if now >= next_stats:  # Outbox.stats() groups over the whole backlog: once a second is enough
                    next_stats = now + STATS_S
                    self._refresh_stats()
        finally:
            if not self._stop.is_set():
                self.log.event("error", "ingestion_stopped")
                self.failed.set()
            for inbound in self._held + [p.inbound for p in self._group]:  # not kept: the transport redelivers
                inbound.settle(False)
            self._state.close()
            self._outbox.close()

    def _take_burst(self, wait):
        """The messages waiting in the inbox, up to BURST (waits up to ``wait`` seconds for the first; ``stop``
        wakes it)."""
        try:
            first = self._inbox.get(timeout=wait)
        except queue.Empty:
            return []
        burst = [] if first is _WAKE else [first]
        while len(burst) < BURST:  # drain a burst before the periodic work
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not _WAKE:
                burst.append(item)
        return burst

    def _prepare(self, burst):
        """Decode a burst and verify its readings' signatures together (Verifier.prepare: their MAM sponges and
        chains are hashed side by side). Returns each message decoded, or None where it does not decode (``_handle``
        then rejects it as before)."""
        decoded = []
        for inbound in burst:
            try:
                decoded.append(wire.decode(inbound.data))
            except IotaEdgeError:
                decoded.append(None)
        self._verifier.prepare([m for m in decoded if isinstance(m, wire.Up)])
        return decoded

    def _handle(self, inbound, retry=False, count=True, msg=None):
        if not retry:
            if count:
                self._counters["ingested"] += 1
            if self._held and inbound.transport.holds and len(self._held) < MAX_HELD:
                # Behind held messages: the verifier wants each device's leaves in order, so nothing overtakes.
                self._held.append(inbound)
                return
        if msg is None:
            try:
                msg = wire.decode(inbound.data)
            except IotaEdgeError as e:
                return self._reject(inbound, inbound.claimed or "?", None, "malformed", str(e))
        if inbound.claimed is not None and msg.device != inbound.claimed:  # the ACL vouches for the topic only
            return self._reject(inbound, inbound.claimed, msg.seq, "topic_mismatch",
                                "the message names %r, the topic %r" % (msg.device, inbound.claimed))
        if isinstance(msg, wire.Heartbeat) and inbound.kind in (None, "hb"):
            self._flush()
            return self._heartbeat(inbound, msg)
        if not isinstance(msg, wire.Up) or inbound.kind not in (None, "up"):
            return self._reject(inbound, msg.device, msg.seq, "unexpected_kind", type(msg).__name__)
        self._up(inbound, msg)

    def _heartbeat(self, inbound, hb):
        if hb.device not in self._provisioned:
            return self._reject(inbound, hb.device, hb.seq, "unknown_device", "heartbeat")
        self._counters["heartbeats"] += 1
        self._heartbeats[hb.device] = {"seq": hb.seq, "stats": dict(hb.stats), "at": self._clock()}
        self._state.record_heartbeat(hb.device, self._provisioned[hb.device], hb.seq, hb.stats)
        self._state.record_route(hb.device, self._provisioned[hb.device], (inbound.transport.name, inbound.route))
        inbound.settle(True)

    def _up(self, inbound, up):
        if up.bundle is not None or up.attachment is not None:
            self._flush()  # a device-attached bundle takes the one-message path below
        d = self._verifier.registry.get(up.device)
        saved = None if d is None else (d["root"], d["next_root"], d["last_index"])
        try:
            result = self._verifier.verify(up)
        except Rejected as e:
            return self._reject(inbound, up.device, up.seq, e.reason, str(e))
        except Unplaced as e:
            return self._defer(inbound, up.device, up.seq, str(e))
        route = (inbound.transport.name, inbound.route)
        if isinstance(result, Duplicate):
            self._flush()
            self._counters["duplicates"] += 1
            self._send(route, up.device, up.seq, "duplicate")
            return inbound.settle(True)
        trytes = up.bundle  # the device's own attachment, or None for ours
        if up.attachment is not None:
            try:
                trytes = device_attached_bundle(up.root, up.mode, up.payload, result.reading.timestamp,
                                                up.attachment, self.config.node.mwm)
            except _BadBundle as e:
                # The reading is valid, only its PoW is not (a device at a lower MWM than the node's, or nonces of
                # another bundle): it gets ours, as a reading without any, rather than a rejection that loses it.
                self._counters["device_pow_redone"] += 1
                self.log.event("warning", "device_pow_redone", device=up.device, seq=up.seq, detail=str(e)[:200])
        if trytes is None:
            trytes = build_bundle(up.root, up.mode, up.payload, result.reading.timestamp)
            bundle_hash = trytes[0][_BUNDLE]  # built here from the verified payload: no need to decode it
            self._group.append(_Pending(inbound, up, result, saved, bundle_hash, trytes))
            return None  # stored, recorded and settled with its burst by _flush
        try:
            if up.bundle is None:
                bundle_hash = trytes[0][_BUNDLE]  # rebuilt from the verified payload
            else:
                bundle_hash = check_device_bundle(trytes, up.root, up.mode, up.payload)
            stored = self._outbox.put(up.device, up.seq, bundle_hash, trytes)
            if stored:
                self._outbox.mark(bundle_hash, "attached", device_pow=True)
                self._wake_forwarder()
        except _BadBundle as e:
            self._rollback(up, saved)
            return self._reject(inbound, up.device, up.seq, "bundle", str(e))
        except ItemTooLarge as e:
            self._rollback(up, saved)
            return self._reject(inbound, up.device, up.seq, "too_large", str(e))
        except (OutboxFull, OutboxStorageError) as e:
            self._rollback(up, saved)
            return self._push_back(inbound, up, e)
        self._record([(inbound, up, result, stored, bundle_hash)])

    def _flush(self):
        """Store the accepted messages gathered from a burst (``self._group``) in one outbox transaction and record
        the devices' positions in one more, then settle each in arrival order, as one by one would have: a storage
        failure pushes them all back (nothing was kept); an entry refused (OutboxFull: pushed back; ItemTooLarge:
        rejected) stops the burst there, and the ones behind it go through ``_handle`` again, in order."""
        while self._group:
            group, self._group = self._group, []
            try:
                results = self._outbox.put_many([(p.up.device, p.up.seq, p.bundle_hash, p.trytes) for p in group])
            except OutboxStorageError as e:
                for p in reversed(group):
                    self._rollback(p.up, p.saved)  # newest first: each restores the position before its own verify
                for p in group:
                    self._push_back(p.inbound, p.up, e)
                continue
            if True in results:
                self._wake_forwarder([(p.bundle_hash, p.trytes) for p, r in zip(group, results) if r is True])
            cut = next((i for i, r in enumerate(results) if not isinstance(r, bool)), len(group))
            for p in reversed(group[cut:]):
                self._rollback(p.up, p.saved)
            self._record([(p.inbound, p.up, p.result, r, p.bundle_hash) for p, r in zip(group[:cut], results[:cut])])
            if cut == len(group):
                continue
            p = group[cut]
            if isinstance(results[cut], ItemTooLarge):
                self._reject(p.inbound, p.up.device, p.up.seq, "too_large", str(results[cut]))
            else:
                self._push_back(p.inbound, p.up, results[cut])
            for p in group[cut + 1:]:
                self._handle(p.inbound, count=False)  # behind the refused one: held, or verified and grouped again

    def _wake_forwarder(self, offered=()):
        """New items are in the outbox: PoW can start now rather than at the forwarder's next poll (a forwarder
        from a factory may have neither ``offer`` nor ``notify``; none exists yet while the forwarder thread starts).
        ``offered``: (bundle hash, trytes) of the bundles built here and just put, handed over so the PoW need not
        read them back."""
        offer = getattr(self.forwarder, "offer", None)
        if offered and offer is not None:
            offer(offered)
        notify = getattr(self.forwarder, "notify", None)
        if notify is not None:
            notify()

    def _record(self, kept):
        """After the outbox stored (True) or already had (False) each of ``kept`` (inbound, up, result, stored,
        bundle hash): record the devices' positions (one transaction), count, answer and settle each."""
        if not kept:
            return
        try:
            self._state.record_accepts([(up.device, up.seq, self._verifier.registry.get(up.device), result.root,
                                         result.index, self._provisioned[up.device],
                                         (inbound.transport.name, inbound.route))
                                        for inbound, up, result, _, _ in kept])
        except sqlite3.Error as e:  # the outbox has them; the persisted positions only lag (see state.py)
            self.log.event("warning", "state_write_failed", device=kept[0][1].device, error=str(e))
        for k in kept:
            self._settle_kept(*k)

    def _settle_kept(self, inbound, up, result, stored, bundle_hash):
        route = (inbound.transport.name, inbound.route)
        if stored:
            self._counters["accepted"] += 1
            self.log.event("debug", "accepted", device=up.device, seq=up.seq, bundle=bundle_hash[:27])
        elif self._outbox.get(bundle_hash) is None:
            if self._state.is_tombstoned(bundle_hash):  # acknowledged and pruned long ago
                self._counters["duplicates"] += 1
                self._send(route, up.device, up.seq, "duplicate")
            else:  # (device, seq) held by another bundle: the outbox dead-lettered it as seq_conflict
                self._count_reject("seq_conflict")
                self._send(route, up.device, up.seq, "rejected", "seq_conflict")
        inbound.settle(True)

    def _rollback(self, up, saved):
        """Undo the verifier's advance for a message that was not kept, so its retransmission verifies again."""
        d = self._verifier.registry.get(up.device)
        if d is not None and saved is not None:
            d["root"], d["next_root"], d["last_index"] = saved
            self._verifier.registry.forget(up.device, up.seq)

    def _push_back(self, inbound, up, error):
        self._counters["pushed_back"] += 1
        self.log.event("warning", "push_back", device=up.device, seq=up.seq, error=type(error).__name__,
                       depth=getattr(error, "depth", None))
        if inbound.transport.holds and len(self._held) < MAX_HELD:
            self._held.append(inbound)  # MQTT: no PUBACK yet; tried again when acknowledgements free room
        else:
            inbound.settle(False)

    def _retry_held(self):
        held, self._held = self._held, []
        for i, inbound in enumerate(held):
            self._handle(inbound, retry=True)
            self._flush()  # one by one: a push-back must stop the rest here
            if self._held:  # pushed back again: the rest stays behind it, in order
                self._held.extend(held[i + 1:])
                return

    def _resolve_root(self, device, entry):
        """Roots the device's channel on the node proves to follow ``entry["root"]`` (gateways sharing a fleet see
        only some of a device's messages). At most one node read per device per RESOLVE_INTERVAL seconds."""
        from iota_edge.client import NodeClient
        from iota_edge.streams import read_channel

        now = time.monotonic()
        last = self._resolved.get(device)
        if last is not None and last[0] == entry["root"] and now - last[1] < RESOLVE_INTERVAL:
            return last[2]
        roots = []
        try:
            for r in read_channel(NodeClient(self.config.node.url, timeout=5, retries=1), entry["root"],
                                  entry["mode"], entry.get("side_key")):
                if r.ok:
                    roots.extend((r.root, r.next_root))
        except (IotaEdgeError, OSError) as e:
            self.log.event("warning", "resolve_root_failed", device=device, error=str(e)[:200])
        self._resolved[device] = (entry["root"], now, roots)
        return roots

    def _defer(self, inbound, device, seq, detail):
        """A message under a tree this gateway cannot place yet: no acknowledgement, so the device sends it again
        after its ack timeout, by when the messages announcing that tree have been resent to this gateway (lost in a
        broker restart), or the gateway that saw them has stored them on the node (a shared fleet)."""
        self._flush()
        self._counters["deferred"] += 1
        self.log.event("info", "deferred", device=device, seq=seq, detail=detail[:200])
        inbound.settle(True)

    def _reject(self, inbound, device, seq, reason, detail):
        self._flush()  # the burst's earlier messages are settled first, in arrival order
        # seq=None: Outbox.reject(device, seq) also takes (device, seq) out of the queue, which is right for the
        # forwarder's rejects and wrong here (a forged or replayed message must not evict the genuine one).
        # The raw bytes keep the seq.
        self._outbox.reject(device, None, reason, inbound.data)
        self._count_reject(reason)
        self.log.event("info", "rejected", device=device, seq=seq, reason=reason, detail=detail[:200],
                       transport=inbound.transport.name)
        if seq is not None:
            self._send((inbound.transport.name, inbound.route), device, seq, "rejected", reason)
        inbound.settle(True)

    def _count_reject(self, reason):
        self._rejects[reason] = self._rejects.get(reason, 0) + 1

    # -- acknowledgements back to devices -------------------------------------------------------------------------

    def _route_of(self, device):
        name, route = self._state.route(device)  # per ack: no copy of every device's route
        t = self._by_name.get(name)
        if t is None:  # not heard from since the routes were recorded: an MQTT transport reaches it by its topic
            t = next((x for x in self.transports if x.holds), None)
        if t is not None and t.holds:
            route = device  # MQTT: the device's own ack topic
        return t, route

    def _send(self, route, device, seq, status, reason=None):
        t = self._by_name.get(route[0])
        if t is None or not t.send(route[1], wire.encode_ack(device, seq, status, reason)):
            return False
        self._counters["acks_sent"] += 1
        return True

    def _pump_acks(self):
        """Confirmed items -> ``confirmed`` acks on each device's transport, then mark_acked and prune."""
        if self.config.node.ack_on == "stored":
            stored = self._outbox.next_batch("stored", ACK_BATCH, trytes=False)
            live = set()
            for item in stored:
                live.add(item.bundle_hash)
                if item.bundle_hash not in self._stored_acked and self._ack(item.device, item.seq, "stored"):
                    self._stored_acked.add(item.bundle_hash)
            self._stored_acked &= live
        done = {}
        for device, seq in self._outbox.to_acknowledge(ACK_BATCH):
            if self._ack(device, seq, "confirmed"):
                done.setdefault(device, []).append(seq)
        if done:  # one commit for the round: the marks and the prune
            self._counters["acked"] += self._outbox.mark_acked_many(done, prune=True)

    def _ack(self, device, seq, status):
        t, route = self._route_of(device)
        if t is None:
            return False
        return self._send((t.name, route), device, seq, status)

    # -- observability --------------------------------------------------------------------------------------------

    def _refresh_stats(self):
        self._outbox_stats = self._outbox.stats()

    def stats(self):
        """A snapshot for metrics and tests (safe from any thread)."""
        fwd = None
        if self.forwarder is not None and hasattr(self.forwarder, "stats"):
            fwd = self.forwarder.stats()
        return {"gateway": self.config.gateway_id, "counters": dict(self._counters), "rejects": dict(self._rejects),
                "outbox": self._outbox_stats, "heartbeats": dict(self._heartbeats),
                "transports": {t.name: t.stats() for t in self.transports}, "forwarder": fwd}


def run_gateway(config_path, *, forwarder="auto", stop=None):
    """Load the config, run the gateway until SIGINT/SIGTERM (or ``stop`` is set), stop it cleanly. Returns the
    exit status: 0, or 1 when a gateway thread died."""
    import signal

    cfg = load_config(config_path)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    gw = Gateway(cfg, forwarder=forwarder).start()
    try:
        while not stop.wait(0.5) and not gw.failed.is_set():
            pass
    finally:
        gw.stop()
    return 1 if gw.failed.is_set() else 0
