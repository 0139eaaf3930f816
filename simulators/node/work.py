"""Proof-of-Work for the node, through iota_edge.pow: attachToTangle and the coordinator's milestones.

    attach = attach_function()          # None when iota_edge.pow is missing (attachToTangle is then refused)
    attach(trytes, trunk, branch, mwm, cancel_event) -> finished trytes, tail first ([] when interrupted)
"""

import inspect
import threading

from iota_edge.errors import PowCancelled


def _pow_module():
    try:
        from iota_edge import pow as pow_module
    except ImportError:
        return None
    return pow_module


def attach_function(threads=None):
    """attachToTangle's PoW (IRI 1.8.6 semantics live in iota_edge.pow.attach_to_tangle), or None."""
    module = _pow_module()
    if module is None:
        return None
    takes_cancel = "cancel" in inspect.signature(module.attach_to_tangle).parameters

    def attach(trytes, trunk, branch, mwm, cancel):
        kwargs = {"threads": threads}
        if takes_cancel:
            kwargs["cancel"] = cancel
        try:
            done = module.attach_to_tangle(list(trytes), trunk, branch, mwm, **kwargs)
        except PowCancelled:
            return []  # IRI answers an interrupted attachToTangle with an empty list
        return [] if cancel.is_set() else list(done)

    return attach


def nonce_function(threads=None):
    """(trytes, mwm) -> trytes with a nonce meeting mwm, for milestones; None without the C kernel (a pure-Python
    search at MWM 9 takes many seconds, and the node trusts its own milestones anyway)."""
    module = _pow_module()
    from iota_edge import _native

    if module is None or not _native.AVAILABLE:
        return None

    def search(trytes, mwm):
        found = module.search_nonce(trytes, mwm, threads=threads, cancel=threading.Event())
        if isinstance(found, str) and len(found) == 27:
            return trytes[:2646] + found
        return found

    return search
