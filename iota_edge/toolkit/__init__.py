"""The device toolkit behind ``iota-edge provision``, ``keys``, ``flash`` and the richer ``inspect`` (CPython only).

    from iota_edge.toolkit.boards import load_board, list_boards
    from iota_edge.toolkit.devconfig import new_seed, build_config, check_config

Each subcommand lives in its own module with an ``add_*_command(subparsers)`` function that iota_edge/cli.py calls.
"""
