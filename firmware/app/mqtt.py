"""The device's MQTT 3.1.1 uplink: QoS 1 publishes that survive reconnects, and the device's ack topic.

    from app.mqtt import MqttClient, MqttError
    c = MqttClient("mqtts://broker:8883", "dev1", "secret", cadata=open("ca.der", "rb").read(),
                   on_message=lambda topic, payload: print(topic, payload), on_puback=store.ack)
    c.connect()                     # raises MqttError (reason "NOT_AUTHORIZED", ...) if the broker refuses
    pid = c.publish(b"...")         # to iota-edge/dev1/up, QoS 1; kept in flight until its PUBACK
    while True:
        for acked in c.poll(100):   # reads, keeps alive, reconnects with backoff, retransmits with DUP
            ...

Runs on MicroPython (unix port, ESP32, Pico W) and CPython. No umqtt: umqtt.robust re-sends a failed QoS 1
publish under a new packet id without DUP and retries every 2 s with no backoff. Here, per MQTT 3.1.1 §4.4, the
session is persistent (clean_session=0, client id = device id) and every unacknowledged PUBLISH is re-sent after a
reconnect with its original packet id and the DUP flag. The in-flight table lives in RAM; the durable copy is the
caller's (the store): a message counts as delivered only when on_puback(packet_id) fires or poll() returns its id.
"""
import socket
import sys

from iota_edge.errors import IotaEdgeError

# CPython (host tests) has no ticks_*: the fallback below. The type check against the board stubs treats _MICROPYTHON
# as True (tests/typecheck/pyrightconfig.*.json defineConstant), so it checks the branch a board runs.
_MICROPYTHON = sys.implementation.name == "micropython"
if _MICROPYTHON:
    from time import ticks_ms, ticks_diff, ticks_add, sleep_ms
else:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, delta):
        return a + delta

    def sleep_ms(ms):
        _time.sleep(ms / 1000)

try:
    import select
    _POLL = hasattr(select, "poll")
except ImportError:
    select = None
    _POLL = False

# CONNACK return codes, MQTT 3.1.1 §3.2.2.3
CONNACK_CODES = ("ACCEPTED", "UNACCEPTABLE_PROTOCOL_VERSION", "IDENTIFIER_REJECTED", "SERVER_UNAVAILABLE",
                 "BAD_USERNAME_OR_PASSWORD", "NOT_AUTHORIZED")
# Refusals that a retry cannot fix: poll() raises them (and "TLS" rejections) instead of backing off forever.
_FATAL = (1, 2, 4, 5)

_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH = 0x30
_PUBACK = 0x40
_SUBSCRIBE = 0x82  # §3.8.1: reserved flags 0010
_SUBACK = 0x90
_PINGREQ = 0xC0
_PINGRESP = 0xD0
_DISCONNECT = 0xE0

# in-flight entry fields: [packet id, topic bytes, payload, sent at least once]
_PID = 0
_TOPIC = 1
_PAYLOAD = 2
_SENT = 3


class MqttError(IotaEdgeError):
    """The broker refused us or broke the protocol, or the uplink is misused. ``reason`` is a short name
    (a CONNACK code name such as "NOT_AUTHORIZED", or "NETWORK", "TLS", "CONFIG", "PROTOCOL", "INFLIGHT_FULL",
    "SUBSCRIBE_REFUSED"); ``code`` is the
    CONNACK return code when there is one."""

    def __init__(self, message, reason, code=None, field=None):
        super().__init__(message, field)
        self.reason = reason
        self.code = code


def backoff_ms(attempt: int, base_ms: int, max_ms: int, rand16: int) -> int:
    """Delay before reconnect ``attempt`` (0-based): exponential, capped, with "equal jitter" so that a fleet that
    lost the same broker does not come back in step. ``rand16`` is a uniform integer in [0, 65536)."""
    cap = base_ms << (attempt if attempt < 20 else 20)
    if cap > max_ms:
        cap = max_ms
    half = cap >> 1
    return half + (((cap - half) * rand16) >> 16)


