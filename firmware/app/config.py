"""The device configuration: a JSON file (``/config.json`` on a board) over the board profile's defaults.

    from app.config import load
    cfg = load("/config.json")            # ConfigError (field = the key) on anything malformed
    cfg.device, cfg.uplink["url"], cfg.sampling["batch_max"], cfg.seed()   # the seed only through seed()

Shape (firmware/README.md has the contract): device, board, seed | seed_file, channel {mode, side_key, security,
depth}, uplink {url, ca, keepalive_s, ack_timeout_s, window}, pow {where, mwm}, sampling {interval_s, batch_max,
batch_age_s}, store {path, budget_bytes, segment_bytes, policy}, heartbeat_s, sensors [{driver, name, unit, ...}].
Every section but device, board, seed, uplink.url and sensors has defaults: the built-in ones below, then the
board's ``boards/<NAME>/board.json`` "defaults", then the file. Unknown keys are errors (a typo must not silently
fall back to a default). Errors name the key and the expected shape; the seed and the uplink password never appear
in an error, a repr or an event.
"""
import json

from iota_edge.errors import IotaEdgeError

DEFAULTS = {
    "channel": {"mode": "public", "side_key": None, "security": 1, "depth": 4},
    "uplink": {"ca": None, "keepalive_s": 30, "ack_timeout_s": 30, "window": 4},
    "pow": {"where": "gateway", "mwm": 9},
    "sampling": {"interval_s": 10, "batch_max": 6, "batch_age_s": 60},
    "store": {"path": "/data/outbox", "budget_bytes": 65536, "segment_bytes": 4096, "policy": "drop_oldest"},
    "heartbeat_s": 60,
}
TOP = ("device", "board", "seed", "seed_file", "channel", "uplink", "pow", "sampling", "store", "heartbeat_s",
       "sensors")
DRIVERS = {
    # driver: (required keys, optional keys) besides driver, name, unit
    "sim_energy": ((), ("base_w", "seed")),
    "sim_climate": ((), ("base", "seed")),
    "bme280": ((), ("i2c", "addr", "quantity")),
    "pulse_energy": ((), ("pin", "imp_per_kwh", "quantity")),
}
BOARD_DIRS = ("/boards", "boards")


class ConfigError(IotaEdgeError):
    """The configuration is malformed; ``field`` is the dotted key (``uplink.url``, ``sensors[1].driver``)."""


def _bad(field, expected):
    raise ConfigError("%s: expected %s" % (field, expected), field)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def _int(d, key, field, low, high):
    v = d[key]
    if not _is_int(v) or not low <= v <= high:
        _bad(field, "an int in %d..%d" % (low, high))
    return v


def _num(d, key, field, low=0):
    v = d[key]
    if not _is_num(v) or not v > low:
        _bad(field, "a number > %s" % low)
    return v


def _text(v, field, low=1, high=64):
    if not isinstance(v, str) or not low <= len(v) <= high:
        _bad(field, "a string of %d..%d characters" % (low, high))
    return v


def _section(raw, name, board_defaults):
    """DEFAULTS[name] updated by the board's defaults, then by the file; unknown keys are errors."""
    out = dict(DEFAULTS[name])
    out.update(board_defaults.get(name, {}))
    given = raw.get(name, {})
    if not isinstance(given, dict):
        _bad(name, "a map")
    allowed = tuple(DEFAULTS[name]) + (("url",) if name == "uplink" else ())
    for k in given:
        if k not in allowed:
            _bad("%s.%s" % (name, k), "no such key (one of %s)" % ", ".join(allowed))
    out.update(given)
    return out


def find_board(name, dirs=BOARD_DIRS):
    """The board profile (board.json as a dict) from the first of ``dirs`` that has ``<dir>/<name>/board.json``."""
    for d in dirs:
        try:
            with open("%s/%s/board.json" % (d, name)) as f:
                return json.load(f)
        except OSError:
            continue
        except ValueError:
            _bad("board", "a readable %s/%s/board.json" % (d, name))
    _bad("board", "a board with a board.json in one of %s" % ", ".join(dirs))


