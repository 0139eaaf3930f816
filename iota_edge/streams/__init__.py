"""MAM v0 (Masked Authenticated Messaging) streams for the legacy Tangle, compatible with mam.client.js 0.7.3 and
mam.js: publish signed, optionally encrypted message chains from a device and read them back (spec section 9).

    >>> from iota_edge.streams import Channel, FileStore, parse_message, read_channel
    >>> ch = Channel(seed, mode="public", count=4, store=FileStore("mam.json"))
    >>> m = ch.create_message("HELLO9WORLD")        # m.payload goes to m.address (m.bundle() builds the bundle)
    >>> parse_message(m.payload, m.root)             # ('HELLO9WORLD', m.next_root), or InvalidMessage
    >>> read_channel(client, m.root)                  # walk the chain through a node

Modules: mam (primitives), channel (Channel, Message), parser (parse_message), store (FileStore, MemoryStore),
reader (read_channel), reading (sensor-reading payloads in CBOR). On MicroPython the names below are imported on
first use, so a device that only publishes never loads the parser, the reader or the transaction code.
"""
import sys

_WHERE = {
    "MODES": "channel", "Channel": "channel", "Message": "channel", "channel_address": "channel",
    "ParsedMessage": "parser", "parse_message": "parser", "parse_payload": "parser", "parse_payloads": "parser",
    "ReadResult": "reader", "next_root_of": "reader", "read_channel": "reader",
    "FileStore": "store", "MemoryStore": "store",
}

if sys.implementation.name == "micropython":

    _MODULES = ("mam", "channel", "parser", "reader", "store", "reading")

    def __getattr__(name):
        if name in _MODULES:  # ``from iota_edge.streams import mam`` reaches here before the submodule is loaded
            return __import__("iota_edge.streams." + name, None, None, [name])
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(name)
        return getattr(__import__("iota_edge.streams." + module, None, None, [name]), name)

else:
    from iota_edge.streams.channel import MODES, Channel, Message, channel_address
    from iota_edge.streams.parser import ParsedMessage, parse_message, parse_payload, parse_payloads
    from iota_edge.streams.reader import ReadResult, next_root_of, read_channel
    from iota_edge.streams.store import FileStore, MemoryStore
