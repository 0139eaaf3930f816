"""The forwarder: moves outbox items to the node and watches them until a milestone confirms them (issue #7).

    from iota_edge.gateway.outbox import Outbox
    from iota_edge.gateway.forwarder import Forwarder
    box = Outbox("outbox.db")
    fwd = Forwarder(box, "http://127.0.0.1:14265", mwm=9, pow="local", workers=2, reattach_milestones=3)
    stop = threading.Event()
    fwd.run(stop)          # or fwd.step() in a loop of your own; fwd.stats() for metrics

Per item: ``received`` -> what it approves (a tail of ours that a store sent, oldest first, and a tip of the one
getTransactionsToApprove pair per pass; the pair when no such tail waits, for at most FRESH bundles a pass beyond the
tails waiting) -> Proof-of-Work (the C kernel in a thread pool, the kernel releases the GIL; or the node's
attachToTangle with ``pow="node"``) -> ``attached`` (the attached trytes are written to the outbox *before* the node
sees them, so a crash never attaches a bundle twice) ->
storeTransactions and broadcastTransactions -> ``stored`` -> getInclusionStates after each new milestone ->
``confirmed``. An item put as ``attached`` (the device did the PoW) is stored as it is and only reattached if it is
refused or does not confirm.

Cost per item, for throughput: up to IN_FLIGHT (64) PoW jobs per worker are queued, so the pool keeps working while
this thread talks to the node, and the thread wakes once HARVEST (32) of them finished rather than after each, so a
pass handles many items: their results in one outbox transaction (``Outbox.mark_many``), everything attached in
one storeTransactions call (and broadcastTransactions, the trytes JSON-encoded once for both), sent from the trytes it
has just written (not read back), the ``stored`` marks without an fsync (storing again after a power cut is
harmless). The gateway's ingestion wakes it (``notify``) when it stored a burst and the queue has room, and hands it
the burst's trytes (``offer``), so the PoW does not read back what was just written. It reads the outbox without
trytes where it does not send them, and its window of waiting items without those in flight.

Reattach: a stored bundle that ``reattach_milestones`` milestones passed by goes back to ``received`` and is attached
again on new tips; every tail it ever had still counts for confirmation. "Passed by" counts the milestones issued
while its tail was still a tip (nothing approves it, so no newer transaction will carry it to a milestone) and either
nothing of ours confirmed or something the node got after it confirmed. Milestones spent working through an older
backlog do not count (this project's coordinator approves the two oldest tips per milestone, so a burst of stored
bundles takes many). Each bundle approves a tail of ours, so a bundle may be approved only by our own next one; when
that one is reattached (a lazy tip on a network whose coordinator walks from its tips), its old attachment carries
nothing any more (``_carried`` follows such an approver down its attachment to its tail), so the bundle it approved
counts milestones again and is reattached in turn; a reattached bundle's old tails are no longer offered as parents.
A bundle approved only by someone else's transactions is carried by them, unless they never confirm (a lazy or
inconsistent bundle that no milestone will approve): once its attachment is ``max_depth`` milestones old (IRI's
--max-depth, 15: tip selection no longer starts walks below it, so no new transaction will carry it either) while
milestones pass it by, it is reattached, as the official wallets reattach a transaction that is no longer
promotable.

Order: items are attached in receive order across devices and in seq order per device; PoW runs in parallel but
results are taken in submission order, attachment timestamps increase in that order, and stores follow it. A failed
PoW of a device's item drops that device's later in-flight results, so they are redone after it. A device's seq
n + 1 may reach the gateway after n (a resend after a broker restart or a gateway crash lost the first delivery), so
seq s of a device starts PoW only when s - 1 was released (the outbox's ``released()``: the device's highest seq
attached or dead-lettered, kept in SQLite across restarts and pruning) or is in flight, when the item was attached
before (a reattach), when the device has no history, or once it has waited ``order_hold_s`` (45 s, above the
firmware's 30 s resend) since its ``received_at``: a restart neither resets nor extends the wait. A wait that runs
out (a device's power cut leaves seqs it reserved unused for good) logs ``order_gap_skipped`` and counts
``order_gaps_skipped``. Waiting devices are left out of the window of items looked at, so other devices go on.

The node down (refused, reset, timed out, HTTP 5xx): calls stop, a :class:`Breaker` backs off exponentially with
jitter, opens after 3 consecutive failures and probes with getNodeInfo when half open. Nothing is lost: items stay in
the outbox in their state. A node refusal (HTTP 400) of a bundle is retried on new tips up to ``MAX_REFUSALS`` times,
then the item becomes a ``node_refused`` dead letter.

The outbox is used only from the thread that calls ``step``/``run`` (sqlite3 objects belong to their thread), so pass
an Outbox opened in that thread, or a path and the forwarder opens its own Outbox there.
"""
import collections
import concurrent.futures
import logging
import threading
import time

from iota_edge import _native
from iota_edge.client import NodeClient
from iota_edge.errors import InvalidValue, NodeError, PowCancelled
from iota_edge.gateway.breaker import Breaker
from iota_edge.gateway.config import ORDER_HOLD_S, POW_MODES
from iota_edge.gateway.outbox import Outbox, UnknownItem
from iota_edge.pow import usable_cpus
from iota_edge.transaction import SPAN
from iota_edge.trinary import trytes_to_int