def parse_url(url: str) -> tuple:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` -> (host, port, tls)."""
    if url.startswith("mqtts://"):
        rest, tls, port = url[8:], True, 8883
    elif url.startswith("mqtt://"):
        rest, tls, port = url[7:], False, 1883
    else:
        raise MqttError("url must start with mqtt:// or mqtts://, got %r" % url, "CONFIG", field="url")
    rest = rest.rstrip("/")
    if ":" in rest:
        rest, p = rest.rsplit(":", 1)
        port = int(p)
    if not rest:
        raise MqttError("url has no host: %r" % url, "CONFIG", field="url")
    return rest, port, tls


def _put_str(buf, at, s):
    n = len(s)
    buf[at] = n >> 8
    buf[at + 1] = n & 0xFF
    buf[at + 2:at + 2 + n] = s
    return at + 2 + n


def _put_header(buf, kind, remaining):
    """Fixed header (§2.2): type/flags byte then the remaining length, 1 to 4 bytes. Returns its length."""
    buf[0] = kind
    i = 1
    while True:
        b = remaining & 0x7F
        remaining >>= 7
        if remaining:
            buf[i] = b | 0x80
            i += 1
        else:
            buf[i] = b
            return i + 1


class MqttClient:
    """One persistent MQTT 3.1.1 session for one device. Not thread-safe; call poll() often."""

    def __init__(self, url, device_id, password, on_message=None, on_puback=None, keepalive=60,
                 max_inflight=16, timeout_ms=5000, backoff_base_ms=1000, backoff_max_ms=300000, rng=None,
                 cadata=None, server_hostname=None, username=None, topic_prefix="iota-edge/", tx_size=512):
        self.host, self.port, self.tls = parse_url(url)
        if self.tls and cadata is None:
            raise MqttError("mqtts:// needs cadata: the broker's CA certificate in DER form", "CONFIG",
                            field="cadata")
        if not 0 < keepalive < 65536:
            raise MqttError("keepalive must be 1..65535 s", "CONFIG", field="keepalive")
        self.device_id = device_id
        self._client_id = device_id.encode()
        self._username = (username or device_id).encode()
        self._password = password.encode() if isinstance(password, str) else password
        self.up_topic = topic_prefix + device_id + "/up"
        self.ack_topic = topic_prefix + device_id + "/ack"
        self._up = self.up_topic.encode()
        self.on_message = on_message
        self.on_puback = on_puback
        self.keepalive = keepalive
        self.max_inflight = max_inflight
        self.timeout_ms = timeout_ms
        self.backoff_base_ms = backoff_base_ms
        self.backoff_max_ms = backoff_max_ms
        if rng is None:
            import random
            rng = random.getrandbits
        self._rng = rng
        self._ctx = self._tls_context(cadata) if self.tls else None
        self._server_hostname = server_hostname or self.host
        self._tx = bytearray(tx_size)        # one packet per write: avoids Nagle/delayed-ACK stalls
        self._rx = bytearray(256)
        self._inflight = []                  # small, ordered: entries [pid, topic, payload, sent]
        self._next_pid = 1
        self._sock = None
        self._poller = None
        self._write = None
        self._readinto = None
        self.connected = False
        self.session_present = False
        self.subscribed = False              # the broker granted the ack-topic subscription
        self.reconnects = 0                  # successful connects after the first
        self.attempt = 0                     # failed attempts since the last success
        self.last_backoff_ms = 0
        self._ever = False
        self._next_try = ticks_ms()
        self._last_tx = 0
        self._ping_sent = None
        self._peek = -1                      # first byte read by _readable when there is no select.poll

    # ---- public API -------------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the session now. Raises MqttError: the CONNACK code name for refusals, "NETWORK" otherwise."""
        try:
            self._open()
        except OSError as e:
            self._drop()
            raise MqttError("cannot reach %s:%d: %s" % (self.host, self.port, e), "NETWORK")
        except MqttError:
            self._drop()
            raise

    def inflight(self) -> list:
        """Packet ids sent or queued and not yet acknowledged, oldest first."""
        return [e[_PID] for e in self._inflight]

    def can_publish(self) -> bool:
        return len(self._inflight) < self.max_inflight

    def publish(self, payload: bytes, topic: "str | None" = None) -> int:
        """Queue a QoS 1 PUBLISH (to the device's up topic by default) and send it if connected. Returns its packet
        id; it stays in flight, across reconnects, until the broker's PUBACK. Raises MqttError "INFLIGHT_FULL" when
        max_inflight messages are unacknowledged: poll() until one is."""
        if len(self._inflight) >= self.max_inflight:
            raise MqttError("%d messages in flight, the most allowed" % self.max_inflight, "INFLIGHT_FULL")
        pid = self._alloc_pid()
        entry = [pid, self._up if topic is None else topic.encode(), payload, False]
        self._inflight.append(entry)
        if self.connected:
            try:
                self._send_publish(entry)
            except OSError:
                self._lost()
        return pid

    def poll(self, timeout_ms: int = 0) -> list:
        """Do the session's work for at most about ``timeout_ms``: read and handle packets, keep alive, reconnect
        when due. Returns the packet ids acknowledged during this call (on_puback is also called for each)."""
        acked = []
        if not self.connected:
            wait = ticks_diff(self._next_try, ticks_ms())
            if wait > 0:
                sleep_ms(wait if wait < timeout_ms else timeout_ms)
                return acked
            try:
                self._open()
            except OSError:
                self._failed()
                return acked
            except MqttError as e:
                if e.code in _FATAL or e.reason == "TLS":
                    self._drop()
                    raise
                self._failed()
                return acked
        try:
            self._service(timeout_ms, acked)
        except OSError:
            self._lost()
        except MqttError as e:
            if e.reason != "PROTOCOL":
                raise
            self._lost()
        return acked

    def close(self) -> None:
        """Send DISCONNECT (the broker keeps the session) and close. In-flight messages stay for the next connect."""
        if self.connected:
            try:
                self._tx[0] = _DISCONNECT
                self._tx[1] = 0
                self._send(memoryview(self._tx)[:2])
            except OSError:
                pass
        self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- connection ---------------------------------------------------------------------------------------------

    def _open(self):
        self._drop()
        # Every address the name has, in order, as CPython's create_connection: "localhost" is ::1 first on a stock
        # Debian, and a broker may listen on IPv4 only.
        err = OSError("%s: no address" % self.host)
        for ai in socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM):
            sock = socket.socket(ai[0], socket.SOCK_STREAM)
            self._sock = sock
            sock.settimeout(self.timeout_ms / 1000)
            try:
                sock.connect(ai[-1])
                break
            except OSError as e:
                err = e
                self._drop()
        else:
            raise err
        if self._ctx is not None:
            try:        # verifies the chain and the name
                sock = self._ctx.wrap_socket(sock, server_hostname=self._server_hostname)
            except ValueError as e:     # MicroPython's verify failures; CPython's SSLCertVerificationError too
                raise MqttError("TLS: the broker's certificate is rejected: %s" % str(e).strip(), "TLS")
            self._sock = sock
        self._write = getattr(sock, "write", None) or sock.send
        self._readinto = getattr(sock, "recv_into", None) or sock.readinto
        if _POLL:
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
        self._send_connect()
        if not self._readable(self.timeout_ms):
            raise OSError(110, "no CONNACK within %d ms" % self.timeout_ms)
        kind, body = self._read_packet()
        if kind != _CONNACK or len(body) != 2:
            raise MqttError("expected CONNACK, got packet type 0x%02x" % kind, "PROTOCOL")
        rc = body[1]
        if rc:
            name = CONNACK_CODES[rc] if rc < len(CONNACK_CODES) else "UNKNOWN"
            raise MqttError("broker %s:%d refused %s: %s (CONNACK %d)" % (self.host, self.port, self.device_id,
                                                                           name, rc), name, rc)
        self.session_present = bool(body[0] & 1)
        self.connected = True
        self._ping_sent = None
        if self._ever:
            self.reconnects += 1
        self._ever = True
        self.attempt = 0
        if not self.session_present:
            # The broker forgot us (first connect, or restarted without persistence): subscribe again (§3.2.2.2).
            self.subscribed = False
        if not self.subscribed:
            self._send_subscribe()
        for entry in self._inflight:        # §4.4: original packet ids, DUP set on those sent before
            self._send_publish(entry)

    @staticmethod
    def _tls_context(cadata):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            # DER bytes: MicroPython's mbedTLS build refuses PEM here ("invalid cert"); CPython takes both.
            ctx.load_verify_locations(cadata=cadata)
        except (ValueError, OSError) as e:
            raise MqttError("cadata is not a CA certificate in DER form: %s" % e, "CONFIG", field="cadata")
        return ctx

    def _failed(self):
        self._drop()
        self.last_backoff_ms = backoff_ms(self.attempt, self.backoff_base_ms, self.backoff_max_ms,
                                          self._rng(16))
        self.attempt += 1
        self._next_try = ticks_add(ticks_ms(), self.last_backoff_ms)

    def _lost(self):
        """A live connection broke: first retry soon (with jitter), then back off."""
        self._failed()

    def _drop(self):
        self.connected = False
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._poller = None
        self._peek = -1

    # ---- session work -------------------------------------------------------------------------------------------

    def _service(self, timeout_ms, acked):
        now = ticks_ms()
        if self._ping_sent is not None and ticks_diff(now, self._ping_sent) > self.timeout_ms:
            raise OSError(110, "no PINGRESP within %d ms" % self.timeout_ms)
        idle_limit = self.keepalive * 750    # ping at 3/4 of the keepalive: the broker drops us at 1.5x
        if self._ping_sent is None and ticks_diff(now, self._last_tx) >= idle_limit:
            self._tx[0] = _PINGREQ
            self._tx[1] = 0
            self._send(memoryview(self._tx)[:2])
            self._ping_sent = now
        until_ping = idle_limit - ticks_diff(now, self._last_tx)
        wait = timeout_ms if timeout_ms < until_ping else (until_ping if until_ping > 0 else 0)
        if not self._readable(wait):
            return
        n = 0
        while True:
            kind, body = self._read_packet()
            self._handle(kind, body, acked)
            n += 1
            if n >= 32 or not self.connected or not self._readable(0):
                return

    def _handle(self, kind, body, acked):
        t = kind & 0xF0
        self._ping_sent = None               # any packet from the broker proves the link
        if t == _PUBACK:
            pid = (body[0] << 8) | body[1]
            for i in range(len(self._inflight)):
                if self._inflight[i][_PID] == pid:
                    del self._inflight[i]
                    acked.append(pid)
                    if self.on_puback is not None:
                        self.on_puback(pid)
                    break
        elif t == _PUBLISH:
            qos = (kind >> 1) & 3
            n = (body[0] << 8) | body[1]
            topic = bytes(body[2:2 + n]).decode()
            at = 2 + n
            pid = 0
            if qos:
                if qos != 1:
                    raise MqttError("QoS %d PUBLISH on a QoS 1 subscription" % qos, "PROTOCOL")
                pid = (body[at] << 8) | body[at + 1]
                at += 2
            payload = bytes(body[at:])
            if self.on_message is not None:
                # Before the PUBACK: if the callback raises, the broker redelivers after a reconnect.
                self.on_message(topic, payload)
            if qos:
                self._send_ack(_PUBACK, pid)
        elif t == _SUBACK:
            if body[2] == 0x80:
                raise MqttError("broker refused the subscription to %s" % self.ack_topic, "SUBSCRIBE_REFUSED")
            self.subscribed = True
        elif t == _PINGRESP:
            pass
        else:
            raise MqttError("unexpected packet type 0x%02x" % kind, "PROTOCOL")

    def _alloc_pid(self):
        pid = self._next_pid
        while True:
            busy = False
            for e in self._inflight:
                if e[_PID] == pid:
                    busy = True
                    break
            if not busy:
                break
            pid = pid + 1 if pid < 65535 else 1
        self._next_pid = pid + 1 if pid < 65535 else 1
        return pid

    # ---- packets ------------------------------------------------------------------------------------------------

    def _buf(self, n):
        return self._tx if n <= len(self._tx) else bytearray(n)

    def _send_connect(self):
        # §3.1: variable header 10 bytes + client id + username + password
        rem = 10 + 2 + len(self._client_id) + 2 + len(self._username) + 2 + len(self._password)
        buf = self._buf(rem + 5)
        at = _put_header(buf, _CONNECT, rem)
        at = _put_str(buf, at, b"MQTT")
        buf[at] = 4                          # protocol level 3.1.1
        buf[at + 1] = 0xC0                   # username + password, clean_session = 0 (persistent session)
        buf[at + 2] = self.keepalive >> 8
        buf[at + 3] = self.keepalive & 0xFF
        at = _put_str(buf, at + 4, self._client_id)
        at = _put_str(buf, at, self._username)
        at = _put_str(buf, at, self._password)
        self._send(memoryview(buf)[:at])

    def _send_subscribe(self):
        topic = self.ack_topic.encode()
        rem = 2 + 2 + len(topic) + 1
        buf = self._buf(rem + 5)
        at = _put_header(buf, _SUBSCRIBE, rem)
        pid = self._alloc_pid()              # not in the in-flight table: SUBACK is matched by type only
        buf[at] = pid >> 8
        buf[at + 1] = pid & 0xFF
        at = _put_str(buf, at + 2, topic)
        buf[at] = 1                          # requested QoS 1
        self._send(memoryview(buf)[:at + 1])

    def _send_publish(self, entry):
        topic = entry[_TOPIC]
        payload = entry[_PAYLOAD]
        rem = 2 + len(topic) + 2 + len(payload)
        buf = self._buf(rem + 5)
        flags = _PUBLISH | 0x02              # QoS 1
        if entry[_SENT]:
            flags |= 0x08                    # DUP: this packet id may have reached the broker already
        at = _put_header(buf, flags, rem)
        at = _put_str(buf, at, topic)
        pid = entry[_PID]
        buf[at] = pid >> 8
        buf[at + 1] = pid & 0xFF
        at += 2
        buf[at:at + len(payload)] = payload
        entry[_SENT] = True                  # set before the write: a partial write counts as sent
        self._send(memoryview(buf)[:at + len(payload)])

    def _send_ack(self, kind, pid):
        b = self._tx
        b[0] = kind
        b[1] = 2
        b[2] = pid >> 8
        b[3] = pid & 0xFF
        self._send(memoryview(b)[:4])

    # ---- bytes --------------------------------------------------------------------------------------------------

    def _send(self, mv):
        n = len(mv)
        off = 0
        while off < n:
            k = self._write(mv[off:])
            if not k:
                raise OSError(32, "connection closed while writing")
            off += k
        self._last_tx = ticks_ms()

    def _readable(self, timeout_ms):
        if self._peek >= 0:
            return True
        sock = self._sock
        pending = getattr(sock, "pending", None)   # CPython ssl: bytes already decrypted are invisible to poll
        if pending is not None and pending():
            return True
        if self._poller is not None:
            return bool(self._poller.poll(timeout_ms))
        # No select.poll: block on the first byte with a socket timeout, keep it for _read_packet.
        sock.settimeout(timeout_ms / 1000)
        try:
            self._peek = self._recv(1)[0]
            return True
        except OSError:
            return False
        finally:
            sock.settimeout(self.timeout_ms / 1000)

    def _recv(self, n):
        buf = self._rx if n <= len(self._rx) else bytearray(n)
        mv = memoryview(buf)
        got = 0
        while got < n:
            k = self._readinto(mv[got:n])
            if not k:
                raise OSError(104, "connection closed by the broker")
            got += k
        return mv[:n]

    def _read_packet(self):
        kind = self._peek
        if kind < 0:
            kind = self._recv(1)[0]
        self._peek = -1
        rem = 0
        shift = 0
        while True:
            b = self._recv(1)[0]
            rem |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttError("remaining length longer than 4 bytes", "PROTOCOL")
        body = self._recv(rem) if rem else memoryview(b"")
        return kind, body
