"""The gateway's configuration: one TOML file, validated on load; every error names the key.

    from iota_edge.gateway.config import load_config, ConfigError
    try:
        cfg = load_config("gateway.toml")
    except ConfigError as e:
        sys.exit("gateway.toml: %s" % e)        # e.g. "transports[1].url: expected mqtt://, ... got 'htp://x'"
    cfg.node.url, cfg.transports[0].password.reveal()

Example file (relative paths are resolved against the file's folder)::

    [gateway]
    id = "gw-1"
    data_dir = "/var/lib/iota-edge"          # outbox.db lives here

    [node]
    url = "http://127.0.0.1:14265"
    mwm = 9
    pow = "local"                             # or "node" (the node's attachToTangle)
    workers = 2                               # PoW worker threads; absent: the forwarder decides
    reattach_milestones = 3
    max_depth = 15                            # milestones: a bundle carried only by others' stuck transactions
                                              # is reattached at this age (IRI's --max-depth)
    ack_on = "confirmed"                      # or "stored"
    order_hold_s = 45                         # a device's seq waits this long for a missing lower one; 0: never

    [outbox]
    max_bytes = 268435456
    max_items = 100000
    policy = "refuse_new"                     # or "drop_oldest"

    [[transports]]
    url = "mqtts://broker.example:8883"
    username = "gateway"
    password_file = "/etc/iota-edge/mqtt.pw"  # or password_env = "IOTA_EDGE_MQTT_PASSWORD"
    ca = "/etc/iota-edge/ca.crt"
    shared_group = "gateways"                 # MQTT v5 shared subscription: gateways split the fleet

    [[transports]]
    url = "serial:///dev/ttyUSB0?baud=115200"

    [devices]
    registry = "devices.json"                 # {device: {"root", "mode", "side_key" | "side_key_file" | ...}}

    [metrics]
    listen = "127.0.0.1:9108"

    [log]
    level = "info"
    format = "json"

Secrets (MQTT passwords, client key passphrases, channel side keys) come from files or environment variables and
are held in :class:`Secret`, whose ``repr``/``str`` never show the value.
"""
import json
import os
import sys
from urllib.parse import parse_qsl, urlsplit

from iota_edge.errors import IotaEdgeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the pinned backport of the same parser (extra "gateway")
    import tomli as tomllib

SCHEMES = ("mqtt", "mqtts", "serial", "loop")
POW_MODES = ("local", "node")
ACK_ON = ("confirmed", "stored")
POLICIES = ("refuse_new", "drop_oldest")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
ORDER_HOLD_S = 45.0  # [node] order_hold_s, the Forwarder default: above the firmware's 30 s resend


class ConfigError(IotaEdgeError):
    """The configuration is wrong; ``field`` is the dotted key (``transports[1].url``), the message starts with it."""

    def __init__(self, key, message):
        super().__init__("%s: %s" % (key, message), key)


class Secret:
    """A secret value that never prints: ``reveal()`` returns it."""

    __slots__ = ("_value", "source")

    def __init__(self, value, source):
        self._value = value
        self.source = source  # "file /etc/x" or "env NAME": safe to log

    def reveal(self):
        return self._value

    def __repr__(self):
        return "Secret(<from %s>)" % self.source

    __str__ = __repr__


class _Section:
    """A plain attribute bag whose repr hides Secret values (they print as Secret(<from ...>))."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items())))


class TransportConfig(_Section):
    """``url``, ``scheme``, ``host``, ``port``, ``path``, ``query`` (dict) and the scheme's options."""


class Config(_Section):
    """``path``, ``gateway_id``, ``data_dir``, ``db_path``, ``node``, ``outbox``, ``transports``, ``devices``
    (the registry dict: it holds side keys, so the repr shows only how many), ``devices_path``, ``metrics_listen``
    (host, port) or None, ``log``."""

    def __repr__(self):
        shown = dict(self.__dict__, devices="<%d devices>" % len(self.devices))
        return "Config(%s)" % ", ".join("%s=%r" % kv for kv in sorted(shown.items()))


def _table(doc, key, required=False):
    value = doc.get(key)
    if value is None:
        if required:
            raise ConfigError(key, "missing section [%s]" % key)
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, "expected a table [%s], got %s" % (key, type(value).__name__))
    return value