MAX_REFUSALS = 3  # node refusals of one item before it becomes a dead letter
STORE_BATCH = 60  # items per storeTransactions call (the client splits calls above 250 transactions)
CONFIRM_BATCH = 1000  # stored items checked per milestone (read without their trytes)
IN_FLIGHT = 64  # PoW jobs queued per worker: the pool keeps working while the loop talks to the node
HARVEST = 32  # finished PoW jobs per worker that wake the loop (or all in flight, or the next poll): each pass then
# writes, stores and refills for many items at once; a pass's fixed cost (outbox reads and commits, node calls) was a
# third of the forwarder's CPU per reading at 8 per pass. Our stored tails are approved oldest first (see _submit).
ATTACHED_CACHE = 1024  # attached trytes kept for _store (beyond it, _store reads them from the outbox)
OFFERED_MAX = 1024  # unattached trytes the ingestion hands over (offer; the oldest go first): 5.5 MiB at most
MAX_DEPTH = 15  # IRI's default --max-depth in milestones: a bundle carried by others is reattached at this age
REATTACHED_MAX = 4096  # bundle hashes of reattached items remembered for the reattach check (see _carried)
PARENT_S = 10.0  # a tail of ours stored longer ago than this is not approved by our next bundles (see _submit)
PARENTS_MAX = 1024  # tails kept for that at most
FRESH = 8  # bundles a pass starts beyond the tails of ours waiting to be approved (see _submit)
SEQ_WINDOW = 16  # received items looked at beyond those attached next, to attach each device's in seq order
POLL_S = 0.25  # getNodeInfo at most this often while items wait for a milestone
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SAMPLES = 256  # recent samples kept per histogram
_TRUNK, _BRANCH = slice(*SPAN["trunk"]), slice(*SPAN["branch"])
_BUNDLE, _INDEX = slice(*SPAN["bundle"]), slice(*SPAN["current_index"])


class Histogram:
    """Cumulative bucket counts (Prometheus style), sum, count and the last ``SAMPLES`` values."""

    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0
        self.samples = collections.deque(maxlen=SAMPLES)

    def observe(self, v):
        for i, b in enumerate(self.buckets):
            if v <= b:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.sum += v
        self.count += 1
        self.samples.append(v)

    def snapshot(self):
        cumulative, running = [], 0
        for le, n in zip(self.buckets + (float("inf"),), self.counts):
            running += n
            cumulative.append((le, running))
        return {"buckets": cumulative, "sum": self.sum, "count": self.count, "samples": list(self.samples)}


class _Job:
    __slots__ = ("item", "future", "discard")

    def __init__(self, item, future):
        self.item = item
        self.future = future
        self.discard = False


def _tail_hash(trytes_list):
    """Hash of the transaction with current index 0."""
    from iota_edge.curl import curl_hash
    from iota_edge.transaction import Transaction

    for t in trytes_list:
        if Transaction.from_trytes(t).current_index == 0:
            return curl_hash(t)  # of the trytes as they are: tx.hash would encode them again first
    raise InvalidValue("trytes: the bundle has no tail (current index 0)", "trytes")


def _store_order(item):
    """When the node got the item, as far as order goes: our attachments are stored in the order they were
    attached (``attached_at``, kept when a crash makes us store one again); a device's own attachment when we
    stored it."""
    return item.info.get("attached_at") or item.info.get("stored_at") or item.received_at


def _waited(item, now):
    """Seconds ``item`` has waited since it was received (the outbox's ``received_at``: restarts do not reset it)."""
    return max(0.0, now - item.received_at)


def _given_up(item, tail):
    """True when ``tail`` is an attachment of ``item`` that a reattachment replaced: an older one of its tails, or its
    last while the item waits to be attached again."""
    tails = item.info.get("tails", [])
    return tail in tails and (tail != tails[-1] or item.state == "received")


def _is_refusal(e):
    return isinstance(e, NodeError) and e.status is not None and 400 <= e.status < 500


