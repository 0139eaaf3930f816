"""Seeds, device configs (the ``/config.json`` contract), the gateway's registry and MQTT password lines.

    >>> from iota_edge.toolkit.devconfig import new_seed, build_config, check_config, channel_root
    >>> seed = new_seed()                                    # 81 uniform trytes from os.urandom
    >>> cfg = build_config("meter-7", "ESP32_GENERIC", seed, uplink="mqtt://meter-7:pw@10.0.0.2:1883")
    >>> check_config(cfg)                                    # InvalidValue naming the field, never the seed
    >>> channel_root(seed, cfg["channel"])                   # the first MAM tree root, 81 trytes

The config holds the seed (or ``seed_file``) and the MQTT password: files holding either are written 0600 and
nothing here prints them.
"""
import base64
import hashlib
import json
import os
from urllib.parse import urlsplit

from iota_edge.errors import InvalidValue

TRYTES = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BOARDS_UPLINK = ("mqtt", "mqtts", "serial")
MODES = ("public", "private", "restricted")
POLICIES = ("drop_oldest", "refuse_new")


def new_seed(urandom=os.urandom):
    """81 trytes, each uniform over the 27 symbols: bytes >= 243 (= 9 * 27) are rejected, the rest taken mod 27."""
    out = []
    while len(out) < 81:
        for b in urandom(96):
            if b < 243 and len(out) < 81:
                out.append(TRYTES[b % 27])
    return "".join(out)


def write_secret(path, text, overwrite=False):
    """Write ``text`` to ``path`` readable by the owner only (0600, set at creation, so never briefly wider)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise InvalidValue("%s: already exists (refusing to overwrite a secret; give --force)" % path, "path")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def read_seed(path):
    """The 81-tryte seed in ``path``; InvalidValue(field='seed_file') without echoing the content."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        raise InvalidValue("seed_file: cannot read %s (%s)" % (path, e.strerror), "seed_file")
    if len(text) != 81 or any(c not in TRYTES for c in text):
        raise InvalidValue("seed_file: %s must hold exactly 81 trytes (9A-Z), it holds %d characters"
                           % (path, len(text)), "seed_file")
    return text


def channel_root(seed, channel):
    """First tree root of the device's channel: Channel(seed, mode, side_key, security, start=0, count=2**depth)."""
    from iota_edge.streams import Channel

    return Channel(seed, mode=channel["mode"], side_key=channel.get("side_key"), security=channel["security"],
                   start=0, count=2 ** channel["depth"]).root


def channel_address(seed, channel):
    from iota_edge.streams import channel_address as address

    return address(channel_root(seed, channel), channel["mode"])


def parse_sensor(spec):
    """``driver:name:unit`` (name and unit optional) -> {"driver", "name", "unit"}."""
    parts = spec.split(":")
    if not parts[0] or len(parts) > 3:
        raise InvalidValue("sensor: expected DRIVER[:NAME[:UNIT]], got %r" % spec, "sensor")
    return {"driver": parts[0], "name": parts[1] if len(parts) > 1 else parts[0],
            "unit": parts[2] if len(parts) > 2 else ""}


def build_config(device, board, seed=None, *, seed_file=None, mode="public", side_key=None, security=1, depth=4,
                 uplink="mqtt://localhost:1883", ca=None, keepalive_s=30, pow_where="gateway", mwm=9,
                 interval_s=10, batch_max=6, batch_age_s=60, store=None, heartbeat_s=60, sensors=None):
    """A device config dict following the contract; ``store`` defaults come from the board's board.json."""
    st = {"path": "/data/outbox", "budget_bytes": 65536, "segment_bytes": 4096, "policy": "drop_oldest"}
    st.update(store or {})
    cfg = {"device": device, "board": board}
    if seed_file:
        cfg["seed_file"] = seed_file
    else:
        cfg["seed"] = seed
    cfg.update({
        "channel": {"mode": mode, "side_key": side_key, "security": security, "depth": depth},
        "uplink": {"url": uplink, "ca": ca, "keepalive_s": keepalive_s},
        "pow": {"where": pow_where, "mwm": mwm},
        "sampling": {"interval_s": interval_s, "batch_max": batch_max, "batch_age_s": batch_age_s},
        "store": st,
        "heartbeat_s": heartbeat_s,
        "sensors": sensors or [{"driver": "sim_energy", "name": "p", "unit": "W"}],
    })
    return check_config(cfg)


def _int(cfg, path, low, high=None):
    v = cfg
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            raise InvalidValue("%s: missing" % path, path)
        v = v[k]
    if not isinstance(v, int) or isinstance(v, bool) or v < low or (high is not None and v > high):
        raise InvalidValue("%s: expected an int in %d..%s, got %r" % (path, low, high if high is not None else "",
                                                                        v), path)
    return v


def check_uplink_url(url):
    """mqtt://user:pass@host:port, mqtts://..., serial:///dev/ttyX?baud=N or serial://uartN; never echoes a password."""
    if not isinstance(url, str):
        raise InvalidValue("uplink.url: expected a string", "uplink.url")
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "serial"):
        raise InvalidValue("uplink.url: scheme must be mqtt, mqtts or serial, got %r" % u.scheme, "uplink.url")
    if u.scheme in ("mqtt", "mqtts"):
        try:
            port = u.port
        except ValueError:
            raise InvalidValue("uplink.url: bad port", "uplink.url")
        if not u.hostname:
            raise InvalidValue("uplink.url: no host (expected %s://DEVICE:PASSWORD@HOST:PORT)" % u.scheme,
                               "uplink.url")
        del port
    elif not (u.path or u.netloc):
        raise InvalidValue("uplink.url: expected serial:///dev/ttyUSB0?baud=115200 or serial://uart1", "uplink.url")
    return url


