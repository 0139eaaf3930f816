"""Channel state stores: ``save(state_dict)`` and ``load() -> dict or None``. Portable (CPython and MicroPython).

    >>> from iota_edge.streams import Channel, FileStore
    >>> store = FileStore("/mam_state.json")
    >>> state = store.load()
    >>> ch = Channel.from_state(state, store=store) if state else Channel(seed, count=4, store=store)

FileStore writes atomically: the JSON goes to ``PATH.tmp``, is flushed (and fsync'ed where the port has it), then
renamed over ``PATH``. After a power cut ``PATH`` holds either the previous state or the new one, never a mix;
littlefs (the MicroPython default on ESP32 and RP2040) renames atomically. FAT does not replace an existing file, so
MicroPython's FAT driver removes ``PATH`` first: a cut in that window leaves only the complete ``PATH.tmp``, which
``load`` then takes. A ``PATH`` that exists but does not parse raises instead of starting the channel afresh (that
would sign with leaves already used).
"""
import json

from iota_edge.errors import InvalidValue

_CORRUPT = object()


class MemoryStore:
    """Keeps the last saved state in memory (a JSON copy, so later changes to the dict do not leak in). For tests."""

    def __init__(self, state=None):
        self.data = None if state is None else json.dumps(state)
        self.saves = 0

    def save(self, state):
        self.data = json.dumps(state)
        self.saves += 1

    def load(self):
        return None if self.data is None else json.loads(self.data)


class FileStore:
    """Atomic JSON file store (write ``PATH.tmp``, flush, fsync, rename over ``PATH``). The three file operations
    (``_write``, ``_rename``, ``_read``) are methods so that tests can cut the power between any two of them."""

    def __init__(self, path):
        self.path = path
        self.tmp = path + ".tmp"

    def save(self, state):
        self._write(self.tmp, state)
        self._rename(self.tmp, self.path)

    def load(self) -> "dict | None":
        state = self._read(self.path)
        if state is _CORRUPT:
            raise InvalidValue("%s: channel state does not parse; refusing to start over" % self.path, "state")
        if state is not None:
            return state
        state = self._read(self.tmp)  # only the temp file: a FAT rename cut between remove and rename
        if state is _CORRUPT:
            return None  # a first save cut short: nothing was signed with it
        return state

    def _write(self, path, state):
        import os

        with open(path, "w") as f:
            json.dump(state, f)  # streamed: no file-sized string on a device's heap
            f.flush()
            if hasattr(os, "fsync"):
                os.fsync(f.fileno())

    def _rename(self, src, dst):
        import os

        if hasattr(os, "replace"):
            os.replace(src, dst)  # CPython: atomic on POSIX, replaces on Windows too
        else:
            os.rename(src, dst)  # MicroPython
        o_rdonly = getattr(os, "O_RDONLY", None)  # POSIX CPython; MicroPython's os has no O_* flags
        if hasattr(os, "fsync") and o_rdonly is not None:  # make the rename itself durable (POSIX)
            d = dst.rsplit("/", 1)[0] if "/" in dst else "."
            try:
                fd = os.open(d, o_rdonly)
            except OSError:
                return
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _read(self, path):
        """The parsed state, None when the file is missing, _CORRUPT when it does not parse."""
        try:
            f = open(path)
        except OSError:
            return None
        try:
            return json.load(f)
        except ValueError:
            return _CORRUPT
        finally:
            f.close()
