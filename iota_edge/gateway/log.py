"""Structured logs of the gateway: one JSON object per line (or ``key=value`` text), to stderr by default.

    log = EventLog(level="info", fmt="json")
    log.event("info", "accepted", device="meter-7", seq=42)
    # {"ts": 1700000000.123, "level": "info", "event": "accepted", "device": "meter-7", "seq": 42}

Callers pass only what may be logged: ids, counts, reasons, URLs without credentials. Secrets never reach this
module (config.Secret prints as ``Secret(<from file ...>)`` if one is passed by mistake).
"""
import json
import sys
import threading
import time

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class EventLog:
    """Thread-safe line logger; ``level`` filters, ``fmt`` is ``"json"`` or ``"text"``."""

    def __init__(self, level="info", fmt="json", stream=None, clock=time.time):
        self.threshold = LEVELS[level]
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._lock = threading.Lock()

    def enabled(self, level):
        return LEVELS[level] >= self.threshold

    def event(self, level, event, **fields):
        if LEVELS[level] < self.threshold:
            return
        record = {"ts": round(self._clock(), 3), "level": level, "event": event}
        record.update(fields)
        if self.fmt == "json":
            line = json.dumps(record, default=str, sort_keys=False)
        else:
            line = " ".join("%s=%s" % (k, v) for k, v in record.items())
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
