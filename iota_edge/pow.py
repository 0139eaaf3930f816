"""Proof of work: the nonce search and a local attachToTangle (spec 3.4, 3.5).

    >>> from iota_edge.pow import search_nonce, attach_to_tangle
    >>> nonce = search_nonce(tx_trytes, 14)                        # 27 trytes; tx_trytes[:2646] + nonce has weight >= 14
    >>> attached = attach_to_tangle(bundle_trytes, trunk, branch, 14)   # tail first, like IRI's attachToTangle

The C kernel (bit-sliced Curl-P-81, widest SIMD of the CPU, one disjoint nonce region per thread) does the search
when it is built; otherwise a plain pure-Python search runs, which is only fit for tiny MWM (tests, simulators).
Every nonce is checked by its transaction's Curl-P-81 hash (the kernel's, from the search's mid-state, or
recomputed) before it is returned. Cancel with a ``threading.Event`` or a timeout; both raise PowCancelled.
"""

from iota_edge import _native
from iota_edge.curl import _OFFSET_TRITS, HASH_LENGTH, Curl, curl_hash, trailing_zeros
from iota_edge.errors import InvalidTrytes, InvalidValue, PowCancelled, PowError
from iota_edge.transaction import MAX_TIMESTAMP, SPAN  # MAX_TIMESTAMP: IRI's attachmentTimestampUpperBound
from iota_edge.trinary import check_trytes, int_to_trytes, trytes_to_int

TRANSACTION_TRYTES = 2673
NONCE_OFFSET = 2646
NONCE_TRYTES = 27
MAX_MWM = 243
MAX_THREADS = 64


def _check_mwm(mwm):
    if not isinstance(mwm, int) or isinstance(mwm, bool) or not 0 <= mwm <= MAX_MWM:
        raise InvalidValue("mwm: expected an int in 0..243, got %r" % (mwm,), "mwm")
    return mwm


def usable_cpus():
    """CPUs this thread may run on: its affinity where the OS tells it (taskset, a container's cpuset), else the
    CPU count, else 1 (MicroPython)."""
    import os

    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    count = getattr(os, "cpu_count", None)
    return max(1, (count() if count is not None else 1) or 1)


def _check_threads(threads):
    if threads is None:  # one searcher per CPU this thread may use (more would only take turns on one)
        return min(getattr(_native, "CPU_COUNT", 1), usable_cpus()) if _native.AVAILABLE else 1
    if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= MAX_THREADS:
        raise InvalidValue("threads: expected None or an int in 1..64, got %r" % (threads,), "threads")
    return threads


def _check_timeout(timeout):
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise InvalidValue("timeout: expected None or seconds >= 0, got %r" % (timeout,), "timeout")
    return float(timeout)


def _check_cancel(cancel):
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise InvalidValue("cancel: expected None or an object with is_set() (threading.Event)", "cancel")
    return cancel


def _check_tx(trytes, field="trytes"):
    return check_trytes(trytes, field, length=TRANSACTION_TRYTES)


def _clock():
    import time

    monotonic = getattr(time, "monotonic", None)     # CPython; MicroPython has time.time() only
    return monotonic() if monotonic is not None else time.time()


def _pure_search(trytes, mwm, timeout, cancel):
    """Try nonces 0, 1, 2, ... (as 27-tryte integers) from the mid-state after the first 32 chunks."""
    curl = Curl(81)
    curl.absorb_trytes(trytes, 0, NONCE_OFFSET - 54)  # no 2.6 KB copy: on a device the heap is small and fragmented
    return _pure_nonce(curl, trytes[NONCE_OFFSET - 54 : NONCE_OFFSET], mwm, timeout, cancel)


