"""A stand-in for esptool, picotool and mpremote in the flash tests (tests/host/test_cli_flash.py).

Installed under those names on PATH; each call appends {"tool", "argv"} to $FAKE_TOOL_LOG. The fake mpremote also
plays the board: ``run SCRIPT`` executes the script with open() and os.mkdir() mapped into $FAKE_BOARD_FS, keeping
globals across the runs of one call as the raw REPL does, and ``reset`` is logged.
"""
import builtins
import json
import os
import sys

tool = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_TOOL_LOG"], "a") as log:
    log.write(json.dumps({"tool": tool, "argv": sys.argv[1:]}) + "\n")
if os.environ.get("FAKE_TOOL_FAIL") == tool:
    sys.stderr.write("A fatal error occurred: Failed to connect to ESP32: No serial data received.\n")
    sys.exit(2)
if tool == "mpremote":
    fs = os.environ["FAKE_BOARD_FS"]

    def local(path):
        return os.path.join(fs, path.lstrip("/"))

    class FakeOs:
        @staticmethod
        def mkdir(path):
            os.mkdir(local(path))

    args = sys.argv[1:]
    assert args[0] == "connect" and os.path.exists(args[1]), "no such port %s" % args[1]
    g = {"open": lambda p, m="r": builtins.open(local(p), m), "__builtins__": builtins}
    i = 2
    while i < len(args):
        if args[i] == "run":
            src = builtins.open(args[i + 1]).read().replace("import os\n", "")
            g["os"] = FakeOs
            exec(src, g)
            i += 2
        elif args[i] == "reset":
            i += 1
        else:
            sys.exit("fake mpremote: unexpected %r" % args[i])
