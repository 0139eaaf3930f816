# The MICROBIT test board's app: read the provisioned config and record the boot (boot.txt: "<count> <config bytes>").
# micro:bit MicroPython 1.0.1 has no json and no directories, so this only proves the flash path end to end.
try:
    n = int(open("boot.txt").read().split()[0]) + 1
except (OSError, ValueError, IndexError):
    n = 1
try:
    size = len(open("config.json").read())
except OSError:
    size = 0
f = open("boot.txt", "w")
f.write("%d %d" % (n, size))
f.close()