def _pure_nonce(curl, head, mwm, timeout, cancel):
    """(nonce, hash) for the last chunk ``head`` (54 trytes) + nonce, from ``curl`` after the first 32 chunks; None
    when cancelled or timed out. Nonces 0, 1, 2, ... as 27-tryte integers: the nonce's trits are counted up in
    place in a 243-trit chunk (balanced ternary, lowest trit first, as ``int_to_trytes`` writes them) and the weight
    is read off the state, so a try is two copies and a transform, with no string built. The hash is the rate once
    the chunk is absorbed: no 33 transforms to recompute it."""
    state = curl.state
    mid = bytes(state)
    chunk = bytearray(b"".join([_OFFSET_TRITS[c] for c in check_trytes(head, "trytes", length=54)]) + b"\x01" * 81)
    low = HASH_LENGTH - mwm  # the hash's trits low..242 must all be 0 (offset trit 1)
    deadline = None if timeout is None else _clock() + timeout
    k = 0
    while True:
        if (cancel is not None and cancel.is_set()) or (deadline is not None and _clock() >= deadline):
            return None
        state[:] = mid
        state[:HASH_LENGTH] = chunk
        curl.transform()
        i = HASH_LENGTH - 1
        while i >= low and state[i] == 1:
            i -= 1
        if i < low:
            return int_to_trytes(k, NONCE_TRYTES), curl.rate_trytes(81)
        k += 1
        j = HASH_LENGTH - 81  # the nonce's lowest trit: +1 with carry (offset trits 0, 1, 2 = -1, 0, 1)
        while chunk[j] == 2:
            chunk[j] = 0
            j += 1
        chunk[j] += 1


def _hash_with_nonce(trytes, nonce):
    """Curl-P-81 hash of ``trytes[:2646] + nonce`` (a kernel whose search does not give it)."""
    return curl_hash(trytes[:NONCE_OFFSET] + nonce, 81)


def search_nonce(trytes, mwm, *, threads=None, timeout=None, cancel=None):
    """The 27-tryte nonce that gives ``trytes[:2646] + nonce`` at least ``mwm`` trailing zero trits.

    ``threads``: searchers (default: one per CPU); ``timeout``: seconds; ``cancel``: a ``threading.Event``.
    Raises InvalidTrytes / InvalidValue (naming the argument) before any search starts, PowCancelled when
    cancelled or timed out.
    """
    trytes = _check_tx(trytes)
    return _search(trytes, _check_mwm(mwm), _check_threads(threads), _check_timeout(timeout),
                   _check_cancel(cancel))[0]


def _search(trytes, mwm, threads, timeout, cancel):
    """(nonce, hash of the finished transaction) for checked arguments."""
    h = None
    # the CPython kernel gives the hash too, from the search's mid-state in one transform (not 33 more)
    search_hash = getattr(_native, "search_hash", None) if _native.AVAILABLE else None
    if search_hash is not None:
        nonce, h = search_hash(trytes, mwm, threads, timeout, cancel)
    elif _native.AVAILABLE:
        nonce = _native.search_nonce(trytes, mwm, threads, timeout, cancel)
    else:
        nonce, h = _pure_search(trytes, mwm, timeout, cancel) or (None, None)
    if nonce is None:
        raise PowCancelled("nonce search cancelled or timed out (mwm %d)" % mwm, "cancel")
    if h is None:
        h = _hash_with_nonce(trytes, nonce)
    if trailing_zeros(h) < mwm:
        raise PowError("nonce search returned a nonce below mwm %d (kernel %s)" % (mwm, _native.BACKEND))
    return nonce, h


def attach_to_tangle(trytes_list, trunk, branch, mwm, threads=None, timestamp_ms=None, *, cancel=None,
                     hashes=False):
    """Local attachToTangle with IRI 1.8.6 semantics (spec 3.5); returns the finished trytes, tail first.

    Transactions are processed from the highest ``current_index`` down: the head gets (trunk, branch), every other
    one trunk = hash of the previously finished transaction and branch = ``trunk``. An all-9 ``tag`` takes the
    ``obsolete_tag``; attachment timestamp = ``timestamp_ms`` (default: now), bounds 0 and 3812798742493.
    ``hashes=True`` returns (trytes, their transaction hashes), both tail first: the search computed them already.
    """
    mwm = _check_mwm(mwm)
    threads = _check_threads(threads)
    cancel = _check_cancel(cancel)
    txs, trunk, branch, stamps = _attach_arguments(trytes_list, trunk, branch, timestamp_ms)
    done = []
    done_hashes = []
    previous = None
    for t in txs:
        top = trunk + branch if previous is None else previous + trunk   # chunks 31 and 32
        last = _last_chunk(t, stamps)
        if _native.AVAILABLE:
            nonce, previous = _search("".join((t[:_TRUNK_OFFSET], top, last, _NO_NONCE)), mwm, threads, None, cancel)
        else:
            # On a device the heap is small and fragmented: absorb the first 30 chunks from the caller's string in
            # place and build the one finished string below, not a copy per splice (a 2.6 KB MemoryError at 256 KiB)
            curl = Curl(81)
            curl.absorb_trytes(t, 0, _TRUNK_OFFSET)
            curl.absorb_trytes(top)
            nonce, previous = _found(_pure_nonce(curl, last, mwm, None, cancel), mwm)
            del curl
        done.append("".join((t[:_TRUNK_OFFSET], top, last, nonce)))
        done_hashes.append(previous)
    done.reverse()
    if hashes:
        done_hashes.reverse()
        return done, done_hashes
    return done


