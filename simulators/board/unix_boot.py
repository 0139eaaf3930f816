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


from fileflash import FileFlash  # noqa: E402  (beside this script, which MicroPython puts on sys.path)

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
