"""The device's uplinks, chosen by ``uplink.url``: MQTT (app.mqtt) or a serial link (iota_edge.framing.Link).
Both carry the same CBOR messages (iota_edge.wire): Up and Heartbeat out, Ack in.

    from app.uplink import open_uplink
    up = open_uplink(cfg, on_ack=pipeline.on_ack)   # MqttUplink or SerialUplink
    up.send_up(data) -> bool    # False: no room now (MQTT in-flight table or serial window full), try later
    up.holding() -> bool        # the uplink still needs the buffer given to the last send_up
    up.send_hb(data)            # best effort
    up.poll(timeout_ms)         # I/O, reconnects with backoff, retransmissions; calls on_ack(seq, status, reason)

MQTT: QoS 1 on ``iota-edge/<device>/up`` and ``.../hb``, a persistent session (clean_session 0, client id = device
id) subscribed to ``.../ack``; reconnects back off exponentially with jitter (app.mqtt.backoff_ms). The
deduplication key of a reading is (device, seq), inside the signed message and on the wire.
Serial: ``serial://uart1?baud=115200`` (machine.UART) or ``serial:///dev/ttyX`` (a tty on the unix port, put in raw
mode); COBS frames with CRC-32, acknowledgements, retransmission and resynchronisation (iota_edge.framing).
"""
from iota_edge import wire
from iota_edge.errors import IotaEdgeError


def _decode_ack(device, data, on_ack):
    try:
        msg = wire.decode(data)
    except IotaEdgeError:
        return False
    if isinstance(msg, wire.Ack) and msg.device == device and on_ack is not None:
        on_ack(msg.seq, msg.status, msg.reason)
        return True
    return False


class MqttUplink:
    """QoS 1 uplink over app.mqtt.MqttClient."""

    def __init__(self, cfg, on_ack=None, tx_size=4096, rng=None):
        from app.mqtt import MqttClient

        up = cfg.uplink
        cadata = None
        if up["scheme"] == "mqtts":
            with open(cfg.path(up["ca"]), "rb") as f:
                cadata = f.read()
        self.device = cfg.device
        self.on_ack = on_ack
        self.hb_topic = wire.topics(cfg.device)[1]
        self._up_pid = None
        self.client = MqttClient(up["url"], cfg.device, cfg.password() or "", on_message=self._message,
                                 keepalive=up["keepalive_s"], max_inflight=up["window"] + 2,
                                 backoff_base_ms=up.get("backoff_base_ms", 500), backoff_max_ms=60000,
                                 cadata=cadata, username=up["user"], tx_size=tx_size, rng=rng)

    def _message(self, topic, payload):
        _decode_ack(self.device, payload, self.on_ack)

    def ready(self):
        return self.client.connected and self.client.can_publish()

    def connected(self):
        return self.client.connected

    def send_up(self, data):
        if not self.client.can_publish():
            return False
        self._up_pid = self.client.publish(data)
        return True

    def holding(self):
        """True while the last Up awaits the broker's PUBACK: the client keeps ``data`` to publish it again after a
        reconnect, so a buffer passed to send_up must not change until then."""
        return self._up_pid is not None and self._up_pid in self.client.inflight()

    def send_hb(self, data):
        if self.client.connected and self.client.can_publish():
            self.client.publish(data, self.hb_topic)

    def poll(self, timeout_ms=0):
        self.client.poll(timeout_ms)

    def reconnects(self):
        return self.client.reconnects

    def close(self):
        self.client.close()


class TtyStream:
    """A tty (a pty in tests) on the unix port as a non-blocking stream for Link: ``any()`` says whether a byte is
    waiting (select.poll), ``read(n)`` takes the bytes waiting, up to n, one read(1) each (a read of n would block
    until n arrive)."""

    def __init__(self, path):
        import select

        self.f = open(path, "r+b")
        try:
            import termios

            termios.setraw(self.f.fileno())
        except (ImportError, AttributeError, OSError):
            pass
        self._poll = select.poll()
        self._poll.register(self.f, select.POLLIN)
        self._one = bytearray(1)

    def any(self):
        return 64 if self._poll.poll(0) else 0

    def read(self, n):
        out = bytearray()
        while len(out) < n and self._poll.poll(0):
            if not self.f.readinto(self._one):
                break
            out += self._one
        return bytes(out)

    def write(self, data):
        return self.f.write(data)

    def close(self):
        self.f.close()


class SerialUplink:
    """The same messages as DATA frames of iota_edge.framing.Link (window = uplink.window frames in flight)."""

    def __init__(self, cfg, on_ack=None, stream=None, max_payload=4096):
        from iota_edge.framing import Link

        up = cfg.uplink
        if stream is None:
            if up["serial"].startswith("/"):
                stream = TtyStream(up["serial"])
            else:
                import machine

                stream = machine.UART(int(up["serial"][4:]), baudrate=up["baud"], rxbuf=1024)
        self.stream = stream
        self.device = cfg.device
        self.on_ack = on_ack
        self.window = up["window"]
        import random

        # A random first frame seq: a rebooted device is not taken for the tail of its previous session.
        self.link = Link(stream, on_data=self._data, window=up["window"], timeout_ms=up.get("frame_timeout_ms", 500),
                         retries=8, max_payload=max_payload, first_seq=random.getrandbits(16), read_size=256,
                         rx_max_payload=512)   # the device only receives acks
        self._timeouts = 0

    def _data(self, payload):
        _decode_ack(self.device, payload, self.on_ack)

    def ready(self):
        return self.link.pending() < self.window

    def connected(self):
        return self._timeouts == 0

    def send_up(self, data):
        if self.link.pending() >= self.window:
            return False
        self.link.send(data)
        return True

    def holding(self):
        """False: Link.send keeps its own copy of anything that is not bytes."""
        return False

    def send_hb(self, data):
        if self.link.pending() < self.window:
            self.link.send(data)

    def poll(self, timeout_ms=0):
        from iota_edge.framing import LinkTimeout

        try:
            got = self.link.poll()
            if got:
                self._timeouts = 0
        except LinkTimeout:
            self._timeouts += 1          # the frame stays queued; the next poll retries
        if timeout_ms and not got_any(self.stream):
            try:
                from time import sleep_ms
            except ImportError:
                import time

                def sleep_ms(ms):
                    time.sleep(ms / 1000)
            sleep_ms(timeout_ms if timeout_ms < 5 else 5)

    def reconnects(self):
        return self._timeouts

    def close(self):
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


def got_any(stream):
    w = getattr(stream, "in_waiting", None)
    if w is None and hasattr(stream, "any"):
        w = stream.any()
    return bool(w)


def open_uplink(cfg, on_ack=None, tx_size=4096):
    """The uplink ``cfg.uplink["url"]`` names."""
    if cfg.uplink["scheme"] == "serial":
        return SerialUplink(cfg, on_ack, max_payload=tx_size)
    return MqttUplink(cfg, on_ack, tx_size=tx_size)