def check_config(cfg):
    """Validate a device config against the contract; returns it. Errors name the field, never its secret value."""
    if not isinstance(cfg, dict):
        raise InvalidValue("config: expected a JSON object", "config")
    dev = cfg.get("device")
    if not isinstance(dev, str) or not 0 < len(dev) <= 64 or any(c in dev for c in "/+#\0 "):
        raise InvalidValue("device: expected 1..64 characters without '/', '+', '#' or spaces, got %r" % (dev,),
                           "device")
    if not isinstance(cfg.get("board"), str):
        raise InvalidValue("board: missing", "board")
    if "seed" in cfg:
        s = cfg["seed"]
        if not isinstance(s, str) or len(s) != 81 or any(c not in TRYTES for c in s):
            raise InvalidValue("seed: expected 81 trytes (9A-Z)", "seed")
    elif not isinstance(cfg.get("seed_file"), str):
        raise InvalidValue("seed: give 'seed' (81 trytes) or 'seed_file'", "seed")
    ch = cfg.get("channel")
    if not isinstance(ch, dict) or ch.get("mode") not in MODES:
        raise InvalidValue("channel.mode: expected one of %s" % ", ".join(MODES), "channel.mode")
    if ch["mode"] == "restricted":
        k = ch.get("side_key")
        if not isinstance(k, str) or not 0 < len(k) <= 81 or any(c not in TRYTES for c in k):
            raise InvalidValue("channel.side_key: restricted mode needs a side key of 1..81 trytes",
                               "channel.side_key")
    elif ch.get("side_key") is not None:
        raise InvalidValue("channel.side_key: only restricted mode takes a side key", "channel.side_key")
    _int(cfg, "channel.security", 1, 3)
    _int(cfg, "channel.depth", 0, 10)
    up = cfg.get("uplink")
    if not isinstance(up, dict):
        raise InvalidValue("uplink: missing", "uplink")
    check_uplink_url(up.get("url"))
    _int(cfg, "uplink.keepalive_s", 1, 65535)
    if cfg.get("pow", {}).get("where") not in ("gateway", "device"):
        raise InvalidValue("pow.where: expected 'gateway' or 'device'", "pow.where")
    _int(cfg, "pow.mwm", 1, 243)
    _int(cfg, "sampling.interval_s", 1)
    _int(cfg, "sampling.batch_max", 1, 64)
    _int(cfg, "sampling.batch_age_s", 0)
    if not isinstance(cfg.get("store", {}).get("path"), str):
        raise InvalidValue("store.path: missing", "store.path")
    seg = _int(cfg, "store.segment_bytes", 64)
    _int(cfg, "store.budget_bytes", 2 * seg)
    if cfg["store"].get("policy") not in POLICIES:
        raise InvalidValue("store.policy: expected one of %s" % ", ".join(POLICIES), "store.policy")
    _int(cfg, "heartbeat_s", 1)
    sensors = cfg.get("sensors")
    if not isinstance(sensors, list) or not sensors:
        raise InvalidValue("sensors: expected a non-empty list", "sensors")
    for i, s in enumerate(sensors):
        if not isinstance(s, dict) or not isinstance(s.get("driver"), str) or not isinstance(s.get("name"), str):
            raise InvalidValue("sensors[%d]: expected {\"driver\", \"name\", \"unit\"}" % i, "sensors")
    return cfg


def load_config(path):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError as e:
        raise InvalidValue("config: cannot read %s (%s)" % (path, e.strerror), "config")
    except ValueError as e:
        raise InvalidValue("config: %s is not valid JSON (%s)" % (path, e.msg), "config")
    return check_config(cfg)


def update_registry(path, device, entry, force=False):
    """Add ``device`` -> ``entry`` ({"root", "mode", "side_key"}) to the gateway's devices.json (created if absent)."""
    registry = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                registry = json.load(f)
        except ValueError as e:
            raise InvalidValue("registry: %s is not valid JSON (%s)" % (path, e.msg), "registry")
        if not isinstance(registry, dict):
            raise InvalidValue("registry: %s must hold a JSON object {device: entry}" % path, "registry")
    if device in registry and registry[device] != entry and not force:
        raise InvalidValue("registry: %s already lists %r with another channel (give --force to replace)"
                           % (path, device), "registry")
    registry[device] = entry
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(registry, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return registry


def mosquitto_password_line(user, password, salt=None, iterations=101):
    """``user:$7$iterations$salt$hash``: mosquitto 2's PBKDF2-SHA512 password-file line (what mosquitto_passwd
    writes), so the line can be appended to the broker's password file."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return "%s:$7$%d$%s$%s" % (user, iterations, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def new_password(nbytes=18):
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode().rstrip("=")


__all__ = ["new_seed", "write_secret", "read_seed", "channel_root", "channel_address", "build_config",
           "check_config", "load_config", "update_registry", "mosquitto_password_line", "parse_sensor"]
