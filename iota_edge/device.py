"""A device's MAM channel as its configuration describes it, and the channel's first root for a gateway registry.

    >>> from iota_edge.device import device_root, registry_entry
    >>> device_root("config.json")             # the root of the device's first tree (81 trytes)
    >>> registry_entry(json.load(open("config.json")), base_dir=".")   # {"root", "mode", "side_key"}

The firmware (firmware/app/pipeline.py) and the gateway's provisioning both build the channel with
``make_channel``, so they agree on the tree: keys ``0 .. 2**depth - 1`` of the seed form the first tree
(start 0, count = next_count = 2**depth). Portable: CPython and MicroPython. The seed is never printed or put in
an error message.
"""

from iota_edge.errors import InvalidValue
from iota_edge.streams.channel import Channel, MODES

GENESIS = "9" * 81          # trunk and branch of a bundle a device attaches itself (it cannot ask a node for tips)
MAX_DEPTH = 8


def channel_settings(channel):
    """(mode, side_key, security, count) from a config's ``channel`` map; InvalidValue names the key."""
    if channel is None:
        channel = {}
    if not isinstance(channel, dict):
        raise InvalidValue("channel: expected a map", "channel")
    mode = channel.get("mode", "public")
    if mode not in MODES:
        raise InvalidValue("channel.mode: expected one of public, private, restricted", "channel.mode")
    security = channel.get("security", 1)
    if security not in (1, 2, 3) or isinstance(security, bool):
        raise InvalidValue("channel.security: expected 1, 2 or 3", "channel.security")
    depth = channel.get("depth", 4)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidValue("channel.depth: expected an int in 1..%d (2**depth leaves)" % MAX_DEPTH, "channel.depth")
    return mode, channel.get("side_key"), security, 1 << depth


def make_channel(seed, channel, store=None):
    """The device's channel at its first tree (state restored by Channel.from_state instead after the first use)."""
    mode, side_key, security, count = channel_settings(channel)
    return Channel(seed, mode, side_key, security, 0, count, count, 0, store=store)


def _read_seed(config, base_dir):
    seed = config.get("seed")
    path = config.get("seed_file")
    if (seed is None) == (path is None):
        raise InvalidValue("seed, seed_file: expected exactly one of them", "seed")
    if seed is None:
        if not isinstance(path, str) or not path:
            raise InvalidValue("seed_file: expected a path", "seed_file")
        if base_dir and not path.startswith("/"):
            path = base_dir.rstrip("/") + "/" + path
        try:
            with open(path) as f:
                seed = f.read().strip()
        except OSError:
            raise InvalidValue("seed_file: cannot read %r" % path, "seed_file")
    return seed


def registry_entry(config, base_dir=None):
    """{"root", "mode", "side_key"} of a device config (a dict, or the path of its JSON file): what a gateway's
    Registry needs. ``base_dir`` resolves a relative ``seed_file`` (default: the config file's folder)."""
    if isinstance(config, str):
        import json

        if base_dir is None:
            base_dir = config.rsplit("/", 1)[0] if "/" in config else "."
        with open(config) as f:
            config = json.load(f)
    if not isinstance(config, dict):
        raise InvalidValue("config: expected a map", "config")
    ch = make_channel(_read_seed(config, base_dir), config.get("channel"))
    return {"root": ch.root, "mode": ch.mode, "side_key": ch.side_key}


def device_root(config, base_dir=None):
    """The root of the device's first channel tree (81 trytes): the id a gateway registers for the device."""
    return registry_entry(config, base_dir)["root"]