def _known(table, prefix, keys):
    for k in table:
        if k not in keys:
            raise ConfigError("%s.%s" % (prefix, k) if prefix else k,
                              "unknown key (expected one of %s)" % ", ".join(sorted(keys)))


def _str(table, prefix, key, default=None, required=False, choices=None):
    name = "%s.%s" % (prefix, key)
    if key not in table:
        if required:
            raise ConfigError(name, "missing (expected a string)")
        return default
    v = table[key]
    if not isinstance(v, str) or not v:
        raise ConfigError(name, "expected a non-empty string, got %r" % (v,))
    if choices and v not in choices:
        raise ConfigError(name, "expected one of %s, got %r" % (", ".join(choices), v))
    return v


def _int(table, prefix, key, default=None, low=0, high=None):
    name = "%s.%s" % (prefix, key)
    if key not in table:
        return default
    v = table[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < low or (high is not None and v > high):
        rng = ">= %d" % low if high is None else "in %d..%d" % (low, high)
        raise ConfigError(name, "expected an integer %s, got %r" % (rng, v))
    return v


def _seconds(table, prefix, key, default):
    name = "%s.%s" % (prefix, key)
    if key not in table:
        return default
    v = table[key]
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < float("inf"):
        raise ConfigError(name, "expected a number of seconds >= 0, got %r" % (v,))
    return float(v)


def _path(base, value):
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def _secret(table, prefix, stem, base, env):
    """``<stem>_file`` or ``<stem>_env`` (or a plain ``<stem>``, refused: secrets stay out of config files)."""
    if stem in table:
        raise ConfigError("%s.%s" % (prefix, stem), "put secrets in %s_file or %s_env, not in the config file"
                          % (stem, stem))
    f, e = table.get(stem + "_file"), table.get(stem + "_env")
    if f is not None and e is not None:
        raise ConfigError("%s.%s_file" % (prefix, stem), "give %s_file or %s_env, not both" % (stem, stem))
    if f is not None:
        if not isinstance(f, str) or not f:
            raise ConfigError("%s.%s_file" % (prefix, stem), "expected a file name")
        path = _path(base, f)
        try:
            with open(path) as fh:
                value = fh.read().strip()
        except OSError as err:
            raise ConfigError("%s.%s_file" % (prefix, stem), "cannot read %s (%s)" % (path, err.strerror))
        if not value:
            raise ConfigError("%s.%s_file" % (prefix, stem), "%s is empty" % path)
        return Secret(value, "file " + path)
    if e is not None:
        if not isinstance(e, str) or not e:
            raise ConfigError("%s.%s_env" % (prefix, stem), "expected an environment variable name")
        value = env.get(e)
        if not value:
            raise ConfigError("%s.%s_env" % (prefix, stem), "environment variable %s is not set" % e)
        return Secret(value, "env " + e)
    return None


_MQTT_KEYS = {"url", "username", "password_file", "password_env", "password", "ca", "cert", "key", "insecure",
              "shared_group", "topic_root", "client_id", "mqtt_version", "session_expiry", "keepalive"}
_SERIAL_KEYS = {"url", "max_payload", "window", "timeout_ms", "retries"}


def _transport(t, i, base, env, gateway_id):
    prefix = "transports[%d]" % i
    if not isinstance(t, dict):
        raise ConfigError(prefix, "expected a table [[transports]]")
    url = _str(t, prefix, "url", required=True)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or "://" not in url:
        raise ConfigError(prefix + ".url", "expected mqtt://, mqtts://, serial:// or loop://, got %r" % url)
    query = dict(parse_qsl(parts.query))
    tc = TransportConfig(url=url, scheme=scheme, host=parts.hostname, path=parts.path, query=query)
    if scheme in ("mqtt", "mqtts"):
        _known(t, prefix, _MQTT_KEYS)
        if parts.password is not None:
            raise ConfigError(prefix + ".url", "no password in the URL: use password_file or password_env")
        if not parts.hostname:
            raise ConfigError(prefix + ".url", "expected a broker host, got %r" % url)
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(prefix + ".url", "bad port in %r" % url)
        tc.port = port or (8883 if scheme == "mqtts" else 1883)
        tc.username = _str(t, prefix, "username", default=parts.username)
        tc.password = _secret(t, prefix, "password", base, env)
        if tc.password is not None and not tc.username:
            raise ConfigError(prefix + ".username", "a password needs a username")
        for key in ("ca", "cert", "key"):
            v = _str(t, prefix, key)
            setattr(tc, key, None if v is None else _path(base, v))
            if v is not None and not os.path.isfile(getattr(tc, key)):
                raise ConfigError("%s.%s" % (prefix, key), "no such file: %s" % getattr(tc, key))
        if (tc.cert is None) != (tc.key is None):
            raise ConfigError(prefix + ".cert", "a client certificate needs both cert and key")
        if scheme == "mqtt" and (tc.ca or tc.cert):
            raise ConfigError(prefix + ".url", "ca/cert given but the URL is mqtt:// (use mqtts:// for TLS)")
        tc.insecure = bool(t.get("insecure", False))
        tc.shared_group = _str(t, prefix, "shared_group")
        if tc.shared_group and any(c in tc.shared_group for c in "/+#"):
            raise ConfigError(prefix + ".shared_group", "expected a name without /, + or #")
        tc.topic_root = _str(t, prefix, "topic_root", default="iota-edge")
        tc.client_id = _str(t, prefix, "client_id", default="%s-%d" % (gateway_id, i))
        tc.mqtt_version = _int(t, prefix, "mqtt_version", default=5, low=3, high=5)
        if tc.mqtt_version == 4:
            tc.mqtt_version = 3
        if tc.shared_group and tc.mqtt_version != 5:
            raise ConfigError(prefix + ".shared_group", "shared subscriptions need mqtt_version = 5")
        tc.session_expiry = _int(t, prefix, "session_expiry", default=86400)
        tc.keepalive = _int(t, prefix, "keepalive", default=30, low=5)
    else:
        _known(t, prefix, _SERIAL_KEYS)
        if scheme == "serial" and not parts.path:
            raise ConfigError(prefix + ".url", "expected serial:///dev/NAME, got %r" % url)
        try:
            tc.baud = int(query.get("baud", "115200"))
        except ValueError:
            raise ConfigError(prefix + ".url", "baud: expected an integer, got %r" % query.get("baud"))
        tc.max_payload = _int(t, prefix, "max_payload", default=16384, low=64, high=65535)
        tc.window = _int(t, prefix, "window", default=1, low=1, high=64)
        tc.timeout_ms = _int(t, prefix, "timeout_ms", default=500, low=1)
        tc.retries = _int(t, prefix, "retries", default=20)
    return tc


def _devices(path):
    key = "devices.registry"
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise ConfigError(key, "cannot read %s (%s)" % (path, e.strerror))
    except ValueError as e:
        raise ConfigError(key, "%s is not valid JSON (%s)" % (path, e))
    if not isinstance(data, dict):
        raise ConfigError(key, "%s: expected a JSON object {device: {root, mode, side_key}}" % path)
    return data


def load_devices(path, env=None):
    """The registry file as {device: {"root", "mode", "side_key" (a str or None)}}; side keys may come from
    ``side_key_file`` / ``side_key_env`` per device. Errors name ``devices[<id>].<key>``."""
    env = os.environ if env is None else env
    base = os.path.dirname(os.path.abspath(path))
    out = {}
    for device, entry in _devices(path).items():
        prefix = "devices[%s]" % json.dumps(device)
        if not isinstance(entry, dict):
            raise ConfigError(prefix, "expected an object with root, mode and side_key")
        _known(entry, prefix, {"root", "mode", "side_key", "side_key_file", "side_key_env"})
        root = entry.get("root")
        if not isinstance(root, str) or len(root) != 81 or any(c not in "9ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in root):
            raise ConfigError(prefix + ".root", "expected the 81-tryte channel root")
        mode = entry.get("mode", "public")
        if mode not in ("public", "private", "restricted"):
            raise ConfigError(prefix + ".mode", "expected public, private or restricted, got %r" % (mode,))
        side = entry.get("side_key")
        if side is None:
            s = _secret({k: v for k, v in entry.items() if k != "side_key"}, prefix, "side_key", base, env)
            side = None if s is None else s.reveal()
        if (mode == "restricted") != bool(side):
            raise ConfigError(prefix + ".side_key", "restricted mode needs a side key and only it takes one")
        out[device] = {"root": root, "mode": mode, "side_key": side}
    return out


def _listen(value, key):
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(key, "expected HOST:PORT, got %r" % value)
    return host or "127.0.0.1", int(port)


def parse_config(doc, base=".", env=None, path="<config>"):
    """A Config from an already parsed TOML document; ``base`` resolves relative paths."""
    env = os.environ if env is None else env
    _known(doc, "", {"gateway", "node", "outbox", "transports", "devices", "metrics", "log"})
    g = _table(doc, "gateway")
    _known(g, "gateway", {"id", "data_dir"})
    gid = _str(g, "gateway", "id", default="gateway")
    data_dir = _path(base, _str(g, "gateway", "data_dir", default="."))

    n = _table(doc, "node", required=True)
    _known(n, "node", {"url", "mwm", "pow", "workers", "reattach_milestones", "max_depth", "ack_on", "order_hold_s"})
    url = _str(n, "node", "url", required=True)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError("node.url", "expected http://HOST:PORT or https://..., got %r" % url)
    node = _Section(url=url, mwm=_int(n, "node", "mwm", default=9, low=1, high=243),
                    pow=_str(n, "node", "pow", default="local", choices=POW_MODES),
                    workers=_int(n, "node", "workers", default=None, low=1),
                    reattach_milestones=_int(n, "node", "reattach_milestones", default=3, low=1),
                    max_depth=_int(n, "node", "max_depth", default=15, low=1),
                    ack_on=_str(n, "node", "ack_on", default="confirmed", choices=ACK_ON),
                    order_hold_s=_seconds(n, "node", "order_hold_s", None))

    o = _table(doc, "outbox")
    _known(o, "outbox", {"max_bytes", "max_items", "policy"})
    outbox = _Section(max_bytes=_int(o, "outbox", "max_bytes", default=256 << 20, low=2673),
                      max_items=_int(o, "outbox", "max_items", default=100_000, low=1),
                      policy=_str(o, "outbox", "policy", default="refuse_new", choices=POLICIES))

    ts = doc.get("transports")
    if not isinstance(ts, list) or not ts:
        raise ConfigError("transports", "expected at least one [[transports]] table with a url")
    transports = [_transport(t, i, base, env, gid) for i, t in enumerate(ts)]
    if node.order_hold_s is None:  # a shared subscription gives this gateway only some of a device's seqs: the
        # others are gaps that never fill here, so holding would only delay every reading
        node.order_hold_s = 0.0 if any(getattr(t, "shared_group", None) for t in transports) else ORDER_HOLD_S
    seen = set()
    for i, t in enumerate(transports):
        if t.url in seen:
            raise ConfigError("transports[%d].url" % i, "%r is listed twice" % t.url)
        seen.add(t.url)

    d = _table(doc, "devices", required=True)
    _known(d, "devices", {"registry"})
    devices_path = _path(base, _str(d, "devices", "registry", required=True))
    devices = load_devices(devices_path, env)

    m = _table(doc, "metrics")
    _known(m, "metrics", {"listen"})
    listen = _str(m, "metrics", "listen")
    lg = _table(doc, "log")
    _known(lg, "log", {"level", "format"})
    log = _Section(level=_str(lg, "log", "level", default="info", choices=LOG_LEVELS),
                   format=_str(lg, "log", "format", default="json", choices=LOG_FORMATS))
    return Config(path=path, gateway_id=gid, data_dir=data_dir, db_path=os.path.join(data_dir, "outbox.db"),
                  node=node, outbox=outbox, transports=transports, devices=devices, devices_path=devices_path,
                  metrics_listen=None if listen is None else _listen(listen, "metrics.listen"), log=log)


def load_config(path, env=None):
    """Read and validate a TOML file; raises ConfigError naming the key (or the file for TOML syntax errors)."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ConfigError(path, "cannot read (%s)" % e.strerror)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "not valid TOML (%s)" % e)
    return parse_config(doc, os.path.dirname(os.path.abspath(path)), env, path)
