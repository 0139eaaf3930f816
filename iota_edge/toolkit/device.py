"""``iota-edge device``: run a board profile's firmware, unmodified, as a process on the MicroPython unix port.

The flash is a file (littlefs on a file-backed block device, created on first use), so stopping the process is a
power cut and running the command again with the same ``--flash`` is a reboot with everything stored still there.
Each event of the firmware (produced, stored, sent, acked, freed, stats, ...) is printed as one JSON line, or as a
short text line without ``--json``.
"""
import argparse
import json
import os

from iota_edge.cli import CliError


def cmd_device(args):
    from simulators.board import board_profile, events, start_board

    if not os.path.isfile(args.config):
        raise CliError("--config: no such file %s" % args.config)
    try:
        profile = board_profile(args.board)
    except OSError:
        raise CliError("--board: no board profile boards/%s/board.json" % args.board)
    if not profile.get("fs_root"):
        raise CliError("--board: %s is a hardware board; use `iota-edge flash` for it (the unix port runs UNIX)"
                       % args.board)
    if args.readings is not None and args.readings < 1:
        raise CliError("--readings: expected at least 1, got %d" % args.readings)
    base = args.config[:-len(".config.json")] if args.config.endswith(".config.json") else \
        os.path.splitext(args.config)[0]
    flash = args.flash or base + ".flash"
    try:
        proc = start_board(args.config, board=args.board, heap=args.heap, flash=flash, readings=args.readings,
                           exit_when_idle=args.exit_when_idle, stderr=None)
    except (FileNotFoundError, ValueError) as e:
        raise CliError(str(e))
    try:
        for ev in events(proc):
            if args.json:
                print(json.dumps(ev, sort_keys=True), flush=True)
            else:
                kind = ev.pop("event", "?")
                print("%-8s %s" % (kind, " ".join("%s=%s" % (k, ev[k]) for k in sorted(ev) if k != "values")),
                      flush=True)
    except KeyboardInterrupt:
        proc.kill()
    return proc.wait()


def add_device_command(sub):
    p = sub.add_parser("device", help="run a board profile on the MicroPython unix port",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__.split("\n\n")[0],
                       epilog="example:\n  iota-edge provision meter-7 --board UNIX --uplink mqtt://127.0.0.1:1883\n"
                              "  iota-edge device --config meter-7.config.json --readings 20 --exit-when-idle")
    p.add_argument("--config", required=True, help="the device config (from iota-edge provision)")
    p.add_argument("--board", default="UNIX", help="board profile under boards/ (default UNIX)")
    p.add_argument("--flash", help="flash image file (default: meter-7.flash beside meter-7.config.json)")
    p.add_argument("--heap", help="-X heapsize for MicroPython (default: the board profile's)")
    p.add_argument("--readings", type=int, help="stop sampling after this many readings")
    p.add_argument("--exit-when-idle", action="store_true", help="exit once every reading is acknowledged")
    p.add_argument("--json", action="store_true", help="print each event as one JSON line")
    p.set_defaults(func=cmd_device)
    return p
