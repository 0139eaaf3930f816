"""A circuit breaker with exponential backoff and jitter, for the forwarder's calls to the node.

    breaker = Breaker(threshold=3, base=0.5, cap=30.0)
    if breaker.allow():               # closed, or open whose wait is over (then half_open: one probe)
        try:
            call_the_node()
        except NodeUnreachable:
            breaker.failure()         # waits base * 2**n seconds (times 0.5..1.5) before the next try
        else:
            breaker.success()
    breaker.wait()                    # seconds until allow() may say True again (0 when closed and not waiting)

States: ``closed`` (calls go through; each failure delays the next call by an exponential backoff),
``open`` (``threshold`` consecutive failures: nothing is called until the backoff has passed) and ``half_open``
(the backoff has passed: the caller sends one probe; its success closes the breaker, its failure opens it again
with a doubled wait). No I/O here; the clock and the random source are arguments.
"""
import random
import time

STATES = ("closed", "open", "half_open")


class Breaker:
    """``threshold`` consecutive failures open it; waits grow from ``base`` to ``cap`` seconds, jittered by a factor
    drawn in [0.5, 1.5) so that gateways restarted together do not hammer a node in step."""

    def __init__(self, *, threshold=3, base=0.5, cap=30.0, clock=time.monotonic, rng=None):
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self._clock = clock
        self._rng = rng or random.Random()
        self.state = "closed"
        self.failures = 0  # consecutive
        self.opened = 0  # times opened since the last success (the exponent of the next wait)
        self.opens_total = 0
        self.half_opens_total = 0
        self._until = 0.0

    def _delay(self, n):
        return min(self.cap, self.base * (2 ** min(n, 30))) * (0.5 + self._rng.random())

    def allow(self):
        """True when a call may go now. An open breaker whose wait is over turns half_open and allows the probe."""
        now = self._clock()
        if now < self._until:
            return False
        if self.state == "open":
            self.state = "half_open"
            self.half_opens_total += 1
        return True

    def wait(self):
        """Seconds until ``allow`` may answer True."""
        return max(0.0, self._until - self._clock())

    def success(self):
        self.state = "closed"
        self.failures = 0
        self.opened = 0
        self._until = 0.0

    def failure(self):
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            if self.state != "open":
                self.opens_total += 1
            self.state = "open"
            self._until = self._clock() + self._delay(self.opened + 1)
            self.opened += 1
        else:  # closed: back off a little before the next call, without opening yet
            self._until = self._clock() + self._delay(self.failures - 1)

    def snapshot(self):
        return {"state": self.state, "consecutive_failures": self.failures, "opens": self.opens_total,
                "half_opens": self.half_opens_total, "retry_in": round(self.wait(), 3)}
