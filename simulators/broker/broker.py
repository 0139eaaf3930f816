"""An embedded MQTT broker for demos and tests when mosquitto is not installed: MQTT 3.1.1 and the MQTT 5 subset the
gateway uses, on asyncio in a background thread.

    from simulators.broker import Broker
    with Broker(users={"gateway": "gwpass", "meter-7": "pw7"}) as b:    # port=0: a free loopback port
        url = "mqtt://meter-7:pw7@127.0.0.1:%d" % b.port

What it does: CONNECT with username/password (plain, or mosquitto ``$7$`` PBKDF2-SHA512 lines from a password file),
QoS 0 and 1 (PUBACK; QoS 1 messages to a subscriber stay in flight until it acknowledges them, and are sent again
with DUP after it reconnects), persistent sessions (3.1.1 clean session 0, or 5 clean start 0 with a session expiry
interval above 0) that keep subscriptions and queue QoS 1 messages while the client is away, wildcard filters ``+``
and ``#`` (not matching topics that start with ``$``), shared subscriptions ``$share/GROUP/FILTER`` (each message to
one member, round robin, connected members first), keepalive (a client silent for 1.5 x its keepalive is dropped),
session takeover by client id. What it does not: QoS 2 (a QoS 2 PUBLISH closes the connection), retained messages,
wills, ACLs, TLS, topic aliases and the other MQTT 5 properties (parsed and ignored). Not for production.
"""
import asyncio
import base64
import hashlib
import hmac
import itertools
import struct
import threading

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14
MAX_QUEUE = 10000


class ProtocolError(Exception):
    pass


def load_password_file(path):
    """{user: stored} from a mosquitto password file (``user:$7$...`` lines) or plain ``user:password`` lines."""
    users = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                user, stored = line.split(":", 1)
                users[user] = stored
    return users


def check_password(stored, given):
    if stored.startswith("$7$"):
        _, _, iterations, salt, digest = stored.split("$")
        got = hashlib.pbkdf2_hmac("sha512", given.encode(), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))
    return hmac.compare_digest(stored.encode(), given.encode())


