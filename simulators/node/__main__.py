"""``python -m simulators.node [--host H] [--port P] [--db PATH] [--mwm N] [--snapshot FILE]
[--milestone-interval S]``: run the node (see simulators/node/cli.py)."""

import sys

from simulators.node.cli import main

if __name__ == "__main__":
    sys.exit(main())