class Forwarder:
    """See the module docstring. Options (defaults): ``mwm`` (9); ``pow`` (``"local"``: the C kernel here,
    ``"node"``: the node's attachToTangle); ``workers`` (None: one per CPU this process may use, one kernel thread
    each) bundles attached at once; ``reattach_milestones`` (3); ``max_depth`` (15) milestones after which a bundle
    carried only by others' transactions that never confirm is reattached (see "Reattach"); ``logger`` (the
    gateway's EventLog, or a logging.Logger; default ``logging.getLogger("iota_edge.gateway.forwarder")``);
    ``timeout`` (10 s per HTTP request); ``depth`` (3, getTransactionsToApprove); ``breaker`` (a
    :class:`Breaker`); ``order_hold_s`` (ORDER_HOLD_S, 45 s; 0: no holding) how long a device's seq waits for a
    missing lower one (see "Order"); ``clock`` (time.time) wall-clock seconds, the outbox's ``received_at`` scale."""

    def __init__(self, outbox, node_url, *, mwm=9, pow="local", workers=None, reattach_milestones=3,
                 logger=None, timeout=10.0, depth=3, breaker=None, clock=time.time, order_hold_s=ORDER_HOLD_S,
                 max_depth=MAX_DEPTH):
        if pow not in POW_MODES:
            raise InvalidValue("pow: expected 'local' or 'node', got %r" % (pow,), "pow")
        if not isinstance(mwm, int) or isinstance(mwm, bool) or not 1 <= mwm <= 243:
            raise InvalidValue("mwm: expected an int in 1..243, got %r" % (mwm,), "mwm")
        if workers is None:
            workers = usable_cpus()
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise InvalidValue("workers: expected None or an int >= 1, got %r" % (workers,), "workers")
        if not isinstance(reattach_milestones, int) or reattach_milestones < 1:
            raise InvalidValue("reattach_milestones: expected an int >= 1, got %r" % (reattach_milestones,),
                               "reattach_milestones")
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
            raise InvalidValue("max_depth: expected an int >= 1, got %r" % (max_depth,), "max_depth")
        if (not isinstance(order_hold_s, (int, float)) or isinstance(order_hold_s, bool) or not order_hold_s >= 0
                or order_hold_s == float("inf")):
            raise InvalidValue("order_hold_s: expected a number of seconds >= 0, got %r" % (order_hold_s,),
                               "order_hold_s")
        self._outbox_arg = outbox
        self.outbox = outbox if isinstance(outbox, Outbox) else None
        self.node_url = node_url
        self.mwm = mwm
        self.pow = pow
        self.workers = workers
        self.pow_threads = max(1, usable_cpus() // workers)  # CPUs it may use (taskset, cpuset), not all there are
        self.reattach_milestones = reattach_milestones
        self.max_depth = max_depth
        self.order_hold_s = float(order_hold_s)
        self.log = logger or logging.getLogger("iota_edge.gateway.forwarder")
        self.depth = depth
        self.node = NodeClient(node_url, timeout=timeout, retries=0)
        self.breaker = breaker or Breaker()
        self._clock = clock
        self._pool = None
        self._jobs = collections.deque()  # in flight, in submission order
        self._attached = {}  # bundle hash -> attached trytes, from _harvest to _store (saves reading them back)
        self._offered = {}  # bundle hash -> unattached trytes just put by the ingestion thread (see offer)
        self._offered_lock = threading.Lock()
        self._parents = collections.deque()  # (tail, monotonic s) stored by us and not yet approved by a bundle of ours
        self._cancel = _native.CancelEvent()  # set() stops the searches at once, no watcher polling
        self._wake = threading.Event()
        self._finished = 0  # PoW jobs finished since the last pass (counted by the pool's threads)
        self._more = False  # the pass left a full batch behind (store, confirm): the next one goes at once
        self._finished_lock = threading.Lock()
        self._last_ts = 0
        self._milestone = None  # latest milestone index seen
        self._checked_at = None  # milestone index of the last confirmation pass
        self._unchecked = True  # items stored since that pass
        self._passed = {}  # bundle hash -> milestones that passed this stored item by
        self._pending = None  # stored items seen waiting at that pass (None: not looked yet)
        self._polled = 0.0
        self._refusals = {}  # bundle hash -> refusals of items still received (pow="node")
        self._reattached = None  # bundle hashes of ours reattached (None: read from the outbox at the first use)
        self._held = {}  # device -> the seq that waits for a lower one (as of the last pass)
        self._skipped = {}  # device -> the highest seq that went after its hold ran out (counted once)
        self.node_up = None
        self.last_stored = None  # time.monotonic() of the last pass that stored items on the node
        self.counters = dict.fromkeys(("attached", "stored", "confirmed", "reattached", "refused", "dead_lettered",
                                       "node_failures", "pow_failures", "discarded", "order_gaps_skipped"), 0)
        self.pow_latency = Histogram(LATENCY_BUCKETS)
        self.confirmation_lag = Histogram(LAG_BUCKETS)

    def _log(self, level, event, **fields):
        """To the gateway's EventLog (``event(level, name, **fields)``) or a logging.Logger. Ids, counts, reasons
        and the node URL only: never trytes or secrets."""
        if hasattr(self.log, "event"):
            self.log.event(level, event, **fields)
        else:
            self.log.log(getattr(logging, level.upper()), "%s %s", event,
                         " ".join("%s=%s" % kv for kv in fields.items()))

    # -- node calls through the breaker ------------------------------------------------------------------------

    def _failed(self, e, what):
        self.counters["node_failures"] += 1
        was = self.breaker.state
        self.breaker.failure()
        self.node_up = False
        if self.breaker.state != was:
            self._log("warning", "node_down", node=self.node_url, call=what, error=str(e)[:200],
                      breaker=self.breaker.state, retry_in=round(self.breaker.wait(), 1))

    def _ok(self):
        if self.breaker.state != "closed":
            self._log("info", "node_up", node=self.node_url, breaker="closed")
        self.breaker.success()
        self.node_up = True

    def _node_ready(self):
        """True when calls may go now; a half-open breaker is probed with getNodeInfo first."""
        if not self.breaker.allow():
            return False
        if self.breaker.state == "half_open":
            try:
                self._milestone = self.node.get_node_info()["latestMilestoneIndex"]
            except NodeError as e:
                self._failed(e, "getNodeInfo probe")
                return False
            self._ok()
        return True

    # -- one pass ------------------------------------------------------------------------------------------------

    def step(self):
        """One pass: take finished PoW, store what is attached, check confirmations, start new PoW. Returns the
        number of items moved or started (0: nothing to do now)."""
        if self.outbox is None:
            self.outbox = Outbox(self._outbox_arg)
        work = self._harvest()
        if self._node_ready():
            try:
                work += self._store()
                work += self._confirm()
                work += self._submit()
            except NodeError as e:  # down, or an answer we cannot use: back off either way
                self._failed(e, e.command or "call")
        return work

    def run(self, stop):
        """``step`` until ``stop`` (a threading.Event) is set; between passes wait for HARVEST finished PoW jobs,
        the breaker or the next poll instead of spinning (a pass that left a full batch behind goes on at once).
        Cancels PoW in flight when stopping."""
        try:
            while not stop.is_set():
                self._wake.clear()  # before the pass: PoW results finishing during it wake the wait below
                with self._finished_lock:
                    self._finished = 0
                self._more = False
                if self.step() and self._more:
                    continue
                delay = POLL_S
                if self.breaker.state != "closed" or self.breaker.wait():
                    delay = max(0.05, min(self.breaker.wait(), 1.0))
                self._wake.wait(delay)
        finally:
            self.close()

    def notify(self):
        """New items are in the outbox (any thread may call this): wake the loop now when its PoW queue has room for
        a pass's worth, instead of at the next poll (up to POLL_S later). A full queue is left to its harvest, so a
        steady flow of readings does not split the passes."""
        if len(self._jobs) < HARVEST * self.workers:
            self._wake.set()

    def offer(self, entries):
        """(bundle hash, trytes) of items just put, as put (any thread may call this): their PoW takes the trytes
        from here instead of reading them back from the outbox. The newest OFFERED_MAX are kept; an item gone from
        the outbox meanwhile (``drop_oldest``, a dead letter) is skipped as ever: its mark finds it missing."""
        with self._offered_lock:
            kept = self._offered
            kept.update(entries)
            while len(kept) > OFFERED_MAX:
                del kept[next(iter(kept))]

    def close(self):
        """Cancel PoW in flight (its items stay ``received``) and stop the pool."""
        self._cancel.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._jobs.clear()
        self._cancel = _native.CancelEvent()
        if self.outbox is not None and self.outbox is not self._outbox_arg:
            self.outbox.close()
            self.outbox = None

    # -- attaching -----------------------------------------------------------------------------------------------

    def _submit(self):
        room = IN_FLIGHT * self.workers - len(self._jobs)
        if room <= 0:
            return 0
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="pow")
        started = 0
        pair = None  # one getTransactionsToApprove answer per pass
        now = time.monotonic()
        while self._parents and now - self._parents[0][1] > PARENT_S:
            self._parents.popleft()  # not taken in time: approving an old unconfirmed tail risks a lazy tip
        # As many as our tails waiting, and FRESH more: a backlog released at once (a node back up, a late seq
        # filling a gap) starts FRESH bundles side by side, then twice as many at each pass as their tails come back,
        # instead of a hundred siblings on one pair, which the coordinator's two tips per milestone take many
        # milestones to reach (a test saw one passed by and attached twice).
        chosen = self._next_items(min(room, len(self._parents) + FRESH))
        with self._offered_lock:
            offered = {item.bundle_hash: self._offered.pop(item.bundle_hash) for item, _ in chosen
                       if item.bundle_hash in self._offered}
        # the window was read without trytes: those not offered by the ingestion are read now
        full = self.outbox.get_many([item.bundle_hash for item, _ in chosen if item.bundle_hash not in offered])
        for item, gap in chosen:
            if item.bundle_hash in offered:
                item = item._replace(trytes=offered[item.bundle_hash])
            else:
                item = full.get(item.bundle_hash)
                if item is None:  # evicted (drop_oldest) since the window was read
                    continue
            # What it approves: a tail of ours that a recent store sent, oldest first, so our stored tails stop being
            # tips at the next pass, and a tip of the pass's pair; the FRESH ones without such a tail, the pair.
            pair = pair or self.node.get_transactions_to_approve(self.depth)
            if self._parents:
                trunk, branch = self._parents.popleft()[0], pair[started % 2]
            else:
                trunk, branch = pair
            ts = max(int(self._clock() * 1000), self._last_ts + 1)
            self._last_ts = ts
            future = self._pool.submit(self._attach, item.trytes, trunk, branch, ts)
            future.add_done_callback(self._job_done)
            self._jobs.append(_Job(item, future))
            started += 1
            if gap is not None and item.seq > self._skipped.get(item.device, -1):
                self._skipped[item.device] = item.seq  # counted once, also when its PoW is redone
                self.counters["order_gaps_skipped"] += 1
                self._log("warning", "order_gap_skipped", device=item.device, seq=item.seq, expected=gap,
                          waited=round(_waited(item, self._clock()), 1), order_hold_s=self.order_hold_s)
        return started

    def _job_done(self, future):
        with self._finished_lock:
            self._finished += 1
            finished = self._finished
        if finished >= min(HARVEST * self.workers, len(self._jobs)):
            self._wake.set()

    def _next_items(self, room):
        """Up to ``room`` (item, gap) pairs to attach now: receive order across devices, each device's lowest
        waiting seqs in seq order (also those a late redelivery put beyond the window), and a device's item only
        when the seq before it was released (attached or dead-lettered) or is in flight, when it was attached
        before (a reattach), when the device has no history, or when it has waited ``order_hold_s`` since it was
        received. ``gap`` is the first missing seq for an item that goes because its wait is over, else None.
        Devices that wait are remembered in ``self._held`` and left out of the window, so they block no one. With
        ``pow="node"`` a device has one item in flight at a time: the node stamps each attachment as its PoW ends, so
        two of a device's items at once could be stamped out of seq order."""
        busy = {j.item.bundle_hash for j in self._jobs}
        top = self.outbox.released()  # device -> highest seq attached; raised below by what is in flight
        redo = set()  # devices with a discarded result in flight: their items come back received, lowest first
        for j in self._jobs:
            if j.discard:
                redo.add(j.item.device)
            else:
                top[j.item.device] = max(top.get(j.item.device, -1), j.item.seq)
        now = self._clock()
        serial = {j.item.device for j in self._jobs} if self.pow == "node" else set()
        held = {}
        for device in self._held:  # waiting at the last pass: look at its lowest waiting item only
            lowest = self._lowest(device, 1, busy)
            if lowest and self._waits(lowest[0], top, now):
                held[device] = lowest[0].seq
        chosen = []
        while len(chosen) < room:
            limit = room + SEQ_WINDOW
            window = self.outbox.next_batch("received", limit, False, skip_devices=set(held) | redo | serial,
                                            skip_hashes=busy)
            queues = {}
            for item in window:
                queues.setdefault(item.device, []).append(item)
            for device, queue in queues.items():
                queue.sort(key=lambda i: i.seq)
                if self._gap(queue[0], top) is not None:  # the seq it waits for may be beyond the window
                    queue[:] = self._lowest(device, len(queue), busy)
            newly_held = False
            for slot in window:  # each slot a device has in receive order takes its lowest waiting seq
                device = slot.device
                if device in held or device in serial or not queues[device]:
                    continue
                item = queues[device].pop(0)
                if self._waits(item, top, now):
                    held[device] = item.seq
                    newly_held = True
                    continue
                chosen.append((item, self._gap(item, top)))
                top[device] = max(top.get(device, -1), item.seq)
                busy.add(item.bundle_hash)
                if self.pow == "node":
                    serial.add(device)
                if len(chosen) >= room:
                    break
            if not newly_held or len(window) < limit:
                break  # nothing newly held, or nothing beyond the window: the next pass looks again
        self._held = held
        return chosen

    def _lowest(self, device, n, busy):
        """The ``n`` lowest seqs of ``device`` waiting in the outbox and not in flight (``busy``)."""
        return self.outbox.next_batch("received", n, False, device=device, skip_hashes=busy)

    def _gap(self, item, top):
        """The first seq missing below ``item`` (its device's next after what was released or is in flight), or
        None when nothing is: no hold, a reattach (attached before), no history for the device, or no gap."""
        if not self.order_hold_s or item.attempts or item.info.get("tails"):
            return None
        last = top.get(item.device)
        if last is None or item.seq <= last + 1:
            return None
        return last + 1

    def _waits(self, item, top, now):
        return self._gap(item, top) is not None and _waited(item, now) < self.order_hold_s

    def _attach(self, trytes, trunk, branch, ts):
        started = time.perf_counter()
        if self.pow == "node":
            attached = self.node.attach_to_tangle(trunk, branch, self.mwm, trytes)
            if not attached:
                raise PowCancelled("attachToTangle was interrupted on the node", "trytes")
        else:
            from iota_edge.pow import attach_to_tangle

            attached, hashes = attach_to_tangle(list(trytes), trunk, branch, self.mwm, self.pow_threads, ts,
                                                cancel=self._cancel, hashes=True)
            return attached, time.perf_counter() - started, hashes[0]  # tail first
        return attached, time.perf_counter() - started, _tail_hash(attached)  # hashed here, off the loop thread

    def _harvest(self):
        """Finished PoW, in submission order: write the attached trytes to the outbox (one transaction)."""
        done = []
        while self._jobs and self._jobs[0].future.done():
            job = self._jobs.popleft()
            if job.discard:
                self.counters["discarded"] += 1
                continue
            try:
                attached, seconds, tail = job.future.result()
            except (NodeError, PowCancelled) as e:  # the item stays received; its device's later results wait
                for later in self._jobs:
                    if later.item.device == job.item.device:
                        later.discard = True
                if isinstance(e, NodeError) and not _is_refusal(e):
                    self._failed(e, "attachToTangle")
                elif isinstance(e, NodeError):
                    self._refused(job.item, str(e))
                else:
                    self.counters["pow_failures"] += 1
                continue
            self.pow_latency.observe(seconds)
            tails = list(job.item.info.get("tails", [])) + [tail]
            done.append((job.item.bundle_hash, "attached", {"trytes": attached, "tails": tails,
                                                           "attached_at": self._clock()}))
        if not done:
            return 0
        missing = self.outbox.mark_many(done)  # missing: evicted by drop_oldest or rejected meanwhile
        if len(self._attached) < ATTACHED_CACHE:
            gone = set(missing)
            self._attached.update((h, info["trytes"]) for h, _, info in done if h not in gone)
        n = len(done) - len(missing)
        self.counters["attached"] += n
        return n

    # -- storing -------------------------------------------------------------------------------------------------

    def _store(self):
        items = sorted(self.outbox.next_batch("attached", STORE_BATCH, trytes=False), key=_store_order)
        if not items:
            return 0
        if not self._pending and not self._unchecked:
            # Idle until now, so no milestone was polled meanwhile: take the current one, so that the milestones of
            # the idle spell neither pass these items by at their first check nor go into their stored_milestone.
            self._milestone = self._checked_at = self.node.get_node_info()["latestMilestoneIndex"]
            self._polled = time.monotonic()
        self._more = self._more or len(items) == STORE_BATCH
        cached = self._attached
        if len(items) < STORE_BATCH:  # every attached item is in items: forget cached ones gone meanwhile
            live = {item.bundle_hash for item in items}
            for h in [h for h in cached if h not in live]:
                del cached[h]
        unknown = [item.bundle_hash for item in items if item.bundle_hash not in cached]
        full = self.outbox.get_many(unknown) if unknown else {}  # attached before a restart, or past the cache
        items = [item._replace(trytes=cached.pop(item.bundle_hash)) if item.bundle_hash in cached
                 else full[item.bundle_hash] for item in items
                 if item.bundle_hash in cached or item.bundle_hash in full]  # not gone since the window was read
        if not items:
            return 0
        try:
            self._store_trytes([t for item in items for t in item.trytes])
        except NodeError as e:
            if not _is_refusal(e):
                raise
            return self._store_one_by_one(items)  # find the refused one(s); the others go through
        self._ok()  # stored_milestone below is the milestone last polled (info only): no extra call per batch
        return self._mark_stored(items)

    def _store_trytes(self, trytes):
        self.node.store_and_broadcast(trytes)

    def _store_one_by_one(self, items):
        n = 0
        for item in items:
            try:
                self._store_trytes(item.trytes)
            except NodeError as e:
                if not _is_refusal(e):
                    raise
                self._refused(item, str(e))
                continue
            n += self._mark_stored([item])
        return n

    def _mark_stored(self, items):
        now = self._clock()
        changes = [(item.bundle_hash, "stored", {
            "tails": item.info.get("tails") or [_tail_hash(item.trytes)], "stored_milestone": self._milestone,
            "stored_at": now}) for item in items]
        missing = self.outbox.mark_many(changes, durable=False)  # lost in a power cut: stored again, idempotent
        n = len(items) - len(missing)
        self.counters["stored"] += n
        self.last_stored = time.monotonic()
        gone = set(missing)
        now_s = time.monotonic()
        self._parents.extend((change[2]["tails"][-1], now_s) for change in changes if change[0] not in gone)
        while len(self._parents) > PARENTS_MAX:
            self._parents.popleft()
        self._unchecked = self._unchecked or n > 0
        return n

    def _refused(self, item, reason):
        """The node refused this bundle: attach it again on new tips, or give up after MAX_REFUSALS."""
        self.counters["refused"] += 1
        refusals = max(item.info.get("refusals", 0), self._refusals.get(item.bundle_hash, 0)) + 1
        self._log("warning", "node_refused", bundle=item.bundle_hash[:9], device=item.device, seq=item.seq,
                  refusals=refusals, max_refusals=MAX_REFUSALS, reason=reason[:200])
        if refusals >= MAX_REFUSALS:
            self._refusals.pop(item.bundle_hash, None)
            self.outbox.reject(item.device, item.seq, "node_refused")
            self.counters["dead_lettered"] += 1
        elif item.state == "received":  # attachToTangle refused (pow="node"): no state to change, count here
            self._refusals[item.bundle_hash] = refusals
        else:
            self.outbox.mark(item.bundle_hash, "received", refusals=refusals, refused=reason[:200])

    # -- confirmation --------------------------------------------------------------------------------------------

    def _confirm(self):
        if self._pending == 0 and not self._unchecked:
            return 0  # nothing stored waits: no need to ask the node
        now = time.monotonic()
        polled = now - self._polled >= POLL_S or self._milestone is None
        if polled:
            self._milestone = self.node.get_node_info()["latestMilestoneIndex"]
            self._polled = now
            self._ok()
        milestone = self._milestone
        if milestone == self._checked_at and not (self._unchecked and polled):
            # Only a milestone confirms, so nothing can have changed; items stored since the last check (the node
            # may have had one confirmed before a crash) are looked at on the next poll, not after every store.
            return 0
        items = self.outbox.next_batch("stored", CONFIRM_BATCH, trytes=False)
        self._more = self._more or len(items) == CONFIRM_BATCH
        advanced = 0 if self._checked_at is None else max(0, milestone - self._checked_at)
        self._checked_at = milestone
        self._unchecked = False
        self._pending = len(items)
        if not items:
            self._passed.clear()
            return 0
        tails = [t for item in items for t in item.info.get("tails", [])]
        states = dict(zip(tails, self.node.get_inclusion_states(tails)))  # asked after reading the milestone
        confirmed = [any(states.get(t) for t in item.info.get("tails", [])) for item in items]
        # the newest among the items confirmed now, in the order the node got them (not receive order: a device's
        # item can be stored after later-received ones when its PoW was redone; nor the time of our last store call,
        # which may repeat one the node had before a crash)
        newest = max((_store_order(item) for i, item in enumerate(items) if confirmed[i]), default=None)
        passed = [not confirmed[i] and (newest is None or _store_order(item) < newest)
                  for i, item in enumerate(items)]
        carried = foreign = set()
        if advanced:
            carried, foreign = self._carried([item for i, item in enumerate(items) if passed[i]],
                                             {item.bundle_hash: item for item in items})
        wall = self._clock()
        done = [item for i, item in enumerate(items) if confirmed[i]]
        for item in done:
            self._passed.pop(item.bundle_hash, None)
        gone = set(self.outbox.mark_many([(item.bundle_hash, "confirmed", {"milestone": milestone})
                                          for item in done]))
        n = 0
        for item in done:
            if item.bundle_hash not in gone:
                self.counters["confirmed"] += 1
                self.confirmation_lag.observe(max(0.0, wall - item.received_at))
                self._pending -= 1
                n += 1
        for i, item in enumerate(items):
            if confirmed[i]:
                continue
            # Passed by: milestones came and went while nothing of ours confirmed, or while an item received after
            # this one confirmed. A node working through a backlog oldest first (this project's coordinator takes
            # two tips per milestone) does not count against the items it has not reached yet.
            if advanced and passed[i] and item.bundle_hash not in carried:
                self._passed[item.bundle_hash] = self._passed.get(item.bundle_hash, 0) + advanced
            if self._passed.get(item.bundle_hash, 0) >= self.reattach_milestones:
                why = {"passed_by": self.reattach_milestones}
            elif (advanced and passed[i] and item.bundle_hash in foreign
                  and self._age(item, milestone) >= self.max_depth):
                # carried only by others' transactions that milestones keep passing by, and now too old to be
                # carried by new ones: those approvers will not confirm it
                why = {"max_depth": self.max_depth}
            else:
                continue
            self._passed.pop(item.bundle_hash, None)
            try:
                self.outbox.mark(item.bundle_hash, "received", reattach_from=milestone)
                self._given_up_bundles()[item.bundle_hash] = None
            except UnknownItem:
                continue
            self.counters["reattached"] += 1
            self._pending -= 1
            stuck = set(item.info.get("tails", []))  # a bundle of ours approving one would be stuck with it
            if any(t in stuck for t, _ in self._parents):
                self._parents = collections.deque(p for p in self._parents if p[0] not in stuck)
            self._log("info", "reattach", bundle=item.bundle_hash[:9], device=item.device, seq=item.seq,
                      milestone=milestone, **why)
            n += 1
        if len(items) < CONFIRM_BATCH and len(self._passed) > len(items):  # forget items pruned or rejected
            live = {item.bundle_hash for item in items}
            self._passed = {h: v for h, v in self._passed.items() if h in live}
        return n

    def _age(self, item, milestone):
        """Milestones since ``item``'s last attachment was stored (its ``stored_milestone``: polled at most POLL_S
        before the store, or at the store itself after an idle spell; see _store). 0 for an item stored before
        the outbox kept it."""
        base = item.info.get("stored_milestone")
        return 0 if base is None else milestone - base

    def _carried(self, items, stored):
        """(carried, foreign): bundle hashes of ``items`` one of whose tails some transaction approves, and those of
        them approved only by transactions of others (not in our outbox; ``stored``: {bundle hash: item} of the stored
        items being checked, ours without a read). Carried ones are no longer tips and confirm with their approvers,
        so reattaching them would only attach them twice; ``_confirm`` reattaches a foreign one only at
        ``max_depth``. An approver in an attachment of ours that was given up for a reattachment carries
        nothing: our next bundle approves our last stored tail, and when that next one is reattached (a lazy tip on
        a network whose coordinator walks from its tips), its old attachment carries nothing any more, so the bundle
        it approved counts milestones again and is reattached in turn."""
        tails = {t: item.bundle_hash for item in items for t in item.info.get("tails", [])}
        if not tails:
            return set(), set()
        approvers = self.node.find_transactions(approvees=list(tails))
        found = list(zip(approvers, self.node.get_trytes(approvers) if approvers else []))
        given_up = self._given_up_bundles()  # only these can have an attachment that carries nothing
        # read: the reattached ones (their tails), and approvers neither stored nor reattached (someone else's, or
        # ours beyond CONFIRM_BATCH); an approver of ours that confirmed would have confirmed what it approves
        bundles = {trytes[_BUNDLE] for _, trytes in found}
        ours = self.outbox.get_many([b for b in bundles if b not in stored], trytes=False) if found else {}
        ours.update((b, stored[b]) for b in bundles if b in stored)
        carried, foreign = set(), set()
        tailed = []  # (its attachment's tail, trytes, the bundle hashes it approves): an approver of a reattached
        walks = []  # bundle of ours, a tail itself or (walks) one to follow down to its tail
        for a, trytes in found:
            approved = {tails[p] for p in (trytes[_TRUNK], trytes[_BRANCH]) if p in tails}  # in place: parsing 0.2 ms
            if trytes[_BUNDLE] not in ours:
                foreign.update(approved)
            elif trytes[_BUNDLE] not in given_up:
                carried.update(approved)
            elif approved:
                (tailed if trytes_to_int(trytes[_INDEX]) == 0 else walks).append((a, trytes, approved))
        for tail, trytes, approved in tailed + self._tails_of(walks):
            if tail is None or not _given_up(ours[trytes[_BUNDLE]], tail):
                carried.update(approved)
        return carried | foreign, foreign - carried

    def _given_up_bundles(self):
        """{bundle hash: None} of our items reattached (the newest REATTACHED_MAX): read from the outbox once, then
        kept as the forwarder reattaches."""
        if self._reattached is None:
            self._reattached = dict.fromkeys(self.outbox.reattached()[-REATTACHED_MAX:])
        while len(self._reattached) > REATTACHED_MAX:
            del self._reattached[next(iter(self._reattached))]
        return self._reattached

    def _tails_of(self, walks):
        """(tail of its attachment or None, trytes, approved) for each (approver, trytes, approved) of ``walks``: down
        the attachment's trunk chain (transaction i approves i + 1 by its trunk), one node call per level; None where
        the chain breaks off on the node."""
        out = []
        while walks:
            below = self.node.find_transactions(approvees=[a for a, _, _ in walks])
            found = {}  # (approved hash, bundle, index) -> hash of the transaction one below in that attachment
            for h, trytes in zip(below, self.node.get_trytes(below) if below else []):
                found[(trytes[_TRUNK], trytes[_BUNDLE], trytes_to_int(trytes[_INDEX]))] = (h, trytes)
            next_walks = []
            for a, trytes, approved in walks:
                step = found.get((a, trytes[_BUNDLE], trytes_to_int(trytes[_INDEX]) - 1))
                if step is None:
                    out.append((None, trytes, approved))
                elif trytes_to_int(step[1][_INDEX]) == 0:
                    out.append((step[0], trytes, approved))
                else:
                    next_walks.append((step[0], step[1], approved))
            walks = next_walks
        return out

    # -- observability -------------------------------------------------------------------------------------------

    def stats(self):
        """A snapshot, flat where a metrics exporter reads numbers: ``attached``, ``stored``, ``confirmed``,
        ``reattaches``, ``order_gaps_skipped`` (counts), ``counters`` (also refused, dead_lettered, node_failures,
        pow_failures, discarded),
        ``pow_buckets`` {upper bound s: cumulative count}, ``pow_sum``, ``pow_count``, ``pow_latency`` (buckets, sum,
        count and recent samples), ``confirmation_lag`` (seconds from receipt to confirmation of the last confirmed
        item) and ``confirmation_lag_histogram``, ``breaker`` (``closed``/``open``/``half_open``), ``breaker_opens``,
        ``breaker_half_opens``, ``breaker_failures`` (consecutive), ``breaker_retry_in`` (s), ``node_up`` (None
        before the first call), ``latest_milestone``, ``in_flight`` (PoW jobs), ``order_held`` (devices whose next
        seq waits for a missing one), ``workers``, ``pow_threads``, ``pow`` (mode)."""
        pow_latency = self.pow_latency.snapshot()
        lag = self.confirmation_lag.snapshot()
        b = self.breaker.snapshot()
        return {
            "attached": self.counters["attached"], "stored": self.counters["stored"],
            "confirmed": self.counters["confirmed"], "reattaches": self.counters["reattached"],
            "order_gaps_skipped": self.counters["order_gaps_skipped"], "counters": dict(self.counters),
            "pow_buckets": {le: n for le, n in pow_latency["buckets"][:-1]},
            "pow_sum": pow_latency["sum"], "pow_count": pow_latency["count"], "pow_latency": pow_latency,
            "confirmation_lag": lag["samples"][-1] if lag["samples"] else None,
            "confirmation_lag_histogram": lag,
            "breaker": b["state"], "breaker_opens": b["opens"], "breaker_half_opens": b["half_opens"],
            "breaker_failures": b["consecutive_failures"], "breaker_retry_in": b["retry_in"],
            "node_up": self.node_up, "latest_milestone": self._milestone, "in_flight": len(self._jobs),
            "order_held": len(self._held), "workers": self.workers, "pow_threads": self.pow_threads, "pow": self.pow,
        }
