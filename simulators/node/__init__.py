"""A validating legacy IOTA node for tests and private tangles: IRI 1.8.6 HTTP API, SQLite, built-in coordinator.

    from simulators.node import Node
    with Node(db="node.db", mwm=9, snapshot={"ADDRESS...": 1000}, milestone_interval=0.5, port=0) as node:
        print(node.url)                      # http://127.0.0.1:<ephemeral port>

From the shell: ``python -m simulators.node --port 14265 --db node.db --snapshot snapshot.json``.
See simulators/node/README.md for what it checks and what it does not do.
"""

from simulators.node.server import Node

__all__ = ["Node"]
