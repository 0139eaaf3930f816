"""Board profiles: one folder per board under ``boards/`` with a ``board.json``; adding a board is adding a folder.

    >>> from iota_edge.toolkit.boards import list_boards, load_board, match_usb
    >>> list_boards()                       # ['ESP32_GENERIC', 'MICROBIT', 'RPI_PICO_W', ...]
    >>> load_board("ESP32_GENERIC")["arch"]
    'xtensawin'

The folder is found from ``IOTA_EDGE_BOARDS``, else ``boards/`` of the source tree this package runs from, else
``./boards``.
"""
import json
import os

from iota_edge.errors import InvalidValue

REQUIRED = ("name", "usb", "firmware", "filesystem")


def boards_dir():
    env = os.environ.get("IOTA_EDGE_BOARDS")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "boards")
    return here if os.path.isdir(here) else os.path.abspath("boards")


def list_boards(directory=None):
    """Names of the folders under the boards directory that hold a board.json, sorted."""
    d = directory or boards_dir()
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isfile(os.path.join(d, n, "board.json")))


def load_board(name, directory=None):
    """The parsed board.json of ``name`` with ``dir`` (its folder) added; InvalidValue(field='board') if unknown."""
    d = directory or boards_dir()
    known = list_boards(d)
    if name not in known:
        raise InvalidValue("board: unknown board %r (known: %s)" % (name, ", ".join(known) or "none in " + d),
                           "board")
    path = os.path.join(d, name, "board.json")
    try:
        with open(path) as f:
            board = json.load(f)
    except ValueError as e:
        raise InvalidValue("board: %s is not valid JSON (%s)" % (path, e), "board")
    for key in REQUIRED:
        if key not in board:
            raise InvalidValue("board: %s lacks %r" % (path, key), "board")
    board["dir"] = os.path.join(d, name)
    return board


def _hex(v):
    return int(v, 16) if isinstance(v, str) else int(v)


def usb_ids(board):
    """[(vid, pid, what, bootloader)] of a board, as ints."""
    return [(_hex(u["vid"]), _hex(u["pid"]), u.get("what", ""), bool(u.get("bootloader"))) for u in board["usb"]]


def match_usb(ports, boards, bootloader=False):
    """[(device, board name, what)] for the serial ``ports`` (pyserial ListPortInfo-like: .device .vid .pid) whose
    USB ids one of ``boards`` lists; bootloader entries only when ``bootloader`` is true."""
    found = []
    for p in ports:
        vid, pid = getattr(p, "vid", None), getattr(p, "pid", None)
        if vid is None or pid is None:
            continue
        for b in boards:
            for v, q, what, boot in usb_ids(b):
                if (v, q) == (vid, pid) and boot == bootloader:
                    found.append((p.device, b["name"], what))
    return found
