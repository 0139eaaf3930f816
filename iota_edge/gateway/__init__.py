"""The CPython-only gateway: a durable SQLite outbox between device transports and the node forwarder.

    from iota_edge.gateway.outbox import Outbox
    with Outbox("/var/lib/iota-edge/outbox.db", max_bytes=256 << 20, policy="refuse_new") as box:
        box.put("dev-1", 7, bundle_hash, trytes_list)

Never frozen into firmware; it may import sqlite3, os and time.
"""