def attach_with_nonces(trytes_list, trunk, branch, timestamp_ms, nonces):
    """What ``attach_to_tangle(trytes_list, trunk, branch, mwm, timestamp_ms=timestamp_ms)`` returns when its
    searches found ``nonces`` (27 trytes each, tail first, e.g. from ``message_nonces``): (trytes, hashes), tail
    first. Nothing is searched and no weight is checked: compare ``curl.trailing_zeros`` of each hash with your MWM
    (nonces found for other trytes give hashes of no weight)."""
    txs, trunk, branch, stamps = _attach_arguments(trytes_list, trunk, branch, timestamp_ms)
    if isinstance(nonces, (str, bytes)) or not isinstance(nonces, (list, tuple)) or len(nonces) != len(txs):
        raise InvalidValue("nonces: expected a list of %d nonces, one per transaction" % len(txs), "nonces")
    nonces = [check_trytes(n, "nonces", length=NONCE_TRYTES) for n in nonces]
    done = []
    done_hashes = []
    previous = None
    for k, t in enumerate(txs):
        top = trunk + branch if previous is None else previous + trunk
        finished = "".join((t[:_TRUNK_OFFSET], top, _last_chunk(t, stamps), nonces[len(txs) - 1 - k]))
        previous = curl_hash(finished, 81)
        done.append(finished)
        done_hashes.append(previous)
    done.reverse()
    done_hashes.reverse()
    return done, done_hashes


