"""A littlefs block device over a host file, for the MicroPython unix port (simulators/board/unix_boot.py and
python -m iota_edge.bench device). Every block write is one write(2), so a killed process leaves the flash exactly as
it was: the next run is a reboot. A new file is filled with 0xFF (erased flash) and ``fresh`` is True."""


class FileFlash:
    """A block device over a host file (littlefs extended interface: offsets inside a block)."""

    def __init__(self, path, blocks, block_size):
        self.blocks = blocks
        self.bs = block_size
        self.ff = b"\xff" * 256      # an erase writes this 256-byte run: no block-sized buffer in the capped heap
        try:
            self.f = open(path, "r+b")
            self.fresh = False
        except OSError:
            self.f = open(path, "w+b")
            ff = b"\xff" * block_size
            for _ in range(blocks):
                self.f.write(ff)
            self.fresh = True

    def readblocks(self, block, buf, off=0):
        self.f.seek(block * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        self.f.seek(block * self.bs + (off or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.bs
        if op == 6:
            self.f.seek(arg * self.bs)
            for _ in range(self.bs // len(self.ff)):
                self.f.write(self.ff)
            return 0
        return 0
