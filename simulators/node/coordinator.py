"""The built-in coordinator: a milestone every ``interval`` seconds while something is unconfirmed.

    coo = Coordinator(tangle, interval=0.5, pow=None)
    coo.issue()            # one milestone now (tests); None when nothing waits for confirmation
    coo.start(); ...; coo.stop()

A milestone is a one-transaction, zero-value bundle from COORDINATOR_ADDRESS whose tag holds its index. Its trunk and
branch are the two oldest unconfirmed tips (or one tip and the previous milestone); the tangle confirms everything it
approves. ``issue`` repeats until no unconfirmed tip is left, so one tick confirms all that was attached before it.
Milestones get Proof-of-Work when a ``pow`` function (trytes, mwm) -> trytes is given. They carry no signature: this
node trusts its own coordinator and no other (no Merkle-signed milestones, spec: not needed without gossip).
"""

import threading
import time

from iota_edge.bundle import finalize
from iota_edge.transaction import MAX_TIMESTAMP, Transaction
from iota_edge.trinary import int_to_trytes

from simulators.node.validation import NULL_HASH

COORDINATOR_ADDRESS = "IOTAEDGE9NODE9COORDINATOR".ljust(81, "9")
MAX_PER_TICK = 64


def build_milestone(index, trunk, branch, now_ms):
    """Unattached-by-PoW trytes of milestone ``index`` approving (trunk, branch)."""
    tag = int_to_trytes(index, 27, "index")
    tx = Transaction(address=COORDINATOR_ADDRESS, value=0, obsolete_tag=tag, tag=tag, timestamp=now_ms // 1000,
                     trunk=trunk, branch=branch, attachment_timestamp=now_ms,
                     attachment_timestamp_upper_bound=MAX_TIMESTAMP)
    finalize([tx])
    return tx.to_trytes()


class Coordinator:
    """Issues milestones for one Tangle; ``clock`` returns seconds (time.time)."""

    def __init__(self, tangle, interval, pow=None, mwm=9, clock=time.time):
        self.tangle = tangle
        self.interval = interval
        self.pow = pow
        self.mwm = mwm
        self.clock = clock
        self._issue_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def genesis(self):
        """Milestone 1 on an empty database, so tip selection always has something to approve."""
        if self.tangle.latest_milestone()[0] == 0:
            self._issue_one(NULL_HASH, NULL_HASH)

    def _issue_one(self, trunk, branch):
        index = self.tangle.latest_milestone()[0] + 1
        trytes = build_milestone(index, trunk, branch, int(self.clock() * 1000))
        if self.pow is not None:
            trytes = self.pow(trytes, self.mwm)
        self.tangle.add_milestone(trytes, index)
        return index

    def issue(self):
        """Milestones until every tip is confirmed (at most MAX_PER_TICK); the last index, or None if none."""
        with self._issue_lock:
            index = None
            for _ in range(MAX_PER_TICK):
                with self.tangle.lock:
                    tips = self.tangle.store.unconfirmed_tips()
                    latest = self.tangle.store.latest_milestone()[1]
                if not tips:
                    break
                index = self._issue_one(tips[0], tips[1] if len(tips) > 1 else latest)
            return index

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.issue()
            except Exception as e:  # keep the coordinator alive; the next tick retries
                print("coordinator: milestone failed: %s" % e)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="coordinator", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
