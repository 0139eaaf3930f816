"""Serial transport of the gateway: one pyserial port per URL, the device framing (iota_edge.framing.Link) on it.

    t = SerialTransport(transport_config)     # serial:///dev/ttyUSB0?baud=115200 or loop://
    t.start(on_message)                       # a thread polls the link; each DATA payload is one wire message
    t.send(None, ack_bytes)                   # acks go back on the same port (the port is the route)

A frame is acknowledged on the line (framing ACK) only after the service settled its message: durably in the outbox
or dead-lettered. When the service pushes back (outbox full, storage failure) the frame stays unacknowledged and the
device sends it again later, so it keeps its data. Garbage on the line is dropped by the framing decoder and
counted (``garbage_bytes``, ``bad_crc``, ``too_long`` in ``stats()``). A port that fails (unplugged adapter) is
reopened every ``reopen_s`` seconds.
"""
import collections
import os
import select
import threading

import serial as pyserial

from iota_edge.framing import Link, LinkTimeout
from iota_edge.gateway.transport import Inbound, Transport

SETTLE_TIMEOUT = 30.0  # seconds a frame waits for the service; past it the frame is left unacknowledged
IDLE_MAX_S = 0.02  # an idle port is looked at this often at least: the wait doubles from poll_s up to it
_MAX_ACKS_IN_FLIGHT = 16


class _PushBack(Exception):
    """Raised out of Link.on_data so the frame is not acknowledged (the device resends it)."""


class SerialTransport(Transport):
    """One serial port. ``opener(url, **kw)`` defaults to pyserial's ``serial_for_url`` (tests pass their own)."""

    def __init__(self, cfg, logger=None, opener=None, reopen_s=1.0, poll_s=0.002):
        self.cfg = cfg
        self.name = cfg.url.split("?")[0]
        self.log = logger
        self._opener = opener or pyserial.serial_for_url
        self._reopen_s = reopen_s
        self._poll_s = poll_s
        self._acks = collections.deque()
        self._stop = threading.Event()
        self._thread = None
        self._port = None
        self._link = None
        self._open = threading.Event()
        self._wake = threading.Event()  # an ack to send, or stop
        self._idle = poll_s
        self._fd = None  # the port's file descriptor when it has one: an idle wait ends when bytes arrive
        self._on_message = None
        self._stats = {"received": 0, "pushed_back": 0, "acks_sent": 0, "link_timeouts": 0, "port_errors": 0,
                       "garbage_bytes": 0, "bad_crc": 0, "too_long": 0}
        self._link_base = {}

    def _pyserial_url(self):
        if self.cfg.scheme == "loop":
            return "loop://"
        return self.cfg.path  # serial:///dev/ttyUSB0 -> /dev/ttyUSB0 (pyserial opens plain device names)

    def start(self, on_message):
        self._on_message = on_message
        self._thread = threading.Thread(target=self._run, name="serial " + self.name, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._close()

    @property
    def connected(self):
        return self._open.is_set()

    def wait_connected(self, timeout):
        return self._open.wait(timeout)

    def stats(self):
        s = dict(self._stats)
        link = self._link
        if link is not None:  # the decoder's garbage counters of the current port, on top of earlier ports'
            ls = link.stats
            for k in ("garbage_bytes", "bad_crc", "too_long"):
                s[k] += ls.get(k, 0)
        s["connected"] = int(self.connected)
        return s

    def send(self, route, data):
        self._acks.append(bytes(data))
        self._wake.set()
        return True

    # -- the port thread ------------------------------------------------------------------------------------------

    def _open_port(self):
        port = self._opener(self._pyserial_url(), baudrate=self.cfg.baud, timeout=0)
        link = Link(port, on_data=self._deliver, window=self.cfg.window, timeout_ms=self.cfg.timeout_ms,
                    retries=self.cfg.retries, max_payload=self.cfg.max_payload,
                    first_seq=int.from_bytes(os.urandom(2), "big"), read_size=4096)
        self._port, self._link = port, link
        try:
            self._fd = port.fileno()  # a real port or pty; pyserial's loop:// has none
        except (AttributeError, OSError, ValueError, pyserial.SerialException):
            self._fd = None
        self._open.set()
        self._log("info", "serial_open")

    def _close(self):
        self._open.clear()
        if self._link is not None:
            ls = self._link.stats
            for k in ("garbage_bytes", "bad_crc", "too_long"):
                self._stats[k] += ls.get(k, 0)
        self._link = None
        self._fd = None
        close = getattr(self._port, "close", None)
        if close is not None:
            try:
                close()
            except OSError:
                pass
        self._port = None

    def _run(self):
        while not self._stop.is_set():
            try:
                if self._link is None:
                    self._open_port()
                self._step()
            except _PushBack:
                self._stats["pushed_back"] += 1
            except LinkTimeout:
                self._stats["link_timeouts"] += 1  # our ack frames went unanswered; they stay queued
            except (OSError, pyserial.SerialException) as e:
                self._stats["port_errors"] += 1
                self._log("warning", "serial_error", error=str(e))
                self._close()
                self._stop.wait(self._reopen_s)

    def _step(self):
        link = self._link
        busy = False
        while self._acks and link.pending() < _MAX_ACKS_IN_FLIGHT:
            link.send(self._acks.popleft())
            self._stats["acks_sent"] += 1
            busy = True
        if link.poll() or busy:
            self._idle = self._poll_s
            return
        # Idle: wait for bytes on the port (when it has a descriptor), an ack to send or stop, at most _idle, which
        # doubles up to IDLE_MAX_S while nothing happens (a poll every 2 ms kept an idle gateway's CPU busy).
        self._wake.clear()
        if self._acks or self._stop.is_set():
            return
        if self._fd is not None:
            select.select([self._fd], [], [], self._idle)
        else:
            self._wake.wait(self._idle)
        self._idle = min(2 * self._idle, IDLE_MAX_S)

    def _deliver(self, payload):
        self._stats["received"] += 1
        inbound = Inbound(self, bytes(payload), None)
        self._on_message(inbound)
        if not inbound.wait(SETTLE_TIMEOUT) or not inbound.ok:
            raise _PushBack()

    def _log(self, level, event, **fields):
        if self.log is not None:
            self.log.event(level, event, transport=self.name, **fields)
