"""The reading pipeline: sample on a schedule, batch (bounded by size and age), sign with the device's MAM channel,
optionally attach (Proof-of-Work on the device), append to the store, send, free the store on the gateway's acks.

    from app.pipeline import Pipeline
    p = Pipeline(cfg, sensors, uplink, emit=print_event)   # opens the store and the device state (boot recovery)
    while True:
        p.step()                   # sample, seal, send, heartbeat when due
        uplink.poll(20)            # the uplink calls p.on_ack(seq, status) for each gateway acknowledgement

Order of work for one signed message (a power cut at any point loses at most the batch in RAM, and never signs a
one-time key twice):
1. seq = next seq; the device state {seq + 1, channel position after this leaf} is written atomically beside the
   store (``<store.path>.state``, write + rename) by the channel *before* it signs;
2. the batch is CBOR-encoded (iota_edge.streams.reading.encode_batch, the seq inside the signature) and signed;
3. with pow.where == "device" the message's bundle is attached on the device (trunk = branch = 81 nines: the
   device has no node to ask for tips; the gateway may reattach), else the gateway does it;
4. one wire Up (Up.seq = store seq = reading seq) is appended to the store; only then is it sent.
The store is freed cumulatively: acks may come in any order, Store.ack advances over the contiguous prefix.
"""
try:
    from time import ticks_ms, ticks_diff, ticks_add
except ImportError:  # CPython
    from app.mqtt import ticks_ms, ticks_diff, ticks_add

from app.store import Store
from iota_edge import wire
from iota_edge.device import GENESIS, make_channel
from iota_edge.streams.channel import Channel, payload_trits
from iota_edge.streams.reading import encode_batch
from iota_edge.streams.store import FileStore
from iota_edge.trinary import bytes_to_trytes

STATE_VERSION = 1
TAG = "IOTAEDGE"


def _values_per_sensor(s):
    if s["driver"] == "bme280" and s.get("quantity") is None:
        return 3
    return 2 if s["driver"] == "sim_climate" else 1


