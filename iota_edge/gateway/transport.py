"""The small interface every device transport implements, and the URL dispatch that opens one.

    from iota_edge.gateway.transport import open_transport
    t = open_transport(transport_config)          # mqtt:// mqtts:// -> MqttTransport; serial:// loop:// -> Serial
    t.start(on_message)                           # on_message(Inbound) from the transport's own thread(s)
    t.send(route, ack_bytes)                      # an acknowledgement back to a device, on its own transport
    t.stop()

An :class:`Inbound` is one message a device sent. The service settles each one exactly once: ``settle(True)``
once the message is durably in the outbox or dead-lettered (the transport may now acknowledge it to the device's
side: MQTT PUBACK, serial frame ACK), ``settle(False)`` to push back (the outbox is full or storage failed: the
device, or the broker on its behalf, keeps the message and sends it again).
"""
import threading


class TransportError(OSError):
    """A transport failed to open or to send (IOError-rooted, like pyserial's and paho's errors)."""


class Inbound:
    """One message from a device. ``kind`` is ``"up"`` or ``"hb"`` (MQTT topic) or None (serial: the CBOR says);
    ``claimed`` is the device id the transport vouches for (the MQTT topic's device, which the broker's ACL ties to
    the client's credentials), or None; ``route`` is what ``transport.send`` needs to reach the sender."""

    __slots__ = ("transport", "data", "kind", "claimed", "route", "_settle", "_done", "ok")

    def __init__(self, transport, data, route, kind=None, claimed=None, settle=None):
        self.transport = transport
        self.data = data
        self.route = route
        self.kind = kind
        self.claimed = claimed
        self._settle = settle
        self._done = threading.Event()
        self.ok = None

    def settle(self, ok):
        """Accept (True) or push back (False). Only the first call counts."""
        if self._done.is_set():
            return
        self.ok = bool(ok)
        try:
            if self._settle is not None:
                self._settle(self.ok)
        finally:
            self._done.set()

    def wait(self, timeout):
        """True once settled (for transports that must answer in their own thread)."""
        return self._done.wait(timeout)

    def __repr__(self):
        return "Inbound(%s, %d bytes, route=%r)" % (self.transport.name, len(self.data), self.route)


class Transport:
    """Base of the transports. ``name`` is the URL without credentials (safe to log and to persist as a route)."""

    name = "?"
    holds = False  # True: a message may stay unsettled while the service retries it (MQTT: PUBACK withheld)

    def start(self, on_message):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def send(self, route, data):
        """Queue ``data`` (wire bytes) for the device at ``route``. Returns False if that route is gone for now."""
        raise NotImplementedError

    @property
    def connected(self):
        return False

    def stats(self):
        """Counters for metrics: at least ``connected`` (0/1)."""
        return {"connected": int(self.connected)}


def open_transport(cfg, logger=None, serial_opener=None):
    """The transport of a validated TransportConfig, chosen by its URL scheme (as pyserial's serial_for_url)."""
    if cfg.scheme in ("mqtt", "mqtts"):
        from iota_edge.gateway.mqtt import MqttTransport

        return MqttTransport(cfg, logger=logger)
    if cfg.scheme in ("serial", "loop"):
        from iota_edge.gateway.serial import SerialTransport

        return SerialTransport(cfg, logger=logger, opener=serial_opener)
    raise TransportError("url: expected mqtt://, mqtts://, serial:// or loop://, got %r" % cfg.url)
