# boot.py: runs before main.py on every reset. Tiny on purpose: it imports nothing of the app and starts nothing,
# so no bug in the app can keep the REPL from coming up. main.py skips the app in safe mode: a file /safemode, or
# the board's safe-mode pin (board.json "pins.safe_mode", e.g. the BOOT button) held low at reset.
import gc

gc.collect()
