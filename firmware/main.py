"""Device entry point: config -> sensors -> pipeline (store, device state, MAM channel) -> uplink, then the loop.

On a board main.py runs as __main__ after boot.py and calls ``run()``: ``/config.json``, boards under ``/boards``.
The unix-port board simulator (simulators/board) imports this module and calls ``run`` with its paths.
Safe mode (skip the app, stay at the REPL): a file ``<fs_root>/safemode``, or the board's ``pins.safe_mode`` pin
held low. Ctrl-C stops the loop and returns to the REPL; an exception prints and returns there too (no reset loop).
Events (``board.json`` "events": true): one JSON object per line on stdout, ``{"event": "produced" | "stored" |
"sent" | "acked" | "freed" | "stats" | "boot" | "refused" | "error" | "idle", ...}``.
"""
import json


def emitter(enabled=True):
    """``emit(kind, **fields)`` printing one JSON line per event (nothing when disabled)."""
    if not enabled:
        return lambda kind, **kw: None

    def emit(kind, **kw):
        kw["event"] = kind
        print(json.dumps(kw))
    return emit


def safe_mode(cfg):
    import os

    try:
        os.stat(cfg.board_profile.get("fs_root", "") + "/safemode")
        return True
    except OSError:
        pass
    pin = cfg.board_profile.get("pins", {}).get("safe_mode")
    if pin is None:
        return False
    try:
        import machine

        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
    except (ImportError, AttributeError, ValueError, OSError):
        return False


def run(config_path="/config.json", board_dirs=None, max_readings=None, exit_when_idle=False, emit=None,
        sensors=None):
    """Load, wire and loop. ``max_readings`` stops sampling after that many readings; ``exit_when_idle`` returns
    once they are all acknowledged (simulator and tests)."""
    from app.config import load, BOARD_DIRS

    cfg = load(config_path, board_dirs or BOARD_DIRS)
    events = emit or emitter(cfg.board_profile.get("events", False))
    if safe_mode(cfg):
        events("safe_mode")
        print("main: safe mode, the app is not started")
        return None
    if sensors is None:
        from app.sensors import from_config

        sensors = from_config(cfg)
    from app.pipeline import Pipeline, max_record_bytes
    from app.uplink import open_uplink

    pipe = Pipeline(cfg, sensors, None, events, max_readings=max_readings)
    up = open_uplink(cfg, pipe.on_ack, tx_size=max_record_bytes(cfg) + 64)
    pipe.uplink = up
    import gc

    try:
        while True:
            wait = pipe.step()
            if exit_when_idle and pipe.idle():
                pipe.heartbeat()
                for _ in range(5):
                    up.poll(20)        # let the last heartbeat out
                events("idle", produced=pipe.produced)
                break
            gc.collect() if pipe.sealed and pipe.sealed % 8 == 0 and not pipe.samples else None
            up.poll(wait if wait < 20 else 20)
    finally:
        up.close()
    return pipe


if __name__ == "__main__":
    run()