def parse_url(url):
    """(scheme, user, password, host, port, path, params) of an uplink URL; password None if absent."""
    if not isinstance(url, str) or "://" not in url:
        _bad("uplink.url", "mqtt://user:password@host[:port], mqtts://... or serial://<uart or /dev path>")
    scheme, rest = url.split("://", 1)
    params = {}
    if "?" in rest:
        rest, query = rest.split("?", 1)
        for pair in query.split("&"):
            if "=" not in pair:
                _bad("uplink.url", "query parameters as key=value")
            k, v = pair.split("=", 1)
            params[k] = v
    if scheme == "serial":
        if not rest:
            _bad("uplink.url", "serial://uart<N> or serial:///dev/<tty>")
        if rest.startswith("/"):
            path = rest
        elif rest.startswith("uart") and rest[4:].isdigit():
            path = rest
        else:
            _bad("uplink.url", "serial://uart<N> or serial:///dev/<tty>")
        return scheme, None, None, None, None, path, params
    if scheme not in ("mqtt", "mqtts"):
        _bad("uplink.url", "a scheme of mqtt, mqtts or serial")
    user = password = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        if ":" in cred:
            user, password = cred.split(":", 1)
        else:
            user = cred
    rest = rest.rstrip("/")
    port = 8883 if scheme == "mqtts" else 1883
    if ":" in rest:
        rest, p = rest.rsplit(":", 1)
        if not p.isdigit() or not 0 < int(p) < 65536:
            _bad("uplink.url", "a port in 1..65535")
        port = int(p)
    if not rest:
        _bad("uplink.url", "a host")
    return scheme, user, password, rest, port, None, params