def topic_matches(filt, topic):
    """MQTT filter matching (3.1.1 section 4.7): ``+`` one level, ``#`` the rest; ``$`` topics need a literal."""
    if topic.startswith("$") and filt[:1] in ("+", "#"):
        return False
    f, t = filt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind, flags, body):
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def u8(self):
        if self.pos >= len(self.data):
            raise ProtocolError("packet too short")
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self):
        if self.pos + 2 > len(self.data):
            raise ProtocolError("packet too short")
        self.pos += 2
        return struct.unpack_from(">H", self.data, self.pos - 2)[0]

    def varint(self):
        n, mult = 0, 1
        for _ in range(4):
            b = self.u8()
            n += (b & 0x7F) * mult
            if not b & 0x80:
                return n
            mult *= 128
        raise ProtocolError("bad variable integer")

    def raw(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolError("packet too short")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def string(self):
        return self.raw(self.u16()).decode("utf-8")

    def properties(self):
        """MQTT 5 properties: returns {id: value} for the few read here (0x11 session expiry), skips the rest."""
        end = self.varint() + self.pos
        props = {}
        while self.pos < end:
            pid = self.varint()
            if pid in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
                props[pid] = self.u8()
            elif pid in (0x13, 0x21, 0x22, 0x23):
                props[pid] = self.u16()
            elif pid in (0x02, 0x11, 0x18, 0x27):
                props[pid] = struct.unpack(">I", self.raw(4))[0]
            elif pid == 0x0B:
                props[pid] = self.varint()
            elif pid in (0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F):
                props[pid] = self.raw(self.u16())
            elif pid == 0x26:
                props.setdefault(pid, []).append((self.string(), self.string()))
            else:
                raise ProtocolError("unknown property 0x%02x" % pid)
        return props


class Session:
    """What the broker keeps per client id: subscriptions, QoS 1 messages queued or in flight, packet ids."""

    def __init__(self, client_id, persistent):
        self.client_id = client_id
        self.persistent = persistent
        self.subs = {}            # filter -> (qos, share group or None)
        self.queue = []           # (topic, payload) QoS 1 waiting for a connection
        self.inflight = {}        # pid -> (topic, payload)
        self.conn = None
        self._pids = itertools.cycle(range(1, 65536))

    def next_pid(self):
        for pid in self._pids:
            if pid not in self.inflight:
                return pid


class _Conn:
    def __init__(self, broker, reader, writer):
        self.broker, self.reader, self.writer = broker, reader, writer
        self.session = None
        self.version = 4
        self.keepalive = 0

    def send(self, data):
        if not self.writer.is_closing():
            self.writer.write(data)

    async def read_packet(self):
        timeout = self.keepalive * 1.5 if self.keepalive else None
        first = await asyncio.wait_for(self.reader.readexactly(1), timeout)
        n, mult = 0, 1
        for _ in range(4):
            b = (await self.reader.readexactly(1))[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        else:
            raise ProtocolError("bad remaining length")
        return first[0] >> 4, first[0] & 0x0F, await self.reader.readexactly(n)

    async def serve(self):
        try:
            kind, flags, body = await asyncio.wait_for(self.read_packet(), 10)
            if kind != CONNECT or not self.on_connect(_Reader(body)):
                return
            while True:
                kind, flags, body = await self.read_packet()
                if kind == DISCONNECT:
                    return
                self.broker.handle(self, kind, flags, _Reader(body))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ProtocolError, UnicodeError):
            return
        finally:
            self.broker.detach(self)
            self.writer.close()

    def on_connect(self, r):
        if r.string() not in ("MQTT", "MQIsdp"):
            raise ProtocolError("not MQTT")
        self.version = r.u8()
        flags = r.u8()
        self.keepalive = r.u16()
        expiry = 0
        if self.version == 5:
            expiry = r.properties().get(0x11, 0)
        client_id = r.string()
        if flags & 0x04:  # will: read and ignore
            if self.version == 5:
                r.properties()
            r.string()
            r.raw(r.u16())
        user = r.string() if flags & 0x80 else None
        password = r.raw(r.u16()).decode("utf-8", "replace") if flags & 0x40 else None
        clean = bool(flags & 0x02)
        if self.version not in (3, 4, 5):
            self.send(_packet(CONNACK, 0, b"\x00\x01"))
            return False
        if not self.broker.authenticate(user, password):
            self.send(_packet(CONNACK, 0, b"\x00\x86\x00" if self.version == 5 else b"\x00\x05"))
            return False
        if not client_id:
            client_id = "auto-%d" % next(self.broker.auto_ids)
        persistent = (not clean) if self.version != 5 else expiry > 0
        present = self.broker.attach(self, client_id, clean, persistent)
        self.send(_packet(CONNACK, 0, bytes([1 if present else 0, 0]) + (b"\x00" if self.version == 5 else b"")))
        self.broker.resume(self.session)
        return True


class Broker:
    """The broker; ``start()`` (or ``with``) serves on ``host:port`` from a background thread."""

    def __init__(self, host="127.0.0.1", port=0, users=None, password_file=None):
        self.host = host
        self.port = port
        self.users = dict(users or {})
        if password_file:
            self.users.update(load_password_file(password_file))
        self.sessions = {}
        self.share_turn = {}
        self.auto_ids = itertools.count(1)
        self.stats = {"connections": 0, "published": 0, "delivered": 0, "dropped": 0}
        self._loop = None
        self._server = None
        self._thread = None

    # -- life cycle
    def start(self):
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def boot():
            self._server = await asyncio.start_server(self._client, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def main():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, name="iota-edge-broker", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the broker did not start")
        return self

    def close(self):
        if self._loop is None:
            return

        async def stop():
            self._server.close()
            for s in list(self.sessions.values()):
                if s.conn is not None:
                    s.conn.writer.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def kick(self, client_id):
        """Drop a client's connection (as a network failure would); its persistent session stays."""
        def do():
            s = self.sessions.get(client_id)
            if s is not None and s.conn is not None:
                s.conn.writer.transport.abort()
        self._loop.call_soon_threadsafe(do)

    async def _client(self, reader, writer):
        self.stats["connections"] += 1
        await _Conn(self, reader, writer).serve()

    # -- sessions
    def authenticate(self, user, password):
        if not self.users:
            return True
        stored = self.users.get(user)
        return stored is not None and password is not None and check_password(stored, password)

    def attach(self, conn, client_id, clean, persistent):
        old = self.sessions.get(client_id)
        if old is not None and old.conn is not None:  # takeover: the older connection goes
            old.conn.writer.transport.abort()
            old.conn.session = None
            old.conn = None
        present = old is not None and not clean and old.persistent
        session = old if present else Session(client_id, persistent)
        session.persistent = persistent
        session.conn = conn
        conn.session = session
        self.sessions[client_id] = session
        return present

    def detach(self, conn):
        s = conn.session
        if s is None or s.conn is not conn:
            return
        s.conn = None
        if not s.persistent:
            for topic, payload in s.inflight.values():  # shared-subscription messages go to another member
                self._requeue_shared(s, topic, payload)
            del self.sessions[s.client_id]

    def resume(self, s):
        for pid, (topic, payload) in sorted(s.inflight.items()):
            s.conn.send(self._publish_packet(s, topic, payload, 1, pid, dup=True))
        queued, s.queue = s.queue, []
        for topic, payload in queued:
            self._deliver(s, topic, payload, 1)

    # -- packets
    def handle(self, conn, kind, flags, r):
        s = conn.session
        if kind == PUBLISH:
            qos = (flags >> 1) & 3
            if qos > 1:
                raise ProtocolError("QoS 2 is not supported")
            topic = r.string()
            pid = r.u16() if qos else None
            if conn.version == 5:
                r.properties()
            payload = r.data[r.pos:]
            self.route(topic, payload, qos)
            if qos == 1:
                conn.send(_packet(PUBACK, 0, struct.pack(">H", pid)))
        elif kind == PUBACK:
            s.inflight.pop(r.u16(), None)
        elif kind == SUBSCRIBE:
            pid = r.u16()
            if conn.version == 5:
                r.properties()
            codes = []
            while r.pos < len(r.data):
                filt = r.string()
                qos = min(r.u8() & 3, 1)
                group = None
                if filt.startswith("$share/"):
                    parts = filt.split("/", 2)
                    if len(parts) < 3 or not parts[1] or not parts[2]:
                        codes.append(0x80)
                        continue
                    group, filt = parts[1], parts[2]
                s.subs[(group, filt)] = qos
                codes.append(qos)
            props = b"\x00" if conn.version == 5 else b""
            conn.send(_packet(SUBACK, 0, struct.pack(">H", pid) + props + bytes(codes)))
        elif kind == UNSUBSCRIBE:
            pid = r.u16()
            if conn.version == 5:
                r.properties()
            n = 0
            while r.pos < len(r.data):
                filt = r.string()
                group = None
                if filt.startswith("$share/"):
                    _, group, filt = filt.split("/", 2)
                s.subs.pop((group, filt), None)
                n += 1
            body = struct.pack(">H", pid) + (b"\x00" + b"\x00" * n if conn.version == 5 else b"")
            conn.send(_packet(UNSUBACK, 0, body))
        elif kind == PINGREQ:
            conn.send(_packet(PINGRESP, 0, b""))
        else:
            raise ProtocolError("unexpected packet type %d" % kind)

    def route(self, topic, payload, qos):
        self.stats["published"] += 1
        groups = {}
        for s in list(self.sessions.values()):
            best = None
            for (group, filt), sub_qos in s.subs.items():
                if topic_matches(filt, topic):
                    if group is None:
                        best = max(best or 0, sub_qos) if best is not None else sub_qos
                    else:
                        groups.setdefault((group, filt), []).append((s, sub_qos))
            if best is not None:
                self._deliver(s, topic, payload, min(qos, best))
        for key, members in groups.items():
            self._deliver_shared(key, members, topic, payload, qos)

    def _deliver_shared(self, key, members, topic, payload, qos):
        members.sort(key=lambda m: m[0].client_id)
        online = [m for m in members if m[0].conn is not None] or members
        turn = self.share_turn.get(key, 0)
        s, sub_qos = online[turn % len(online)]
        self.share_turn[key] = turn + 1
        self._deliver(s, topic, payload, min(qos, sub_qos))

    def _requeue_shared(self, gone, topic, payload):
        for (group, filt) in gone.subs:
            if group is not None and topic_matches(filt, topic):
                members = [(s, q) for s in self.sessions.values() if s is not gone
                           for (g, f), q in s.subs.items() if (g, f) == (group, filt)]
                if members:
                    self._deliver_shared((group, filt), members, topic, payload, 1)
                return

    def _deliver(self, s, topic, payload, qos):
        if s.conn is None:
            if qos == 1 and s.persistent:
                if len(s.queue) >= MAX_QUEUE:
                    s.queue.pop(0)
                    self.stats["dropped"] += 1
                s.queue.append((topic, payload))
            return
        pid = None
        if qos == 1:
            pid = s.next_pid()
            s.inflight[pid] = (topic, payload)
        s.conn.send(self._publish_packet(s, topic, payload, qos, pid))
        self.stats["delivered"] += 1

    @staticmethod
    def _publish_packet(s, topic, payload, qos, pid, dup=False):
        body = _str(topic) + (struct.pack(">H", pid) if qos else b"")
        if s.conn.version == 5:
            body += b"\x00"
        return _packet(PUBLISH, (0x08 if dup else 0) | qos << 1, body + payload)