def max_record_bytes(cfg):
    """An upper bound of one stored record (a wire Up of a full batch) for this configuration."""
    per_sample = 12
    for s in cfg.sensors:
        per_sample += _values_per_sensor(s) * (3 + len(s["name"]) + 3 + 9 + 1 + max(len(s.get("unit", "")), 3))
    message_bytes = 24 + len(cfg.device) + cfg.sampling["batch_max"] * per_sample
    depth = cfg.channel["depth"]
    trits = payload_trits((1 << depth) - 1, 2 * message_bytes, cfg.channel["security"], depth)
    payload = (trits + 2) // 3 + 1
    up = payload + 81 + len(cfg.device) + 32
    if cfg.pow["where"] == "device":  # the attachment: trunk, branch, timestamp, a nonce per transaction
        up += 2 + 2 * (81 + 3) + 9 + 3 + ((payload + 2186) // 2187) * (27 + 2)
    return up


def makedirs(path):
    """mkdir -p for the folders above ``path`` (MicroPython's os has no makedirs)."""
    import os

    parts = path.strip("/").split("/")[:-1]
    cur = ""
    for part in parts:
        cur += "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass


class DeviceState:
    """The channel's store (``save(state)``) that also persists the next message seq, in one atomic JSON file.
    The seed is taken out before saving (the config holds it) and put back on load."""

    def __init__(self, path):
        self.file = FileStore(path)
        self.next_seq = 0

    def save(self, channel_state):
        d = dict(channel_state)
        d.pop("seed", None)
        self.file.save({"version": STATE_VERSION, "seq": self.next_seq, "channel": d})

    def load(self, seed):
        """The saved Channel (or None on a first boot); sets ``next_seq``."""
        state = self.file.load()
        if state is None:
            return None
        self.next_seq = state["seq"]
        ch = state["channel"]
        ch["seed"] = seed
        return Channel.from_state(ch, store=self)


class Pipeline:
    """One device's readings from sensor to store to uplink; see the module docstring."""

    def __init__(self, cfg, sensors, uplink=None, emit=None, clock=None, time_s=None, max_readings=None):
        from app.config import ConfigError

        self.cfg = cfg
        self.sensors = sensors
        self.uplink = uplink
        self.emit = emit or (lambda kind, **kw: None)
        self._clock = clock or ticks_ms
        if time_s is None:
            import time

            time_s = time.time
        self._time = time_s
        self.max_readings = max_readings
        # Two record-sized buffers, allocated first while the heap is still in one piece: a signed record (3-4 KB,
        # 8-11 KB with an attached bundle) is encoded into one and read back from flash into the other, so neither
        # needs a new block that size later, when signing has left the heap in small pieces.
        size = max_record_bytes(cfg)
        self._enc = bytearray(size)
        self._rx = bytearray(size)
        fs = cfg.board_profile.get("fs_root", "")
        path = fs + cfg.store["path"]
        makedirs(path)
        st = cfg.store
        self.store = Store(path, st["budget_bytes"], st["segment_bytes"], st["policy"])
        self.state = DeviceState(path + ".state")
        seed = cfg.seed()
        channel = self.state.load(seed)
        if channel is None:
            channel = make_channel(seed, cfg.channel, store=self.state)
        else:
            want = make_channel(seed, cfg.channel)
            if (channel.mode, channel.security, channel.side_key) != (want.mode, want.security, want.side_key):
                raise ConfigError("channel: differs from the one the device state was made with (mode, security or "
                                  "side_key changed); a new channel needs a new seed", "channel")
        self.channel = channel
        # Never reuse a seq: the state file is written before each signature, the store only after it.
        self.next_seq = max(self.state.next_seq, self.store.last_seq + 1)
        self.state.next_seq = self.next_seq
        self.samples = []
        self.produced = 0
        self.sealed = 0
        self.sent = 0
        self.acks = 0
        self.rejected = 0
        self.errors = 0
        self.outstanding = {}        # seq -> ticks sent (this boot), awaiting the gateway's ack
        self.acked = {}              # seq -> status, acked above the store cursor but not yet contiguous
        self._dirty = True
        now = self._clock()
        self._boot = now
        self._next_sample = now
        self._batch_started = now
        self._next_hb = ticks_add(now, int(cfg.heartbeat_s * 1000))
        self.interval_ms = max(1, int(cfg.sampling["interval_s"] * 1000))
        self.batch_age_ms = max(1, int(cfg.sampling["batch_age_s"] * 1000))
        self.ack_timeout_ms = int(cfg.uplink["ack_timeout_s"] * 1000)
        self.window = cfg.uplink["window"]
        s = self.store.stats()
        self.emit("boot", device=cfg.device, next_seq=self.next_seq, leaf=channel.start + channel.index,
                  pending=s["pending"], torn_tail_dropped=s["torn_tail_dropped"], corrupt_skipped=s["corrupt_skipped"])

    # ---- readings ----------------------------------------------------------------------------------------------

    def producing(self):
        return self.max_readings is None or self.produced < self.max_readings

    def sample(self):
        now_s = int(self._time())
        values = []
        for s in self.sensors:
            values.extend(s.read(now_s))
        if not self.samples:
            self._batch_started = self._clock()
        self.samples.append((now_s, values))
        self.produced += 1
        self.emit("produced", n=self.produced, t=now_s, values=[list(v) for v in values])

    def seal(self):
        """Sign the batch in RAM and append it to the store as one wire Up. Returns the seq, or None if refused."""
        cfg = self.cfg
        samples, self.samples = self.samples, []
        seq = self.next_seq
        trytes = bytes_to_trytes(encode_batch(cfg.device, seq, samples))
        self.state.next_seq = seq + 1          # saved with the channel position, before the signature
        try:
            msg = self.channel.create_message(trytes)
        except BaseException:
            self.state.next_seq = seq
            self.samples = samples + self.samples
            raise
        self.next_seq = seq + 1
        del trytes
        attachment = None
        if cfg.pow["where"] == "device":
            from iota_edge.pow import message_nonces

            # The nonces of the bundle the gateway rebuilds from the payload, whose timestamp is the reading's (its
            # first sample's): 27 trytes per transaction in the record, and no transaction string in this heap.
            stamp = int(self._time()) * 1000
            nonces = message_nonces(msg.address, TAG, msg.payload, samples[0][0], GENESIS, GENESIS,
                                    cfg.pow["mwm"], stamp)[0]
            attachment = (GENESIS, GENESIS, stamp, nonces)
        leaf = msg.key_index
        root = msg.root
        n = wire.encode_up(cfg.device, seq, root, msg.payload, msg.mode, into=self._enc, attachment=attachment)
        del msg, attachment
        up = memoryview(self._enc)[:n]
        try:
            ok = self.store.append(seq, up)
        except OSError as e:
            self.errors += 1
            self.emit("error", what="store", seq=seq, errno=e.args[0] if e.args else 0)
            return None
        self.sealed += 1
        if not ok:
            self.emit("refused", seq=seq, samples=len(samples))
            return None
        self._dirty = True
        self.emit("stored", seq=seq, samples=len(samples), bytes=n, leaf=leaf, root=root)
        return seq

    # ---- uplink ------------------------------------------------------------------------------------------------

    def pump(self):
        """Hand records to the uplink: oldest unacknowledged first, at most ``uplink.window`` awaiting acks;
        records unacknowledged for ``ack_timeout_s`` are sent again (the gateway deduplicates by (device, seq))."""
        up = self.uplink
        if up is None or not up.ready():
            self._dirty = True         # look at the store again once the uplink is back
            return
        now = self._clock()
        if self.outstanding:
            oldest = min(self.outstanding.values(), key=lambda t: ticks_diff(t, now))
            if ticks_diff(now, oldest) >= self.ack_timeout_ms:
                self.outstanding = {}
                self._dirty = True
        if not self._dirty or len(self.outstanding) >= self.window:
            return
        if up.holding():               # the read buffer still holds an Up the uplink may publish again
            return
        self._dirty = False
        # One new record per pass, read from flash without the ones awaiting or holding an ack: each payload is a
        # few KiB of a small heap.
        sent_or_acked = self.outstanding
        if self.acked:
            sent_or_acked = dict(self.outstanding)
            sent_or_acked.update(self.acked)
        for seq, payload in self.store.pending(1, skip=sent_or_acked, into=self._rx):
            if not up.send_up(payload):
                self._dirty = True     # no room in the uplink now: try again on a later step
                break
            self.outstanding[seq] = now
            self.sent += 1
            self._dirty = True
            self.emit("sent", seq=seq, bytes=len(payload))

    def on_ack(self, seq, status, reason=None):
        """A gateway acknowledgement (wire.Ack). stored/confirmed/duplicate free the record; rejected frees it too
        (it cannot become valid by resending) and is counted."""
        store = self.store
        if seq <= store.cursor or seq > store.last_seq or seq in self.acked:
            return
        self.acks += 1
        if status == "rejected":
            self.rejected += 1
        self.acked[seq] = status
        self.outstanding.pop(seq, None)
        self.emit("acked", seq=seq, status=status)
        last = None
        for s, _ in store.pending(len(self.acked), payloads=False):
            if s not in self.acked:
                break
            last = s
        if last is not None:
            store.ack(last)
            for s in list(self.acked):
                if s <= last:
                    del self.acked[s]
            self.emit("freed", upto=last, bytes=store.stats()["bytes"])
        self._dirty = True

    # ---- the loop ----------------------------------------------------------------------------------------------

    def stats(self):
        import gc

        s = self.store.stats()
        s["uptime_s"] = ticks_diff(self._clock(), self._boot) // 1000
        s["heap_free"] = gc.mem_free() if hasattr(gc, "mem_free") else -1
        s["produced"] = self.produced
        s["sealed"] = self.sealed
        s["sent"] = self.sent
        s["acks"] = self.acks
        s["rejected"] = self.rejected
        s["errors"] = self.errors
        if self.uplink is not None:
            s["reconnects"] = self.uplink.reconnects()
        return s

    def heartbeat(self):
        s = self.stats()
        self.emit("stats", **s)
        if self.uplink is not None and self.uplink.ready():
            self.uplink.send_hb(wire.encode_heartbeat(self.cfg.device, max(self.next_seq - 1, 0), s))

    def idle(self):
        """True once no more readings will come and every stored record is acknowledged."""
        return not self.producing() and not self.samples and self.store.stats()["pending"] == 0

    def step(self):
        """One pass: sample when due, seal when the batch is full or old, send, heartbeat when due. Returns the ms
        until the next sample is due (the caller may sleep or poll the uplink that long)."""
        now = self._clock()
        if self.producing() and ticks_diff(now, self._next_sample) >= 0:
            self.sample()
            self._next_sample = ticks_add(self._next_sample, self.interval_ms)
            if ticks_diff(now, self._next_sample) > self.interval_ms:   # far behind (a slow send): do not burst
                self._next_sample = ticks_add(now, self.interval_ms)
        if self.samples and (len(self.samples) >= self.cfg.sampling["batch_max"] or not self.producing()
                             or ticks_diff(now, self._batch_started) >= self.batch_age_ms):
            self.seal()
        self.pump()
        if ticks_diff(now, self._next_hb) >= 0:
            self._next_hb = ticks_add(now, int(self.cfg.heartbeat_s * 1000))
            self.heartbeat()
        wait = ticks_diff(self._next_sample, self._clock())
        return wait if wait > 0 else 0
