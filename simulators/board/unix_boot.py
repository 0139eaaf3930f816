"""The UNIX board's boot, run by the MicroPython unix port (simulators/board starts it):

    micropython -X heapsize=256k simulators/board/unix_boot.py REPO CONFIG FLASH BLOCKS BLOCK_SIZE FS_ROOT \
        MAX_READINGS EXIT_WHEN_IDLE

What a board's ROM and frozen _boot do, done here: littlefs v2 on a file-backed block device (every block write
is one write(2), so a SIGKILLed process "reboots" with its flash exactly as it was) mounted at FS_ROOT, the app on
sys.path, then firmware/boot.py and firmware/main.py, unmodified. MAX_READINGS 0 = no limit.
"""
import sys
import vfs

repo, config, flash_path, blocks, block_size, fs_root, max_readings, exit_idle = sys.argv[1:9]
blocks = int(blocks)
block_size = int(block_size)


class FileFlash:
    """A block device over a host file (littlefs extended interface: offsets inside a block)."""

    def __init__(self, path, blocks, block_size):
        self.blocks = blocks
        self.bs = block_size
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
            self.f.write(b"\xff" * self.bs)
            return 0
        return 0


dev = FileFlash(flash_path, blocks, block_size)
if dev.fresh:
    vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), fs_root)
sys.path.insert(0, repo)
sys.path.insert(0, repo + "/firmware")
g = {"__name__": "boot"}
exec(open(repo + "/firmware/boot.py").read(), g)
import main  # noqa: E402  (firmware/main.py: its __main__ guard leaves the call to us)

main.run(config, [repo + "/boards"], int(max_readings) or None, exit_idle == "1")