class Config:
    """A validated configuration. Plain attributes per section (dicts); the seed through ``seed()`` only."""

    def __init__(self, raw, board, base_dir=""):
        if not isinstance(raw, dict):
            _bad("config", "a JSON object")
        for k in raw:
            if k not in TOP:
                _bad(k, "no such key (one of %s)" % ", ".join(TOP))
        self.base_dir = base_dir
        self.board_profile = board
        bd = board.get("defaults", {})
        self.device = _text(raw.get("device"), "device")
        for c in self.device:
            if c in "/+#" or ord(c) < 0x21 or ord(c) > 0x7E:
                _bad("device", "printable ASCII without spaces, '/', '+' or '#' (it is an MQTT topic level)")
        self.board = _text(raw.get("board"), "board")
        self._seed = self._load_seed(raw)
        self.channel = self._channel(raw, bd)
        self.uplink = self._uplink(raw, bd)
        self.pow = self._pow(raw, bd)
        self.sampling = self._sampling(raw, bd)
        self.store = self._store(raw, bd)
        hb = raw.get("heartbeat_s", bd.get("heartbeat_s", DEFAULTS["heartbeat_s"]))
        self.heartbeat_s = _num({"h": hb}, "h", "heartbeat_s")
        self.sensors = self._sensors(raw)
        from app.pipeline import max_record_bytes

        need = max_record_bytes(self) + 11
        if self.store["segment_bytes"] < need:
            _bad("store.segment_bytes", "at least %d: one signed batch of %d samples%s takes up to %d bytes" % (
                need, self.sampling["batch_max"],
                " with its attached bundle" if self.pow["where"] == "device" else "", need - 11))

    def seed(self):
        return self._seed

    def __repr__(self):
        return "Config(device=%r, board=%r, uplink=%s, seed=<hidden>)" % (
            self.device, self.board, self.uplink["scheme"])

    def path(self, p):
        """A path of a file the configuration names (seed_file, uplink.ca): relative ones from the config's folder."""
        if p.startswith("/") or not self.base_dir:
            return p
        return self.base_dir.rstrip("/") + "/" + p

    def _load_seed(self, raw):
        from iota_edge.trinary import check_seed
        from iota_edge.errors import InvalidTrytes

        seed, seed_file = raw.get("seed"), raw.get("seed_file")
        if (seed is None) == (seed_file is None):
            _bad("seed", "exactly one of seed (81 trytes) or seed_file (a path)")
        if seed is None:
            _text(seed_file, "seed_file", 1, 255)
            try:
                with open(self.path(seed_file)) as f:
                    seed = f.read().strip()
            except OSError:
                _bad("seed_file", "a readable file holding the 81-tryte seed")
        if not isinstance(seed, str) or len(seed) != 81:
            _bad("seed_file" if seed_file else "seed", "exactly 81 trytes (9, A-Z)")
        try:
            return check_seed(seed)
        except InvalidTrytes:
            _bad("seed_file" if seed_file else "seed", "exactly 81 trytes (9, A-Z)")

    def _channel(self, raw, bd):
        from iota_edge.device import channel_settings
        from iota_edge.streams.channel import check_mode_key

        ch = _section(raw, "channel", bd)
        try:
            channel_settings(ch)
            ch["side_key"] = check_mode_key(ch["mode"], ch["side_key"])
        except IotaEdgeError as e:
            f = e.field if e.field and e.field.startswith("channel") else "channel." + (e.field or "mode")
            msg = str(e).split(": ", 1)[-1]
            _bad(f, msg.replace("expected ", "", 1))
        return ch

    def _uplink(self, raw, bd):
        up = _section(raw, "uplink", bd)
        if "url" not in up:
            _bad("uplink.url", "mqtt://user:password@host[:port], mqtts://... or serial://<uart or /dev path>")
        scheme, user, password, host, port, path, params = parse_url(up["url"])
        up["scheme"], up["host"], up["port"], up["serial"] = scheme, host, port, path
        up["user"] = user or self.device
        self._password = password
        up["url"] = "%s://%s" % (scheme, ("%s:%d" % (host, port)) if host else path)   # no password kept here
        up["baud"] = int(params.get("baud", "115200")) if params.get("baud", "1").isdigit() else _bad(
            "uplink.url", "baud=<int>")
        if scheme == "mqtts" and not up["ca"]:
            _bad("uplink.ca", "the broker's CA certificate (DER file) for mqtts://")
        if up["ca"] is not None:
            _text(up["ca"], "uplink.ca", 1, 255)
        _int(up, "keepalive_s", "uplink.keepalive_s", 1, 65535)
        _num(up, "ack_timeout_s", "uplink.ack_timeout_s")
        _int(up, "window", "uplink.window", 1, 16)
        return up

    def password(self):
        return self._password

    def _pow(self, raw, bd):
        p = _section(raw, "pow", bd)
        if p["where"] not in ("gateway", "device"):
            _bad("pow.where", "'gateway' or 'device'")
        _int(p, "mwm", "pow.mwm", 1, 243)
        return p

    def _sampling(self, raw, bd):
        s = _section(raw, "sampling", bd)
        _num(s, "interval_s", "sampling.interval_s")
        _int(s, "batch_max", "sampling.batch_max", 1, 64)
        _num(s, "batch_age_s", "sampling.batch_age_s")
        return s

    def _store(self, raw, bd):
        s = _section(raw, "store", bd)
        if not isinstance(s["path"], str) or not s["path"].startswith("/") or s["path"].endswith("/"):
            _bad("store.path", "an absolute path such as /data/outbox")
        _int(s, "segment_bytes", "store.segment_bytes", 64, 1 << 20)
        _int(s, "budget_bytes", "store.budget_bytes", 2 * s["segment_bytes"], 1 << 30)
        if s["policy"] not in ("drop_oldest", "refuse_new"):
            _bad("store.policy", "'drop_oldest' or 'refuse_new'")
        return s

    def _sensors(self, raw):
        sensors = raw.get("sensors")
        if not isinstance(sensors, list) or not sensors or len(sensors) > 16:
            _bad("sensors", "a list of 1..16 sensors ({\"driver\", \"name\", \"unit\"})")
        out = []
        names = []
        for i, s in enumerate(sensors):
            f = "sensors[%d]" % i
            if not isinstance(s, dict):
                _bad(f, "a map with driver, name, unit")
            driver = s.get("driver", "")
            if driver not in DRIVERS:
                _bad(f + ".driver", "one of %s" % ", ".join(sorted(DRIVERS)))
            required, optional = DRIVERS[driver]
            for k in s:
                if k not in ("driver", "name", "unit") + required + optional:
                    _bad("%s.%s" % (f, k), "no such key for driver %s" % driver)
            name = _text(s.get("name"), f + ".name", 1, 16)
            if name in names:
                _bad(f + ".name", "a name no other sensor has")
            names.append(name)
            _text(s.get("unit", ""), f + ".unit", 0, 16)
            if "seed" in s and not _is_int(s["seed"]):
                _bad(f + ".seed", "an int (simulation seed)")
            for k in ("addr", "pin", "imp_per_kwh"):
                if k in s and (not _is_int(s[k]) or s[k] < 0):
                    _bad("%s.%s" % (f, k), "an int >= 0")
            if "quantity" in s and s["quantity"] not in ("power", "energy", "t", "rh", "p"):
                _bad(f + ".quantity", "one of power, energy (pulse_energy) or t, rh, p (bme280)")
            out.append(dict(s))
        return out


def load(path="/config.json", board_dirs=BOARD_DIRS):
    """Read, merge with the board profile and validate; ConfigError names the key."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        raise ConfigError("config: cannot read %s" % path, "config")
    except ValueError:
        raise ConfigError("config: %s is not valid JSON" % path, "config")
    return from_dict(raw, board_dirs, path.rsplit("/", 1)[0] if "/" in path else "")


def from_dict(raw, board_dirs=BOARD_DIRS, base_dir=""):
    if not isinstance(raw, dict):
        _bad("config", "a JSON object")
    board = raw.get("board")
    _text(board, "board")
    return Config(raw, find_board(board, board_dirs), base_dir)
