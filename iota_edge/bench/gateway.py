"""Gateway benchmark: readings per second end to end, against the raw Proof-of-Work rate of the same machine in the
same run; then the RSS of the pipeline over a long run.

    python -m iota_edge.bench gateway                              # MWM 9, 600 readings; memory: 100 000 at MWM 1
    python -m iota_edge.bench gateway --readings 2000 --layout split --memory-readings 0 --json

The readings are signed as the firmware signs them (MAM public, security 1, 16 leaves per tree, an energy meter's
three values; 8 devices), so each is a 2-transaction bundle. Per CPU layout:

- ``split`` (default with 2+ CPUs): the node runs on ``--node-cpus`` CPUs of its own and the gateway on the rest, as
  in a deployment where the node is another machine; ``shared``: everything on every CPU, the node's validation
  competing with the PoW. ``--layout both`` (default) measures both.
- PoW-bound: attach_to_tangle of exactly the bundles the gateway builds for these readings, one bundle per gateway
  CPU at a time (one kernel thread each), nothing else running; measured before, between and after the two runs
  below, each run being compared with the mean of the two measurements either side of it (a VM's speed drifts).
- End to end from the outbox: a producer thread puts the bundles into a fresh SQLite outbox; the Forwarder (PoW on
  the gateway) attaches, stores and broadcasts them to the project's node (its own process, loopback HTTP), waits
  for the coordinator's milestones (every 0.5 s); an acknowledger acks and prunes.
- End to end through the gateway service (iota_edge.gateway.Gateway): every signed wire message is handed to it at
  once through an in-process transport; it verifies, builds, stores in the outbox, forwards, and sends the
  ``confirmed`` acknowledgements back, which the benchmark waits for. Only the radio/MQTT link is left out.

Each prints readings/s to "stored on the node" and to "confirmed and acknowledged", the ratio to the PoW-bound rate
(the bar: >= 0.9), and the CPU per reading of the gateway process (PoW included) and of the node, with the CPU ratio
(the PoW-bound's CPU per reading over the gateway's: blind to time the VM's host steals, which moves the wall-clock
ratios); for the service also the PoW workers' share of the gateway's CPU in the same run, steadier still: the host's
speed and the nonce searches' luck move both sides of it alike. ``--rounds N`` runs both pipelines N times, each
between two PoW-bound measurements, and prints the medians.

Memory: the outbox pipeline at ``--memory-mwm`` (default 1: at MWM 9 a 100 000-reading run takes hours on 2 cores),
fed from a pool of ``--pool`` finalized bundles that are put again once the previous put of the same bundle has
been confirmed, acknowledged and pruned (the outbox keeps pool/4 tombstones): finalizing 100 000 distinct bundles in
Python would dominate the run. The resident set size of this process (outbox, forwarder, producer) is sampled every
second; the slope over the second half (KiB per 1000 readings) and the range are printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NULL_HASH = "9" * 81
MESSAGE_BYTES = 2500  # 3 transactions, as a signed MAM reading at security 2


def make_readings(n, devices=8, offset=0):
    """n unattached 3-transaction bundles as (device, seq, bundle_hash, trytes), interleaved over devices."""
    from iota_edge.bundle import prepare_transfer
    from iota_edge.trinary import int_to_trytes

    out = []
    for i in range(offset, offset + n):
        device, seq = "bench-%d" % (i % devices), i // devices
        address = ("GW" + int_to_trytes(i, 12)).ljust(81, "9")
        message = (b"%s:%d:" % (device.encode(), seq)).ljust(MESSAGE_BYTES, b"r")
        trytes = prepare_transfer(None, [{"address": address, "message": message, "tag": "GWBENCH"}])
        out.append((device, seq, _bundle_of(trytes), trytes))
    return out


def ingest_costs(n=16):
    """Median CPU milliseconds per reading of the gateway's ingestion steps that run before the outbox: verifying a
    signed MAM reading (iota_edge.gateway.verify) alone and, per reading, in a burst of ``n`` (Verifier.prepare, as
    the gateway's ingestion does), and building its bundle (gateway.service.build_bundle)."""
    from iota_edge import wire
    from iota_edge.gateway.service import build_bundle
    from iota_edge.gateway.verify import Registry, Verifier
    from iota_edge.streams import Channel
    from iota_edge.streams.reading import reading_to_trytes

    ch = Channel("GATEWAY9BENCH" + "9" * 68, mode="public", count=n, next_count=n)
    ups = []
    for seq in range(n):
        m = ch.create_message(reading_to_trytes("bench", seq, 1700000000 + seq, [("p", 1.5 * seq, "W")]))
        ups.append(wire.decode(wire.encode_up("bench", seq, m.root, m.payload, "public")))
    verifier = Verifier(Registry({"bench": {"root": ups[0].root, "mode": "public"}}))
    verify, build = [], []
    for up in ups:
        t = time.process_time()
        verifier.verify(up)
        verify.append(time.process_time() - t)
        t = time.process_time()
        build_bundle(up.root, up.mode, up.payload, 1700000000 + up.seq)
        build.append(time.process_time() - t)
    bursts = []  # the gateway's way: the n as one burst (Verifier.prepare, then verify each), best of 3
    for _ in range(3):
        verifier = Verifier(Registry({"bench": {"root": ups[0].root, "mode": "public"}}))
        t = time.process_time()
        verifier.prepare(ups)
        for up in ups:
            verifier.verify(up)
        bursts.append((time.process_time() - t) / n)
    return {"verify_ms": 1000 * sorted(verify)[n // 2], "verify_burst_ms": 1000 * min(bursts),
            "build_bundle_ms": 1000 * sorted(build)[n // 2]}


def signed_readings(n, devices=8, security=1, depth=4):
    """n signed readings as devices send them (the firmware's defaults: MAM public, security 1, 2**depth leaves per
    tree, an energy meter's three values), interleaved over ``devices``. Returns (messages, registry, bundles):
    messages [(device, wire bytes)], registry {device: entry} for devices.json, and the unattached bundle of each
    reading exactly as the gateway builds it (the PoW-bound rate is measured on these)."""
    from iota_edge import wire
    from iota_edge.gateway.service import build_bundle
    from iota_edge.streams import Channel
    from iota_edge.streams.reading import encode_batch
    from iota_edge.trinary import bytes_to_trytes, int_to_trytes

    channels = {}
    for d in range(devices):
        seed = ("BENCH9METER" + int_to_trytes(d + 1, 9)).ljust(81, "9")
        channels["meter-%d" % d] = Channel(seed, security=security, count=2 ** depth, next_count=2 ** depth)
    registry = {name: {"root": ch.root, "mode": "public"} for name, ch in channels.items()}
    messages, bundles = [], []
    for i in range(n):
        name = "meter-%d" % (i % devices)
        seq, ts = i // devices, 1700000000 + i
        data = encode_batch(name, seq, [(ts, [("e", 1000 + i, "Wh"), ("p", 1.5 * i, "W"), ("v", 230.1, "V")])])
        m = channels[name].create_message(bytes_to_trytes(data))
        messages.append((name, wire.encode_up(name, seq, m.root, m.payload, "public")))
        bundles.append(build_bundle(m.root, "public", m.payload, ts))
    return messages, registry, bundles


class _Feed:
    """The benchmark's in-process transport (the gateway.transport.Transport interface): hands the gateway signed
    wire messages as a link would and collects the acknowledgements it sends back."""

    name = "bench://feed"
    holds = False
    connected = True

    def __init__(self, want):
        self.want = want
        self.confirmed = set()
        self.other = []
        self.done = threading.Event()
        self.on_message = None

    def start(self, on_message):
        self.on_message = on_message

    def stop(self):
        pass

    def send(self, route, data):
        from iota_edge import wire

        ack = wire.decode(data)
        if ack.status == "confirmed":
            self.confirmed.add((ack.device, ack.seq))
            if len(self.confirmed) >= self.want:
                self.done.set()
        else:
            self.other.append((ack.device, ack.seq, ack.status, ack.reason))
        return True

    def stats(self):
        return {"connected": 1}

    def feed(self, device, data):
        from iota_edge.gateway.transport import Inbound

        self.on_message(Inbound(self, data, device))


def full_pipeline(messages, registry, url, mwm, workers, tmp, timeout=600):
    """The gateway service itself (iota_edge.gateway.Gateway: ingestion thread with verification, bundle building
    and the outbox; the forwarder; acknowledgements) fed every message at once through an in-process transport;
    seconds until every reading was stored on the node and until its ``confirmed`` ack came back."""
    import io

    from iota_edge.gateway.config import load_config
    from iota_edge.gateway.service import Gateway

    with open(os.path.join(tmp, "devices.json"), "w") as f:
        json.dump(registry, f)
    cfg = os.path.join(tmp, "gateway.toml")
    with open(cfg, "w") as f:
        f.write('[gateway]\nid = "bench"\ndata_dir = "gw"\n\n[node]\nurl = "%s"\nmwm = %d\nworkers = %d\n\n'
                '[devices]\nregistry = "devices.json"\n\n[[transports]]\nurl = "loop://"\n\n[log]\n'
                'level = "warning"\n' % (url, mwm, workers))
    feed = _Feed(len(messages))
    log = io.StringIO()
    config = load_config(cfg)
    config.transports = []  # the file needs one; the feed is the only link here (a loop:// port's thread costs CPU)
    gw = Gateway(config, transports=[feed], log_stream=log).start()
    try:
        cpu0 = time.process_time()
        started = time.monotonic()
        for device, data in messages:
            feed.feed(device, data)
        # Asleep until the last acknowledgement (each wake of this thread would take the CPU from the PoW worker);
        # the time every reading was stored is the forwarder's mark of its last storing pass.
        while not feed.done.wait(0.5):
            if gw.failed.is_set() or time.monotonic() - started > timeout:
                raise RuntimeError("the gateway did not confirm every reading: %d of %d; %s" % (
                    len(feed.confirmed), len(messages), log.getvalue()[-2000:]))
        done = time.monotonic()
        to_stored = _seconds_to_stored(gw.forwarder, len(messages), started, done)
        stats = gw.stats()
        threads = thread_cpu_seconds()
    finally:
        gw.stop()
    if feed.other:
        raise RuntimeError("unexpected acknowledgements, e.g. %r" % (feed.other[0],))
    return {"seconds_to_stored": to_stored, "seconds_to_confirmed": done - started,
            "gateway_cpu_seconds": time.process_time() - cpu0, "counters": stats["counters"],
            "rejects": stats["rejects"],
            "thread_cpu_seconds": {"ingest": threads.get("gateway ingest", 0.0),
                                   "forwarder": threads.get("gateway forwarder", 0.0),
                                   "pow_workers": sum(v for k, v in threads.items() if k.startswith("pow_"))}}


def thread_cpu_seconds():
    """{thread name: CPU seconds} of this process's live Python threads: each thread's CPU clock
    (``pthread_getcpuclockid``, nanoseconds), else Linux /proc (10 ms ticks: a short run can read 0), else {}. A
    one-thread nonce search runs on the PoW worker that asked for it when the worker's stack allows (glibc's 8 MiB
    threads), so a PoW worker's figure includes its searches; where the kernel starts a thread of its own, only the
    Python around them."""
    clock_of = getattr(time, "pthread_getcpuclockid", None)
    out = {}
    if clock_of is not None:
        for t in threading.enumerate():
            try:
                cpu = time.clock_gettime(clock_of(t.ident))
            except (OSError, OverflowError, TypeError):  # not started, or gone since enumerate()
                continue
            out[t.name] = out.get(t.name, 0.0) + cpu
        if out:
            return out
    names = {t.native_id: t.name for t in threading.enumerate()}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        name = names.get(int(tid))
        cpu = None if name is None else _stat_cpu("/proc/self/task/%s/stat" % tid)
        if cpu is not None:
            out[name] = out.get(name, 0.0) + cpu
    return out


def _seq_of(data):
    from iota_edge import wire

    return wire.decode(data).seq


def _bundle_of(trytes):
    from iota_edge.transaction import Transaction

    return Transaction.from_trytes(trytes[0]).bundle


def start_node(db, mwm, milestone_interval, cpus=None):
    """The project's node in its own process (on ``cpus`` only, when given); returns (process, url)."""
    cmd = [sys.executable, "-m", "simulators.node", "--port", "0", "--db", db, "--mwm", str(mwm),
           "--milestone-interval", str(milestone_interval)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pin = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env, preexec_fn=pin)
    line = proc.stdout.readline()
    if "listening on http://" not in line:
        proc.kill()
        raise RuntimeError("the node did not start: %r" % line)
    return proc, line.strip().split("listening on ")[1]


def cpu_seconds(pid):
    """utime + stime of a process from /proc (Linux), or None."""
    return _stat_cpu("/proc/%d/stat" % pid)


def _stat_cpu(path):
    """utime + stime in seconds from a /proc .../stat file, or None."""
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def pow_bound(readings, mwm, workers, threads):
    """(bundles per second, CPU seconds of this process per bundle) of attach_to_tangle over the readings,
    ``workers`` at a time, ``threads`` each."""
    import concurrent.futures

    from iota_edge.pow import attach_to_tangle

    cpu = time.process_time()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda r: attach_to_tangle(r[3], NULL_HASH, NULL_HASH, mwm, threads), readings))
    return len(readings) / (time.perf_counter() - started), (time.process_time() - cpu) / len(readings)


class Pipeline:
    """Outbox + Forwarder (its own thread and connection) + producer + acknowledger, against a node URL."""

    def __init__(self, tmp, url, mwm, workers, max_tombstones=1_000_000):
        from iota_edge.gateway.forwarder import Forwarder

        self.path = os.path.join(tmp, "outbox-%d.db" % int(time.time() * 1000))
        self.max_tombstones = max_tombstones
        from iota_edge.gateway.outbox import Outbox

        Outbox(self.path, max_tombstones=max_tombstones).close()  # create it before two threads open it
        self.forwarder = Forwarder(self.path, url, mwm=mwm, workers=workers)
        self.stop = threading.Event()
        self.errors = []
        self.put = 0
        self.acked = 0
        self.duplicates = 0

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # reported by finish(): a bench must not print figures of a dead pipeline
            self.errors.append(e)
            self.stop.set()

    def start(self, produce):
        self.threads = [threading.Thread(target=self._guard, args=(self.forwarder.run, self.stop), daemon=True),
                        threading.Thread(target=self._guard, args=(produce,), daemon=True)]
        for t in self.threads:
            t.start()

    def ack_until(self, total, devices, on_tick=None):
        """Acknowledge confirmed items and prune, until ``total`` were acknowledged."""
        from iota_edge.gateway.outbox import Outbox

        with Outbox(self.path, max_tombstones=self.max_tombstones) as box:
            while self.acked < total and not self.stop.is_set():
                for device in devices:
                    ready = box.ack_ready(device)
                    if ready:
                        self.acked += box.mark_acked(device, [i.seq for i in ready])
                box.prune()
                if on_tick is not None:
                    on_tick()
                time.sleep(0.2)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)
        if self.errors:
            raise RuntimeError("pipeline failed: %r" % (self.errors[0],))


def _seconds_to_stored(forwarder, n, started, done):
    """Seconds from ``started`` until every one of ``n`` readings was stored: the forwarder's mark of its last storing
    pass once it has stored them all, else ``done`` (the last acknowledgement)."""
    if forwarder is not None and forwarder.counters["stored"] >= n:
        return forwarder.last_stored - started
    return done - started


def end_to_end(readings, url, mwm, workers, tmp):
    from iota_edge.gateway.outbox import Outbox

    p = Pipeline(tmp, url, mwm, workers)

    def produce():
        with Outbox(p.path) as box:
            for device, seq, h, trytes in readings:
                box.put(device, seq, h, trytes)
                p.put += 1

    cpu0 = time.process_time()
    started = time.monotonic()
    try:
        p.start(produce)
        p.ack_until(len(readings), sorted({r[0] for r in readings}))
        done = time.monotonic()
        stats = p.forwarder.stats()
    finally:
        p.finish()
    return {"seconds_to_confirmed": done - started, "gateway_cpu_seconds": time.process_time() - cpu0,
            "seconds_to_stored": _seconds_to_stored(p.forwarder, len(readings), started, done),
            "pow_latency_mean_s": stats["pow_latency"]["sum"] / max(1, stats["pow_latency"]["count"]),
            "reattaches": stats["reattaches"]}


def memory_run(pool, total, url, mwm, workers, tmp, sample_s=1.0, report=None, stats=None):
    """RSS samples [(seconds, acknowledged readings, rss bytes)] over ``total`` readings cycled from ``pool``;
    ``stats``, a dict, gets ``skipped`` (pool bundles passed over because their tombstone was still kept: they were
    confirmed late) and the forwarder's ``reattaches``."""
    from iota_edge.gateway.outbox import Outbox

    p = Pipeline(tmp, url, mwm, workers, max_tombstones=max(1, len(pool) // 4))
    window = len(pool) // 2
    devices = sorted({r[0] for r in pool})

    def produce():
        seqs = {}
        with Outbox(p.path, max_tombstones=p.max_tombstones) as box:
            i = k = 0  # readings put, pool cursor
            while i < total and not p.stop.is_set():
                if i - p.acked >= window:  # at most half the pool in the outbox at once
                    time.sleep(0.05)
                    continue
                device, _, h, trytes = pool[k % len(pool)]
                k += 1
                seq = seqs.get(device, 0)
                if box.put(device, seq, h, trytes):
                    seqs[device] = seq + 1
                    p.put += 1
                    i += 1
                else:  # its tombstone is still kept (it was confirmed late): the next bundle of the pool instead
                    p.duplicates += 1
                    if p.duplicates % len(pool) == 0:
                        time.sleep(0.05)

    samples = []
    started = time.perf_counter()
    last = [0.0]

    def tick():
        now = time.perf_counter() - started
        if now - last[0] >= sample_s:
            last[0] = now
            samples.append((now, p.acked, rss_bytes()))
            if report is not None:
                report(samples[-1])

    try:
        p.start(produce)
        p.ack_until(total, devices, tick)
        samples.append((time.perf_counter() - started, p.acked, rss_bytes()))
    finally:
        p.finish()
    if stats is not None:
        stats.update(skipped=p.duplicates, reattaches=p.forwarder.counters["reattached"])
    return samples


def slope_kib_per_1000(samples):
    """Least-squares slope of RSS over acknowledged readings in the second half of the samples."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return 0.0
    xs = [s[1] for s in half]
    ys = [s[2] / 1024.0 for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return 1000.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def layouts(cpus, node_cpus, which):
    """[(name, gateway CPU set or None, node CPU set or None)]: ``split`` gives the node ``node_cpus`` CPUs of its
    own and the gateway the rest (a gateway whose node runs elsewhere, as in a deployment); ``shared`` lets both use
    every CPU (the node's validation then competes with the PoW)."""
    out = []
    avail = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(cpus))
    if which in ("split", "both") and len(avail) > node_cpus >= 1:
        out.append(("split", set(avail[: len(avail) - node_cpus]), set(avail[len(avail) - node_cpus:])))
    if which in ("shared", "both") or not out:
        out.append(("shared", None, None))
    return out


def _pin(cpus):
    """Restrict this thread (and the threads it starts from now on) to ``cpus``; returns the previous set."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    return before


def run(args):
    from iota_edge import _native

    if not _native.AVAILABLE:
        print("gateway bench: the C kernel is not built; nothing to measure", file=sys.stderr)
        return 2
    cpus = os.cpu_count() or 1
    result = {"backend": _native.BACKEND, "mwm": args.mwm, "readings": args.readings, "cpus": cpus, "layouts": {}}
    say = (lambda *a: None) if args.json else print
    say("gateway benchmark: %s, %d CPU(s), MWM %d, %d signed readings from 8 devices" % (
        _native.BACKEND, cpus, args.mwm, args.readings))
    t0 = time.perf_counter()
    messages, registry, bundles = signed_readings(args.readings)
    readings = [(device, _seq_of(data), _bundle_of(trytes), trytes)
                for (device, data), trytes in zip(messages, bundles)]
    result["transactions_per_reading"] = sum(len(b) for b in bundles) / len(bundles)
    say("  signed %d readings (%.1f transactions each, MAM security 1 as the firmware) in %.1f s" % (
        len(messages), result["transactions_per_reading"], time.perf_counter() - t0))
    result["ingest"] = ingest_costs()
    say("  ingestion CPU per reading, median of 16 (security 2): verify %.2f ms alone, %.2f ms in a burst of 16 "
        "(as the gateway), build the bundle %.2f ms" % (result["ingest"]["verify_ms"],
                                                         result["ingest"]["verify_burst_ms"],
                                                         result["ingest"]["build_bundle_ms"]))
    for name, gw_cpus, node_cpus in layouts(cpus, args.node_cpus, args.layout):
        before = _pin(gw_cpus)
        try:
            result["layouts"][name] = _layout_run(args, messages, registry, readings, gw_cpus, node_cpus, say)
        finally:
            _pin(before)
    if args.memory_readings:
        name, gw_cpus, node_cpus = layouts(cpus, args.node_cpus, args.layout)[0]
        workers = args.workers or (len(gw_cpus) if gw_cpus else cpus)
        say("memory: %d readings at MWM %d from a pool of %d bundles, layout %s (RSS of this process every second)"
            % (args.memory_readings, args.memory_mwm, args.pool, name))
        pool = make_readings(args.pool, offset=10_000_000)
        before = _pin(gw_cpus)
        with tempfile.TemporaryDirectory() as tmp:
            proc, url = start_node(os.path.join(tmp, "node.db"), args.memory_mwm, 0.5, node_cpus)
            try:
                extra = {}
                samples = memory_run(pool, args.memory_readings, url, args.memory_mwm, workers, tmp, stats=extra,
                                     report=None if args.json else _every(10, lambda s: print(
                                         "  %7.1f s %8d readings  RSS %7.1f MiB" % (s[0], s[1], s[2] / 1048576.0))))
            finally:
                proc.terminate()
                proc.wait(30)
                _pin(before)
        half = [s[2] for s in samples[len(samples) // 2:]]
        result["memory"] = {"readings": samples[-1][1], "seconds": samples[-1][0], "mwm": args.memory_mwm,
                            "rss_first_mib": samples[0][2] / 1048576.0, "rss_last_mib": samples[-1][2] / 1048576.0,
                            "rss_second_half_range_mib": (max(half) - min(half)) / 1048576.0,
                            "slope_kib_per_1000_readings": slope_kib_per_1000(samples), **extra}
        m = result["memory"]
        say("  %d readings in %.0f s; RSS %.1f -> %.1f MiB; second half: range %.2f MiB, slope %.1f KiB/1000 readings;"
            " %d reattaches, %d pool bundles skipped (confirmed late)"
            % (m["readings"], m["seconds"], m["rss_first_mib"], m["rss_last_mib"], m["rss_second_half_range_mib"],
               m["slope_kib_per_1000_readings"], m["reattaches"], m["skipped"]))
    if args.json:
        print(json.dumps(result))
    return 0


def _layout_run(args, messages, registry, readings, gw_cpus, node_cpus, say):
    n_cpus = len(gw_cpus) if gw_cpus else (os.cpu_count() or 1)
    workers = args.workers or n_cpus
    threads = max(1, n_cpus // workers)
    r = {"gateway_cpus": sorted(gw_cpus) if gw_cpus else "all", "node_cpus": sorted(node_cpus) if node_cpus else "all",
         "workers": workers, "threads_per_bundle": threads}
    say("  layout %s: gateway on CPU %s, node on CPU %s" % (
        "split" if gw_cpus else "shared", ",".join(map(str, sorted(gw_cpus))) if gw_cpus else "all",
        ",".join(map(str, sorted(node_cpus))) if node_cpus else "all (shared)"))
    # The PoW-bound rate is measured before, between and after the runs, and each run is compared with the mean of
    # the measurements either side of it: a VM's speed drifts over seconds, and a single measurement taken before
    # both runs made the ratios move by +-15% from one invocation to the next. --rounds repeats the runs and reports
    # the median.
    bound = pow_bound(readings, args.mwm, workers, threads)
    bounds, bound_cpu = [bound[0]], [bound[1]]
    say("    PoW-bound (attach_to_tangle, %d worker(s) x %d thread(s)) : %8.1f readings/s" % (
        workers, threads, bounds[0]))
    runs = (("outbox", "from the outbox (a producer puts the bundles)", lambda url, tmp: end_to_end(
                readings, url, args.mwm, workers, tmp)),
            ("gateway", "the gateway service from its inbox (verify, build, outbox, PoW, node, ack)",
             lambda url, tmp: full_pipeline(messages, registry, url, args.mwm, workers, tmp)))
    r["rounds"] = []
    for round_ in range(args.rounds):
        done = {}
        for name, label, fn in runs:
            with tempfile.TemporaryDirectory() as tmp:
                proc, url = start_node(os.path.join(tmp, "node.db"), args.mwm, 0.5, node_cpus)
                try:
                    e = fn(url, tmp)
                    e["node_cpu_seconds"] = cpu_seconds(proc.pid)
                finally:
                    proc.terminate()
                    proc.wait(30)
            bound = pow_bound(readings, args.mwm, workers, threads)
            bounds.append(bound[0])
            bound_cpu.append(bound[1])
            e["pow_bound_per_s"] = (bounds[-2] + bounds[-1]) / 2
            e["stored_per_s"] = args.readings / e["seconds_to_stored"]
            e["confirmed_per_s"] = args.readings / e["seconds_to_confirmed"]
            e["ratio_stored"] = e["stored_per_s"] / e["pow_bound_per_s"]
            e["ratio_confirmed"] = e["confirmed_per_s"] / e["pow_bound_per_s"]
            # CPU time is blind to the VM's stolen time and to other processes, which skew the wall-clock ratios
            e["pow_bound_cpu_s"] = (bound_cpu[-2] + bound_cpu[-1]) / 2
            e["ratio_cpu"] = e["pow_bound_cpu_s"] / (e["gateway_cpu_seconds"] / args.readings)
            done[name] = e
            say("    end to end, %s%s:" % (label, " (round %d)" % (round_ + 1) if args.rounds > 1 else ""))
            say("      PoW-bound after it %.1f readings/s; the ratios use the mean with the one before, %.1f" % (
                bounds[-1], e["pow_bound_per_s"]))
            say("      -> stored on the node                : %8.1f readings/s  (ratio %.2f)" % (
                e["stored_per_s"], e["ratio_stored"]))
            say("      -> confirmed and acknowledged        : %8.1f readings/s  (ratio %.2f)" % (
                e["confirmed_per_s"], e["ratio_confirmed"]))
            say("      CPU per reading: gateway process %.2f ms (PoW included), node %.2f ms; PoW-bound %.2f ms "
                "(CPU ratio %.2f)" % (1000 * e["gateway_cpu_seconds"] / args.readings,
                                      1000 * (e["node_cpu_seconds"] or 0) / args.readings,
                                      1000 * e["pow_bound_cpu_s"], e["ratio_cpu"]))
            if e.get("thread_cpu_seconds"):
                t = e["thread_cpu_seconds"]
                # The PoW workers' share of the process's CPU over the same run: what the ratio would be if the
                # PoW-bound's searches had cost what these did. The VM's speed and the searches' luck (each nonce
                # search a geometric draw) move both alike, so it is steadier than the ratios.
                e["pow_share"] = t["pow_workers"] / e["gateway_cpu_seconds"] if e["gateway_cpu_seconds"] else None
                say("      of which threads: ingestion %.2f ms, forwarder %.2f ms, PoW workers %.2f ms (their nonce "
                    "searches included where they run on the worker's own stack)"
                    % tuple(1000 * t[k] / args.readings for k in ("ingest", "forwarder", "pow_workers")))
                if e["pow_share"] is not None:
                    say("      PoW share of the gateway's CPU      : %.2f (the ratio at a PoW-bound that cost what "
                        "these searches did)" % e["pow_share"])
        r["rounds"].append(done)
    mid = (args.rounds - 1) // 2  # the median; of an even number of rounds, the lower of the middle two
    for name, _, _ in runs:  # the round with the median stored ratio
        r[name] = sorted((d[name] for d in r["rounds"]), key=lambda e: e["ratio_stored"])[mid]
    if args.rounds > 1:
        for name, label, _ in runs:
            ratios = sorted(d[name]["ratio_stored"] for d in r["rounds"])
            cpu = sorted(d[name]["ratio_cpu"] for d in r["rounds"])
            shares = sorted(d[name]["pow_share"] for d in r["rounds"] if d[name].get("pow_share") is not None)
            say("    %s: median of %d rounds: stored ratio %.2f (%s), CPU ratio %.2f (%s)%s" % (
                name, args.rounds, r[name]["ratio_stored"], " ".join("%.2f" % x for x in ratios),
                cpu[mid], " ".join("%.2f" % x for x in cpu),
                ", PoW share %.2f (%s)" % (shares[(len(shares) - 1) // 2], " ".join("%.2f" % x for x in shares))
                if shares else ""))
    r["pow_bound_per_s"] = sum(bounds) / len(bounds)
    r["pow_bound_samples"] = bounds
    return r


def _every(n, fn):
    count = [0]

    def call(sample):
        if count[0] % n == 0:
            fn(sample)
        count[0] += 1
    return call


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m iota_edge.bench gateway", description=__doc__.splitlines()[0])
    p.add_argument("--mwm", type=int, default=9, help="MWM of the throughput run (default 9)")
    p.add_argument("--readings", type=int, default=600, help="readings of the throughput run (default 600)")
    p.add_argument("--workers", type=int, default=None, help="bundles attached at once (default: one per CPU)")
    p.add_argument("--layout", choices=("split", "shared", "both"), default="both",
                   help="split: the node on CPUs of its own (--node-cpus), the gateway on the rest; shared: both on "
                        "every CPU; both (default)")
    p.add_argument("--node-cpus", type=int, default=1, help="CPUs the node gets in the split layout (default 1)")
    p.add_argument("--memory-readings", type=int, default=100_000, help="readings of the memory run (0: skip)")
    p.add_argument("--memory-mwm", type=int, default=1, help="MWM of the memory run (default 1)")
    p.add_argument("--pool", type=int, default=2000, help="distinct bundles cycled in the memory run (default 2000)")
    p.add_argument("--rounds", type=int, default=1,
                   help="runs of each pipeline, each between two PoW-bound measurements; the median is reported "
                        "(default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds: expected 1 or more, got %d" % args.rounds)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
