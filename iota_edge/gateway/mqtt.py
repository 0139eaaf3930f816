"""MQTT transport of the gateway: paho-mqtt 2.x, TLS, QoS 1, a persistent session, manual PUBACKs.

    t = MqttTransport(transport_config)           # from iota_edge.gateway.config
    t.start(on_message)                           # subscribes <root>/+/up and <root>/+/hb (shared when configured)
    t.send("meter-7", wire.encode_ack("meter-7", 42, "confirmed"))   # -> <root>/meter-7/ack, QoS 1

The session survives gateway restarts (MQTT v5: clean_start False with a session expiry; MQTT 3.1.1:
clean_session False), so the broker keeps what arrives while the gateway is away. PUBACKs are manual
(``manual_ack=True``): a PUBLISH is acknowledged to the broker only when the service settles it, that is once the
message is durably in the outbox or dead-lettered; a gateway that crashes before that gets it again on reconnect.
With ``shared_group`` the subscriptions are MQTT v5 shared subscriptions (``$share/<group>/<root>/+/up``): the
broker gives each message to one gateway of the group, so several gateways split one fleet.
"""
import ssl
import threading

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from iota_edge.gateway.transport import Inbound, Transport, TransportError
from iota_edge.wire import topics


class MqttTransport(Transport):
    """One broker connection. ``route`` of a device is its id (acks go to its ``.../ack`` topic)."""

    holds = True

    def __init__(self, cfg, logger=None):
        self.cfg = cfg
        self.name = "%s://%s:%d" % (cfg.scheme, cfg.host, cfg.port)
        self.log = logger
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stats = {"received": 0, "puback": 0, "held": 0, "acks_sent": 0, "connects": 0, "disconnects": 0,
                       "bad_topic": 0}
        self._on_message = None
        v5 = cfg.mqtt_version == 5
        kw = {"callback_api_version": CallbackAPIVersion.VERSION2, "client_id": cfg.client_id,
              "protocol": paho.MQTTv5 if v5 else paho.MQTTv311, "manual_ack": True}
        if not v5:
            kw["clean_session"] = False
        self.client = paho.Client(**kw)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password.reveal() if cfg.password else None)
        if cfg.scheme == "mqtts":
            self.client.tls_set(ca_certs=cfg.ca, certfile=cfg.cert, keyfile=cfg.key, cert_reqs=ssl.CERT_REQUIRED,
                                tls_version=ssl.PROTOCOL_TLS_CLIENT)
            if cfg.insecure:
                self.client.tls_insecure_set(True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)  # paho adds no jitter; brokers cope at our scale
        self.client.on_connect = self._connect_cb
        self.client.on_disconnect = self._disconnect_cb
        self.client.on_message = self._message_cb
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self, on_message):
        self._on_message = on_message
        props = None
        if self.cfg.mqtt_version == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.cfg.session_expiry
        try:
            kw = {"clean_start": False, "properties": props} if props is not None else {}
            self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive, **kw)
        except (OSError, ValueError) as e:
            raise TransportError("%s: cannot connect (%s)" % (self.name, e))
        self.client.loop_start()

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    def wait_connected(self, timeout):
        """True once connected and subscribed (messages published from now on reach this gateway or its group)."""
        return self._connected.wait(timeout) and self._subscribed.wait(timeout)

    @property
    def connected(self):
        return self._connected.is_set()

    def stats(self):
        s = dict(self._stats)
        s["connected"] = int(self.connected)
        return s

    # -- paho callbacks (paho's network thread) --------------------------------------------------------------------

    def _subscriptions(self):
        root = self.cfg.topic_root
        prefix = "$share/%s/" % self.cfg.shared_group if self.cfg.shared_group else ""
        return [prefix + root + "/+/up", prefix + root + "/+/hb"]

    def _connect_cb(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._log("warning", "mqtt_connect_refused", reason=str(reason_code))
            return
        self._stats["connects"] += 1
        self._connected.set()
        if self.cfg.mqtt_version == 5:
            subs = [(t, SubscribeOptions(qos=1)) for t in self._subscriptions()]
        else:
            subs = [(t, 1) for t in self._subscriptions()]
        client.subscribe(subs)
        self._log("info", "mqtt_connected", session_present=bool(getattr(flags, "session_present", False)))

    def _disconnect_cb(self, client, userdata, flags, reason_code, properties):
        if self._connected.is_set():
            self._stats["disconnects"] += 1
        self._connected.clear()
        self._subscribed.clear()
        self._log("warning" if reason_code.is_failure else "info", "mqtt_disconnected", reason=str(reason_code))

    def _message_cb(self, client, userdata, msg):
        self._stats["received"] += 1
        parts = msg.topic.split("/")
        root = self.cfg.topic_root.split("/")
        if len(parts) != len(root) + 2 or parts[:len(root)] != root or parts[-1] not in ("up", "hb"):
            self._stats["bad_topic"] += 1
            client.ack(msg.mid, msg.qos)  # not ours to keep: a subscription never matches it, but never hold it
            return
        device = parts[-2]
        mid, qos = msg.mid, msg.qos

        def settle(ok):
            if ok:
                self._stats["puback"] += 1
                self.client.ack(mid, qos)
            else:
                self._stats["held"] += 1  # no PUBACK: the broker redelivers it on the next session

        self._on_message(Inbound(self, bytes(msg.payload), device, kind=parts[-1], claimed=device, settle=settle))

    # -- acks to devices ------------------------------------------------------------------------------------------

    def send(self, route, data):
        topic = topics(route, self.cfg.topic_root)[2]
        info = self.client.publish(topic, data, qos=1)  # queued by paho while disconnected; QoS 1 to the broker
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            return False
        self._stats["acks_sent"] += 1
        return True

    def _log(self, level, event, **fields):
        if self.log is not None:
            self.log.event(level, event, transport=self.name, **fields)
