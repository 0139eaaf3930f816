"""The UNIX board's boot, run by the MicroPython unix port (simulators/board starts it):

    micropython -X heapsize=276k simulators/board/unix_boot.py REPO CONFIG FLASH BLOCKS BLOCK_SIZE FS_ROOT \
        MAX_READINGS EXIT_WHEN_IDLE MPY_DIR

What a board's ROM and frozen _boot do, done here: littlefs v2 on a file-backed block device (every block write
is one write(2), so a SIGKILLed process "reboots" with its flash exactly as it was; an erase is 16 writes) mounted
at FS_ROOT, the app on sys.path, then firmware/boot.py and firmware/main.py, unmodified. MAX_READINGS 0 = no
limit. MPY_DIR (may be empty): the frozen modules compiled by mpy-cross, first on sys.path (a board's frozen ones).
"""
import sys
import vfs

repo, config, flash_path, blocks, block_size, fs_root, max_readings, exit_idle, mpy_dir = sys.argv[1:10]
blocks = int(blocks)
block_size = int(block_size)


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


dev = FileFlash(flash_path, blocks, block_size)
if dev.fresh:
    vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), fs_root)
sys.path.insert(0, repo)
sys.path.insert(0, repo + "/firmware")
if mpy_dir:
    sys.path.insert(0, mpy_dir)
g = {"__name__": "boot"}
exec(open(repo + "/firmware/boot.py").read(), g)
import main  # noqa: E402  (firmware/main.py: its __main__ guard leaves the call to us)

main.run(config, [repo + "/boards"], int(max_readings) or None, exit_idle == "1")
