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


def firmware_dir():
    """The device firmware's folder (``firmware/``, holding ``app/config.py``): ``IOTA_EDGE_FIRMWARE``, else the source
    tree this package runs from, else ``./firmware`` (found the way toolkit.boards finds ``boards/``)."""
    env = os.environ.get("IOTA_EDGE_FIRMWARE")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "firmware")
    return here if os.path.isdir(here) else os.path.abspath("firmware")


def _firmware_config():
    """The firmware's own validator, ``app.config`` (it runs on CPython too): one source of truth for the contract.

    Imported from firmware_dir() under its device name ``app``; an ``app`` package from elsewhere is refused rather
    than used."""
    import sys

    fw = firmware_dir()
    mod = sys.modules.get("app.config")
    if mod is None:
        if not os.path.isfile(os.path.join(fw, "app", "config.py")):
            raise InvalidValue("config: the firmware's validator %s is missing (set IOTA_EDGE_FIRMWARE to the "
                               "firmware/ folder)" % os.path.join(fw, "app", "config.py"), "config")
        sys.path.insert(0, fw)
        try:
            import app.config as mod
            import app.pipeline  # noqa: F401  (config validation computes the record bound with it)
        finally:
            sys.path.remove(fw)
    origin = os.path.realpath(getattr(mod, "__file__", ""))
    if origin != os.path.realpath(os.path.join(fw, "app", "config.py")):
        raise InvalidValue("config: a module 'app.config' from %s is loaded, not the firmware's (%s)" % (origin, fw),
                           "config")
    return mod


def check_uplink_url(url):
    """mqtt://user:pass@host:port, mqtts://..., serial:///dev/ttyX?baud=N or serial://uartN (the firmware's parser);
    never echoes a password."""
    fw = _firmware_config()
    try:
        fw.parse_url(url)
    except fw.ConfigError as e:
        raise InvalidValue(str(e), e.field)
    return url


def check_config(cfg, base_dir=None):
    """Validate a device config with the firmware's own validator (firmware/app/config.py: the board profile's
    defaults merged from the repository's ``boards/``, unknown keys refused, the store segment bound); returns
    ``cfg`` unchanged. A ``seed_file`` is read relative to ``base_dir`` (the config's folder). Errors are
    InvalidValue naming the field, never its secret value."""
    from iota_edge.toolkit.boards import boards_dir

    fw = _firmware_config()
    try:
        fw.from_dict(cfg, (boards_dir(),), base_dir or "")
    except fw.ConfigError as e:
        raise InvalidValue(str(e), e.field)
    return cfg


def load_config(path):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError as e:
        raise InvalidValue("config: cannot read %s (%s)" % (path, e.strerror), "config")
    except ValueError as e:
        raise InvalidValue("config: %s is not valid JSON (%s)" % (path, e.msg), "config")
    return check_config(cfg, os.path.dirname(os.path.abspath(path)))


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