def message_nonces(address, tag, message_trytes, timestamp, trunk, branch, mwm, timestamp_ms=None, *, cancel=None):
    """The Proof-of-Work of the bundle ``bundle.prepare_transfer`` builds for one zero-value transfer of
    ``message_trytes`` to ``address`` with ``tag`` and bundle ``timestamp``, attached to (trunk, branch) at
    ``timestamp_ms``: (nonces, hashes), tail first. ``attach_with_nonces`` rebuilds the attached bundle from them.

    For a device: without the C kernel its transactions are never built. Each fragment is absorbed from
    ``message_trytes`` in place, so no 2.7 KB string is allocated in a small, fragmented heap, and what the device
    sends is 27 trytes per transaction instead of 2,673.
    """
    from iota_edge.bundle import FRAGMENT_TRYTES, _ETAG, _message_bundle, _message_pieces, _zero_value_essences

    address = check_trytes(address, "address", length=81)
    tag = check_trytes(tag, "tag")
    if len(tag) > 27:
        raise InvalidTrytes("tag: expected at most 27 trytes, got %d" % len(tag), "tag")
    message_trytes = check_trytes(message_trytes, "message_trytes") if message_trytes else ""
    if _native.AVAILABLE:  # the kernel's search wants the whole transaction
        done, found = attach_to_tangle(_message_bundle(address, tag, message_trytes, timestamp), trunk, branch, mwm,
                                       timestamp_ms=timestamp_ms, cancel=cancel, hashes=True)
        return [t[NONCE_OFFSET:] for t in done], found
    trunk = check_trytes(trunk, "trunk", length=81)
    branch = check_trytes(branch, "branch", length=81)
    mwm = _check_mwm(mwm)
    cancel = _check_cancel(cancel)
    stamps = _stamps(timestamp_ms)
    tag += "9" * (27 - len(tag))
    essences, bundle_hash = _zero_value_essences(_message_pieces(address, tag, message_trytes, False), timestamp)
    n = len(essences)
    nonces = [""] * n
    found = [""] * n
    nines = "9" * 81
    previous = None
    for i in range(n - 1, -1, -1):
        curl = Curl(81)
        start = i * FRAGMENT_TRYTES
        end = min(start + FRAGMENT_TRYTES, len(message_trytes))
        whole = start + (max(end - start, 0) // 81) * 81
        curl.absorb_trytes(message_trytes, start, whole)             # the fragment's whole chunks, in place
        chunks = (whole - start) // 81
        if end > whole:                                              # its last part, padded with 9s
            curl.absorb_trytes(message_trytes[whole:end] + nines[: 81 - (end - whole)])
            chunks += 1
        for _ in range(FRAGMENT_TRYTES // 81 - chunks):
            curl.absorb_trytes(nines)
        curl.absorb_trytes(essences[i] + bundle_hash)                # chunks 28 to 30
        curl.absorb_trytes(trunk + branch if previous is None else previous + trunk)
        own_tag = tag if tag != _NO_NONCE else essences[i][_ETAG[0]:_ETAG[1]]
        nonces[i], previous = _found(_pure_nonce(curl, own_tag + stamps, mwm, None, cancel), mwm)
        found[i] = previous
        del curl
    return nonces, found


def _found(result, mwm):
    """_pure_nonce's (nonce, hash), or PowCancelled when it gave up."""
    if result is None:
        raise PowCancelled("nonce search cancelled (mwm %d)" % mwm, "cancel")
    return result


def _stamps(timestamp_ms):
    """The attachment timestamp and its bounds as the 27 trytes after the tag."""
    if timestamp_ms is None:
        import time

        timestamp_ms = int(time.time() * 1000)
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool) or not 0 <= timestamp_ms <= MAX_TIMESTAMP:
        raise InvalidValue("timestamp_ms: expected an int in 0..%d, got %r" % (MAX_TIMESTAMP, timestamp_ms),
                           "timestamp_ms")
    return int_to_trytes(timestamp_ms, 9) + "9" * 9 + int_to_trytes(MAX_TIMESTAMP, 9)


def _attach_arguments(trytes_list, trunk, branch, timestamp_ms):
    """Checked (transactions by current_index highest first, trunk, branch, stamps) for an attachment."""
    from iota_edge.transaction import check_value_trytes

    if isinstance(trytes_list, (str, bytes)) or not isinstance(trytes_list, (list, tuple)) or not trytes_list:
        raise InvalidTrytes("trytes: expected a non-empty list of 2673-tryte strings", "trytes")
    trytes_list = [_check_tx(t) for t in trytes_list]
    trunk = check_trytes(trunk, "trunk", length=81)
    branch = check_trytes(branch, "branch", length=81)
    stamps = _stamps(timestamp_ms)
    for t in trytes_list:
        check_value_trytes(t)  # what decoding would refuse (the alphabet and length were checked above)
    # by current_index, highest first: IRI >= 1.8.6 sorts; stable for equal indices
    txs = sorted(trytes_list, key=lambda t: trytes_to_int(t[_INDEX[0]:_INDEX[1]]), reverse=True)
    return txs, trunk, branch, stamps


def _last_chunk(t, stamps):
    """The last chunk before the nonce: the tag (the obsolete tag when the tag is all 9s), then the stamps. The
    fields attachToTangle writes are spliced into the trytes: re-encoding every field costs more than the hash."""
    tag = t[_TAG[0]:_TAG[1]]
    if tag == _NO_NONCE:
        tag = t[_OBSOLETE_TAG[0]:_OBSOLETE_TAG[1]]
    return tag + stamps


_NO_NONCE = "9" * NONCE_TRYTES  # also an all-9 tag: both are 27 trytes
_TRUNK_OFFSET = SPAN["trunk"][0]  # signature .. bundle stay as they are; trunk, branch, tag, stamps, nonce written
_INDEX, _TAG, _OBSOLETE_TAG = SPAN["current_index"], SPAN["tag"], SPAN["obsolete_tag"]
